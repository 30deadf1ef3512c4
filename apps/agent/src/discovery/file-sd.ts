import { readFile, readdir } from 'node:fs/promises';
import { watch, type FSWatcher } from 'node:fs';
import path from 'node:path';
import { compileRe2, type FileSdConfig } from '@fleet/pipeline';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { Discoverer, TargetGroup } from './discovery.js';

const fileSchema = z.array(
  z
    .object({
      targets: z.array(z.string()).default([]),
      labels: z.record(z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'not a valid label name'), z.string()).nullish(),
    })
    .strict(),
);

const hex = (ch: string): string => `\\x{${ch.codePointAt(0)!.toString(16)}}`;

/**
 * Go's `filepath.Match` pattern (`*`, `?`, `[a-z]`, `[^…]`, `\\` escapes) as an RE2 regex for
 * {@link compileRe2}, so that matching file names is linear whatever the pattern (a backtracking
 * `[^/]*a[^/]*a…` is polynomial in the name's length per `*`). Undefined for a malformed pattern
 * (Go's `ErrBadPattern`: Prometheus then matches no file).
 */
export function globToRe2(glob: string): string | undefined {
  const chars = [...glob];
  let out = '';
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '\\') {
      if (++i >= chars.length) return undefined;
      out += hex(chars[i]!);
    } else if (c === '[') {
      let cls = '';
      i++;
      if (chars[i] === '^') {
        cls += '^';
        i++;
      }
      let ranges = 0;
      for (;;) {
        if (i >= chars.length) return undefined;
        if (chars[i] === ']' && ranges > 0) break;
        const one = (): string | undefined => {
          let ch = chars[i];
          if (ch === undefined || ch === '-' || ch === ']') return undefined;
          if (ch === '\\') ch = chars[++i];
          if (ch === undefined) return undefined;
          i++;
          return ch;
        };
        const lo = one();
        if (lo === undefined) return undefined;
        let hi = lo;
        if (chars[i] === '-') {
          i++;
          const h = one();
          if (h === undefined || h.codePointAt(0)! < lo.codePointAt(0)!) return undefined;
          hi = h;
        }
        cls += lo === hi ? hex(lo) : `${hex(lo)}-${hex(hi)}`;
        ranges++;
      }
      out += `[${cls}]`;
    } else out += hex(c);
  }
  return out;
}

/** Expands a `files` pattern (`*`, `?` and `[…]` in the last path element, as Prometheus allows). */
async function expand(pattern: string): Promise<string[]> {
  const dir = path.dirname(pattern);
  const base = path.basename(pattern);
  if (!/[*?[]/.test(base)) return [pattern];
  const source = globToRe2(base);
  if (source === undefined) return [];
  const re = compileRe2(source);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => re.test(n)).sort().map((n) => path.join(dir, n));
}

/**
 * `file_sd_configs`: reads JSON or YAML target files (`[{targets: [...], labels: {...}}]`), re-reads
 * them when they change (filesystem watch on their directories) and every `refresh_interval`.
 * Each target gets `__meta_filepath`. A file that fails to parse keeps its previous targets.
 */
export class FileDiscoverer implements Discoverer {
  private timer: NodeJS.Timeout | null = null;
  private watchers: FSWatcher[] = [];
  private readonly lastGood = new Map<string, TargetGroup[]>();
  private stopped = false;
  private debounce: NodeJS.Timeout | null = null;

  constructor(private readonly config: FileSdConfig) {}

  start(onUpdate: (groups: TargetGroup[]) => void, onError: (message: string) => void): void {
    const refresh = async () => {
      if (this.stopped) return;
      const files = (await Promise.all(this.config.files.map(expand))).flat();
      const seen = new Set(files);
      // Errors are reported after the update of this round (an update clears the job's last error).
      const errors: string[] = [];
      const onErrorLater = (message: string) => errors.push(message);
      for (const f of files) {
        try {
          const text = await readFile(f, 'utf8');
          const raw: unknown = f.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
          const parsed = fileSchema.safeParse(raw ?? []);
          if (!parsed.success) {
            const issue = parsed.error.issues[0]!;
            throw new Error(`${issue.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}: ${issue.message}`);
          }
          this.lastGood.set(
            f,
            parsed.data.map((g, i) => ({ source: `${f}:${i}`, targets: g.targets, labels: { ...(g.labels ?? {}), __meta_filepath: f } })),
          );
        } catch (err) {
          onErrorLater(`file_sd ${f}: ${(err as { code?: string }).code === 'ENOENT' ? 'file not found' : (err as Error).message}`);
        }
      }
      for (const f of [...this.lastGood.keys()]) if (!seen.has(f)) this.lastGood.delete(f);
      if (this.stopped) return;
      onUpdate([...this.lastGood.values()].flat());
      for (const message of errors) onError(message);
    };
    const schedule = () => {
      if (this.debounce) clearTimeout(this.debounce);
      this.debounce = setTimeout(() => void refresh(), 100);
    };
    for (const dir of new Set(this.config.files.map((f) => path.dirname(f)))) {
      try {
        const w = watch(dir, schedule);
        w.on('error', () => undefined);
        this.watchers.push(w);
      } catch {
        // Directory missing: the periodic refresh still picks files up once it exists.
      }
    }
    this.timer = setInterval(() => void refresh(), this.config.refreshIntervalMs);
    void refresh();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    for (const w of this.watchers) w.close();
    this.watchers = [];
  }
}

/**
 * YAML ↔ JSON for the pipeline editor. Operators write YAML; the API keeps their text as written
 * and stores the parsed document beside it. `toYaml` renders versions saved before the text was kept.
 */
import { isCollection, LineCounter, parseDocument, stringify, type Node } from 'yaml';

/** A YAML syntax problem at a 1-based line and column. */
export interface YamlProblem {
  line: number;
  col: number;
  message: string;
}

export type ParsedYaml =
  | { ok: true; value: Record<string, unknown>; lineOf(path: string): number | null }
  | { ok: false; problems: YamlProblem[] };

/** `remote_write[1].sigv4.region` → `['remote_write', 1, 'sigv4', 'region']`. */
export function splitPath(path: string): Array<string | number> {
  const out: Array<string | number> = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  for (const m of path.matchAll(re)) {
    if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[3] !== undefined) out.push(JSON.parse(`"${m[3]}"`) as string);
    else if (m[1] !== undefined) out.push(/^\d+$/.test(m[1]) ? Number(m[1]) : m[1]);
  }
  return out;
}

/** Parses the editor's text into a document (a mapping), or says where the YAML is wrong. */
export function parseYaml(text: string): ParsedYaml {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    return {
      ok: false,
      problems: doc.errors.map((e) => {
        const pos = e.linePos?.[0] ?? lineCounter.linePos(e.pos[0]);
        return { line: pos.line || 1, col: pos.col || 1, message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '') };
      }),
    };
  }
  const value: unknown = doc.toJS({ maxAliasCount: 100 }) ?? {};
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { ok: false, problems: [{ line: 1, col: 1, message: 'the document must be a mapping with scrape_configs and remote_write' }] };
  }
  return {
    ok: true,
    value: value as Record<string, unknown>,
    lineOf(path: string): number | null {
      // The deepest node the path reaches: a missing key points at its parent.
      const parts = splitPath(path);
      for (let n = parts.length; n >= (parts.length ? 1 : 0); n--) {
        const node = (n === 0 ? doc.contents : doc.getIn(parts.slice(0, n), true)) as Node | null | undefined;
        if (node && typeof node === 'object' && 'range' in node && node.range) {
          // For a collection, point at its key (the line above its first item) when there is one.
          const offset = isCollection(node) && n > 0 ? keyOffset(doc.contents, parts.slice(0, n)) ?? node.range[0] : node.range[0];
          return lineCounter.linePos(offset).line || 1;
        }
      }
      return null;
    },
  };
}

function keyOffset(root: unknown, parts: Array<string | number>): number | undefined {
  let node = root as { items?: Array<{ key?: { range?: [number, number, number] }; value?: unknown }> } | undefined;
  let keyAt: number | undefined;
  for (const part of parts) {
    if (!node?.items) return keyAt;
    if (typeof part === 'number') {
      const item = node.items[part] as unknown;
      keyAt = undefined;
      node = item as typeof node;
      continue;
    }
    const pair = node.items.find((p) => (p.key as { value?: unknown } | undefined)?.value === part);
    if (!pair) return keyAt;
    keyAt = pair.key?.range?.[0];
    node = pair.value as typeof node;
  }
  return keyAt;
}

// The database returns JSON keys in its own order; show them in the order people write Prometheus configs.
const TOP_ORDER = ['global', 'scrape_configs', 'remote_write'];
const FIRST_KEYS = ['job_name', 'name', 'url', 'aws_account'];

function ordered(value: unknown, top = false): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v));
  if (!value || typeof value !== 'object') return value;
  const keys = Object.keys(value);
  const first = top ? TOP_ORDER : FIRST_KEYS;
  const rank = (k: string) => (first.includes(k) ? first.indexOf(k) : first.length);
  const sorted = keys.map((k, i) => [k, i] as const).sort((a, b) => rank(a[0]) - rank(b[0]) || a[1] - b[1]);
  return Object.fromEntries(sorted.map(([k]) => [k, ordered((value as Record<string, unknown>)[k])]));
}

/** A stored document as YAML for the editor (Prometheus' usual key order). */
export function toYaml(document: unknown): string {
  if (document === null || document === undefined) return '';
  return stringify(ordered(document, true), { lineWidth: 0, flowCollectionPadding: true });
}

/** JSON with sorted keys, to compare documents regardless of key order. */
export function canonicalJson(value: unknown): string {
  const canon = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(canon);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.keys(v)
          .sort()
          .map((k) => [k, canon((v as Record<string, unknown>)[k])]),
      );
    }
    return v;
  };
  return JSON.stringify(canon(value));
}

import { isAlias, isMap, isPair, isScalar, isSeq, parseDocument, type Document, type Node } from 'yaml';
import type { ConfigIssue } from './model.js';

/** Plain scalars Go's YAML decoder (yaml.v2) reads as null. */
const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
/** Nodes visited per document at most (aliases multiply them: "billion laughs"). */
const MAX_NODES = 1_000_000;

/**
 * Reads YAML the way Prometheus's Go decoder does, leaving the typing to the schema: every scalar
 * arrives as its source text (so `username: 11111` is the string "11111" and a label value `1` is
 * "1", not a number that lost its spelling), plain `~`/`null`/empty scalars as null, anchors and
 * aliases resolved, YAML 1.1 merge keys (`<<: *defaults`) merged, duplicate keys refused. Fields
 * that are numbers or booleans convert the text themselves (YAML 1.1 booleans: yes/no/on/off).
 */
export function parseGoYaml(text: string): { value: unknown; issues: ConfigIssue[] } {
  const doc = parseDocument(text, { schema: 'failsafe', merge: false, uniqueKeys: true, prettyErrors: true, strict: true });
  if (doc.errors.length > 0) {
    return {
      value: undefined,
      issues: doc.errors.map((e) => ({
        path: e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}` : '',
        message: e.message.split('\n')[0] ?? e.message,
      })),
    };
  }
  let visited = 0;
  const issues: ConfigIssue[] = [];
  const where = (node: Node | null | undefined): string => {
    const range = node?.range;
    if (!range) return '';
    const before = text.slice(0, range[0]);
    const line = before.split('\n').length;
    return `line ${line}, column ${range[0] - before.lastIndexOf('\n')}`;
  };
  const convert = (node: unknown, seen: ReadonlySet<unknown>): unknown => {
    if (++visited > MAX_NODES) throw new RangeError('the document expands to more than a million nodes (aliases)');
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(doc as Document);
      if (!target || seen.has(target)) {
        issues.push({ path: where(node), message: `alias *${node.source} ${target ? 'refers to itself' : 'has no anchor'}` });
        return null;
      }
      return convert(target, new Set([...seen, target]));
    }
    if (isScalar(node)) {
      const v = node.value;
      if (typeof v !== 'string') return v ?? null;
      if (node.type === 'PLAIN' && NULLS.has(v) && !node.tag) return null;
      if (node.tag === 'tag:yaml.org,2002:null') return null;
      return v;
    }
    if (isSeq(node)) return node.items.map((item) => convert(item, seen));
    if (isMap(node)) {
      const out: Record<string, unknown> = {};
      const merged: Record<string, unknown>[] = [];
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const key = convert(pair.key, seen);
        if (key !== null && typeof key === 'object') {
          issues.push({ path: where(pair.key as Node), message: 'a mapping key must be a scalar' });
          continue;
        }
        const name = key === null ? '' : String(key);
        if (name === '<<' && isScalar(pair.key) && pair.key.type === 'PLAIN') {
          const value = convert(pair.value, seen);
          for (const m of Array.isArray(value) ? value : [value]) {
            if (m && typeof m === 'object' && !Array.isArray(m)) merged.push(m as Record<string, unknown>);
            else issues.push({ path: where(pair.value as Node), message: 'a merge key (<<) takes a mapping or a list of mappings' });
          }
          continue;
        }
        Object.defineProperty(out, name, { value: convert(pair.value, seen), enumerable: true, writable: true, configurable: true });
      }
      // Explicit keys win over merged ones; earlier merged mappings win over later ones (YAML 1.1).
      for (const m of merged.reverse()) for (const [k, v] of Object.entries(m)) if (!(k in out)) out[k] = v;
      return out;
    }
    return null;
  };
  try {
    const value = convert(doc.contents, new Set());
    return { value, issues };
  } catch (err) {
    return { value: undefined, issues: [{ path: '', message: (err as Error).message }] };
  }
}

/**
 * `--config.expand-env` (as Grafana Agent): replaces `${VAR}` and `${VAR:-default}` (default when
 * unset or empty) / `${VAR-default}` (default when unset) with the environment's values and `$$`
 * with `$`. A bare `$1` or `$name` is left as written, so relabel replacements keep working. An
 * unset variable without a default is an issue naming it and its line.
 */
export function expandEnv(text: string, env: Readonly<Record<string, string | undefined>>): { text: string; issues: ConfigIssue[] } {
  const issues: ConfigIssue[] = [];
  const out = text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([^}]*))?\}/g, (match, name: string | undefined, op: string | undefined, fallback: string | undefined, offset: number) => {
    if (match === '$$') return '$';
    const value = env[name!];
    if (op === ':-' && (value === undefined || value === '')) return fallback ?? '';
    if (op === '-' && value === undefined) return fallback ?? '';
    if (value === undefined) {
      issues.push({ path: `line ${text.slice(0, offset).split('\n').length}`, message: `\${${name}} is not set in the environment (write \${${name}:-default} for a default)` });
      return '';
    }
    return value;
  });
  return { text: out, issues };
}

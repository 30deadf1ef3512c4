import type { KubeObject } from '../contract.js';

/** Whether an object passes a request's selectors. */
export type ObjectFilter = (obj: KubeObject) => boolean;

/** Splits on commas outside parentheses (`a in (x,y),b=c`). */
function requirements(selector: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out.filter(Boolean);
}

/** A label selector's requirements: `k=v`, `k==v`, `k!=v`, `k`, `!k`, `k in (a,b)`, `k notin (a,b)`. */
function labelFilter(selector: string): ObjectFilter {
  const tests = requirements(selector).map((req): ((labels: Record<string, string>) => boolean) => {
    let m = /^([\w./-]+)\s*(==|=|!=)\s*([\w.-]*)$/.exec(req);
    if (m) {
      const [, key, op, value] = m as unknown as [string, string, string, string];
      return op === '!=' ? (l) => l[key] !== value : (l) => l[key] === value;
    }
    m = /^([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(req);
    if (m) {
      const [, key, op, list] = m as unknown as [string, string, string, string];
      const values = new Set(list.split(',').map((v) => v.trim()));
      return op === 'in' ? (l) => l[key] !== undefined && values.has(l[key]) : (l) => l[key] === undefined || !values.has(l[key]);
    }
    m = /^(!?)([\w./-]+)$/.exec(req);
    if (m) {
      const [, not, key] = m as unknown as [string, string, string];
      return not ? (l) => !(key in l) : (l) => key in l;
    }
    throw new Error(`unable to parse requirement: ${JSON.stringify(req)}`);
  });
  return (obj) => tests.every((t) => t(obj.metadata.labels ?? {}));
}

/** A field selector: `path=value`, `path==value`, `path!=value` on dotted paths (`metadata.name`, `spec.nodeName`). */
function fieldFilter(selector: string): ObjectFilter {
  const tests = requirements(selector).map((req) => {
    const m = /^([\w.]+)\s*(==|=|!=)\s*(.*)$/.exec(req);
    if (!m) throw new Error(`invalid field selector: ${JSON.stringify(req)}`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    const get = (obj: KubeObject) => {
      let cur: unknown = obj;
      for (const part of field.split('.')) cur = cur && typeof cur === 'object' ? (cur as Record<string, unknown>)[part] : undefined;
      return cur === undefined || cur === null ? '' : String(cur);
    };
    return op === '!=' ? (o: KubeObject) => get(o) !== value : (o: KubeObject) => get(o) === value;
  });
  return (obj) => tests.every((t) => t(obj));
}

/** The filter of a request's `labelSelector` and `fieldSelector` (both optional); throws on a malformed one. */
export function compileSelectors(label: string | undefined, field: string | undefined): ObjectFilter {
  const l = label ? labelFilter(label) : () => true;
  const f = field ? fieldFilter(field) : () => true;
  return (obj) => l(obj) && f(obj);
}

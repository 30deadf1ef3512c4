/** Small formatting and role helpers shared by the pages. */

export type Role = 'admin' | 'editor' | 'viewer';

const RANK: Record<Role, number> = { viewer: 0, editor: 1, admin: 2 };

/** True when `role` is at least `needed` (admin > editor > viewer). */
export function roleAtLeast(role: Role | undefined, needed: Role): boolean {
  return role !== undefined && RANK[role] >= RANK[needed];
}

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dateTimeSeconds = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

/** The API sends dates as ISO strings (no transformer), typed as Date: accept both. */
export function toDate(value: Date | string | null | undefined): Date | null {
  if (value === null || value === undefined) return null;
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** `Nov 27, 2026, 10:15 AM` in the operator's locale; `—` for none. */
export function formatTime(value: Date | string | null | undefined, seconds = false): string {
  const d = toDate(value);
  if (!d) return '—';
  return (seconds ? dateTimeSeconds : dateTime).format(d);
}

/** ISO string for `<time dateTime>` and tooltips. */
export function isoTime(value: Date | string | null | undefined): string | undefined {
  return toDate(value)?.toISOString();
}

/** `1 agent`, `3 agents`. */
export function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** Control characters (C0, DEL, C1) and backslashes: browsers strip or reinterpret them in URLs. */
// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const UNSAFE_IN_NEXT = /[\u0000-\u001f\u007f-\u009f\\]/;

/**
 * A path on this site to go back to after signing in; anything else becomes `/`. Only a
 * same-origin relative path is kept: it must start with one `/` (not `//` or `/\`), contain no
 * backslash or control character (a tab or newline is dropped by the URL parser, so `/\t/evil`
 * would become `//evil`), and resolve against `origin` to `origin` itself. The sign-in and setup
 * pages are not destinations.
 */
export function safeNext(next: string | null | undefined, origin = 'http://fleet.invalid'): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || UNSAFE_IN_NEXT.test(next)) return '/';
  let url: URL;
  try {
    url = new URL(next, origin);
  } catch {
    return '/';
  }
  if (url.origin !== new URL(origin).origin) return '/';
  const path = `${url.pathname}${url.search}${url.hash}`;
  if (path.startsWith('//') || url.pathname.startsWith('/login') || url.pathname.startsWith('/setup')) return '/';
  return path;
}

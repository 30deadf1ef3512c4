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

/** A relative path on this site to go back to after signing in; anything else becomes `/`. */
export function safeNext(next: string | null | undefined): string {
  if (!next || !next.startsWith('/') || next.startsWith('//') || next.startsWith('/\\')) return '/';
  if (next.startsWith('/login') || next.startsWith('/setup')) return '/';
  return next;
}

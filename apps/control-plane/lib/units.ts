/** Number, rate and duration formats of the health dashboards (operator's locale). */

const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 });
const small = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const percent = new Intl.NumberFormat(undefined, { style: 'percent', maximumFractionDigits: 2 });

/** `1.2K/s`, `0.35/s`, `0/s`. */
export function formatRate(perSecond: number | null | undefined): string {
  if (perSecond === null || perSecond === undefined || !Number.isFinite(perSecond)) return '—';
  return `${Math.abs(perSecond) < 10 ? small.format(perSecond) : compact.format(perSecond)}/s`;
}

/** `12.3K` (axis and counts), `0.5` for small values. */
export function formatAmount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '—';
  return Math.abs(n) < 10 ? small.format(n) : compact.format(n);
}

/** `0.25%`; `—` without a ratio. */
export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—';
  return percent.format(ratio);
}

/** `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h` for a duration in ms. */
export function formatDuration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 48) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

/** A clock offset (control plane minus agent, ms) in words: `42 s behind`, `3 s ahead`. */
export function formatClockOffset(offsetMs: number): string {
  if (Math.abs(offsetMs) < 1000) return 'in sync';
  return `${formatDuration(Math.abs(offsetMs))} ${offsetMs > 0 ? 'behind' : 'ahead'}`;
}

/** The dashboards' windows, in minutes, with their labels. */
export const WINDOWS = [
  { minutes: 60, label: '1 h', long: 'the last hour' },
  { minutes: 360, label: '6 h', long: 'the last 6 hours' },
  { minutes: 1440, label: '24 h', long: 'the last 24 hours' },
  { minutes: 10080, label: '7 d', long: 'the last 7 days' },
  { minutes: 43200, label: '30 d', long: 'the last 30 days' },
] as const;
export type WindowMinutes = (typeof WINDOWS)[number]['minutes'];

/** `the last 6 hours`. */
export function windowText(minutes: number): string {
  return WINDOWS.find((w) => w.minutes === minutes)?.long ?? `the last ${formatDuration(minutes * 60_000)}`;
}

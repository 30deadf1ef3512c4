'use client';
import { useSyncExternalStore } from 'react';
import { formatTime, isoTime, toDate } from '../format';

// One shared clock for every relative time on the page: it ticks while something shows one.
const TICK_MS = 15_000;
let now = Date.now();
let timer: ReturnType<typeof setInterval> | undefined;
const listeners = new Set<() => void>();

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  if (!timer) {
    now = Date.now();
    timer = setInterval(() => {
      now = Date.now();
      for (const l of listeners) l();
    }, TICK_MS);
  }
  return () => {
    listeners.delete(listener);
    if (!listeners.size && timer) {
      clearInterval(timer);
      timer = undefined;
    }
  };
}

/** The current time in ms, re-rendering the caller every 15 s (for "in 3 hours", "5 minutes ago"). */
export function useNow(): number {
  return useSyncExternalStore(
    subscribe,
    () => now,
    () => now,
  );
}

const UNITS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['year', 365 * 86_400_000],
  ['month', 30 * 86_400_000],
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
];
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });

/**
 * `in 24 hours`, `3 days ago`, `just now` (within a minute either way) in the operator's locale.
 * Hours are used up to two days, days up to two months.
 */
export function formatRelative(value: Date | string, nowMs: number): string {
  const d = toDate(value);
  if (!d) return '—';
  const diff = d.getTime() - nowMs;
  const abs = Math.abs(diff);
  if (abs < 60_000) return 'just now';
  for (const [unit, ms] of UNITS) {
    // Switch to the bigger unit only once it reads naturally ("36 hours" rather than "2 days").
    const threshold = unit === 'day' ? 2 * 86_400_000 : unit === 'month' ? 60 * 86_400_000 : ms;
    if (abs >= threshold || unit === 'minute') return relative.format(Math.round(diff / ms), unit);
  }
  return relative.format(Math.round(diff / 60_000), 'minute');
}

/**
 * A `<time>` reading "in 7 days" / "2 hours ago", with the absolute date and time as its tooltip.
 * `none` is shown when there is no date (e.g. "never").
 */
export function RelativeTime({ value, none = '—', className }: { value: Date | string | null | undefined; none?: string; className?: string }) {
  const nowMs = useNow();
  const d = toDate(value);
  if (!d) return <span className={className}>{none}</span>;
  return (
    <time dateTime={isoTime(d)} title={formatTime(d)} className={className}>
      {formatRelative(d, nowMs)}
    </time>
  );
}

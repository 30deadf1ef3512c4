'use client';
import { useMemo, type ReactNode } from 'react';
import { formatAmount, formatRate } from '@/lib/units';
import { TimeChart, type ChartSeries } from '@/lib/ui/chart';
import { useNow } from '@/lib/ui/relative-time';

/** A point of a rate series from the API: samples per second over the step starting at `t`. */
export interface RatePointView {
  t: string;
  scraped?: number;
  sent: number;
  dropped: number;
  /** Removed on purpose by write relabelling: neither sent nor lost (absent from older servers). */
  filtered?: number;
  droppedByReason?: Record<string, number>;
  pending?: number;
}

/** Filtered samples are drawn in a neutral grey: intended, not a loss. */
const COLORS = { scraped: '#2456d6', sent: '#146c36', pending: '#6a4fb3', filtered: '#a8b0bc' };
const DROP_COLORS: Record<string, string> = {
  http_4xx: '#b42318',
  http_429: '#e5a50a',
  wal_full: '#7a2e8e',
  too_old: '#c4320a',
  invalid_labels: '#d04f8a',
};
const SPARE = ['#9e2a2b', '#b86e00', '#5f3dc4', '#d9480f', '#a61e4d', '#495057'];

/**
 * The points whose step is over. The API divides a step's samples by the whole step, so the step
 * still filling would read as a sudden fall at the right edge: it is left out until complete.
 */
export function completePoints<T extends { t: string }>(points: readonly T[], stepSeconds: number, nowMs: number): T[] {
  return points.filter((p) => Date.parse(p.t) + stepSeconds * 1000 <= nowMs);
}

/**
 * Samples per second over a window: what was sent, what write relabelling filtered out on purpose
 * (neutral grey) and what was dropped (lost, by reason) stacked, what was scraped as a line (every
 * scraped sample ends sent, filtered or dropped at each destination), and, for one agent, the
 * samples waiting to be sent on the right axis.
 */
export function DeliveryChart({
  points,
  stepSeconds,
  windowMinutes,
  label,
  testId,
  scraped = true,
  pending = false,
  height,
  empty,
}: {
  points: readonly RatePointView[];
  stepSeconds: number;
  windowMinutes: number;
  label: string;
  testId: string;
  scraped?: boolean;
  pending?: boolean;
  height?: number;
  /** Said below the chart when nothing was recorded in the window. */
  empty?: ReactNode;
}) {
  const now = useNow();
  const complete = useMemo(() => completePoints(points, stepSeconds, now), [points, stepSeconds, now]);
  const { times, series } = useMemo(() => {
    const reasons = [...new Set(complete.flatMap((p) => Object.keys(p.droppedByReason ?? {})))].sort();
    const s: ChartSeries[] = [];
    s.push({ label: 'Sent', values: complete.map((p) => p.sent), color: COLORS.sent, stack: 'out' });
    if (complete.some((p) => (p.filtered ?? 0) > 0)) s.push({ label: 'Filtered (write relabelling)', values: complete.map((p) => p.filtered ?? 0), color: COLORS.filtered, stack: 'out' });
    if (reasons.length) {
      reasons.forEach((r, i) =>
        s.push({ label: `Dropped: ${r}`, values: complete.map((p) => p.droppedByReason?.[r] ?? 0), color: DROP_COLORS[r] ?? SPARE[i % SPARE.length]!, stack: 'out' }),
      );
      // Drops the agents did not attribute to a reason still count.
      if (complete.some((p) => p.dropped - Object.values(p.droppedByReason ?? {}).reduce((a, b) => a + b, 0) > 1e-9)) {
        s.push({ label: 'Dropped: other', values: complete.map((p) => Math.max(0, p.dropped - Object.values(p.droppedByReason ?? {}).reduce((a, b) => a + b, 0))), color: '#495057', stack: 'out' });
      }
    } else {
      s.push({ label: 'Dropped', values: complete.map((p) => p.dropped), color: DROP_COLORS.http_4xx!, stack: 'out' });
    }
    if (scraped) s.push({ label: 'Scraped', values: complete.map((p) => p.scraped ?? null), color: COLORS.scraped });
    if (pending) s.push({ label: 'Pending (samples)', values: complete.map((p) => p.pending ?? null), color: COLORS.pending, axis: 'right', dash: [5, 4] });
    // Each point is drawn at the end of its step (the rate over the step up to that time).
    return { times: complete.map((p) => Date.parse(p.t) + stepSeconds * 1000), series: s };
  }, [complete, scraped, pending, stepSeconds]);
  // The window ends at the last complete step; it moves with the clock.
  const end = Math.floor(now / (stepSeconds * 1000)) * stepSeconds * 1000;
  const range = useMemo(() => [end - windowMinutes * 60_000, end] as const, [end, windowMinutes]);
  const stepText = stepSeconds === 60 ? 'minute' : `${stepSeconds / 60}-minute step`;
  return (
    <>
      <TimeChart
        label={label}
        times={times}
        series={series}
        stepMs={stepSeconds * 1000}
        range={range}
        format={formatRate}
        rightFormat={formatAmount}
        testId={testId}
        height={height}
      />
      {complete.length === 0 ? (
        <p className="muted small chart-note">
          {points.length ? `The first ${stepText} with data is still being counted: it is drawn once it is complete.` : empty}
        </p>
      ) : null}
    </>
  );
}

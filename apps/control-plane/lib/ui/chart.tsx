'use client';
import { useEffect, useId, useLayoutEffect, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

/** One line (or stacked area) of a {@link TimeChart}. */
export interface ChartSeries {
  label: string;
  /** One value per time of the chart (`null` = no data). */
  values: ReadonlyArray<number | null>;
  /** CSS colour (hex `#rrggbb`: stacked areas use it translucent). */
  color: string;
  /**
   * Series with the same stack key are drawn as filled areas on top of each other, in the order
   * given (the first at the bottom); the legend and the readout still show each one's own value.
   */
  stack?: string;
  /** The y axis it is measured on (default left). */
  axis?: 'left' | 'right';
  dash?: number[];
}

/** A time-series chart (uPlot) with a legend that reads out the values under the cursor. */
export interface TimeChartProps {
  /** What the chart shows ("Fleet-wide samples per second, last hour"): the accessible name and table caption. */
  label: string;
  /** Times of the points, in ms since the epoch, ascending. */
  times: ReadonlyArray<number>;
  series: ChartSeries[];
  /** Regular spacing of the points in ms: a longer gap breaks the lines instead of bridging it. */
  stepMs?: number;
  /** The time range shown (ms), e.g. the selected window; default: the data's own. */
  range?: readonly [number, number];
  /** Formats values of the left axis ("1.2K/s"). */
  format(value: number): string;
  /** Formats values of the right axis. */
  rightFormat?(value: number): string;
  height?: number;
  testId?: string;
}

const timeOfDay = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit' });
const dayOfMonth = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric' });
const fullTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
const dayKey = (s: number) => new Date(s * 1000).toDateString();

function translucent(color: string, alpha: number): string {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(color);
  if (!m) return color;
  return `rgba(${parseInt(m[1]!, 16)}, ${parseInt(m[2]!, 16)}, ${parseInt(m[3]!, 16)}, ${alpha})`;
}

interface Prepared {
  /** uPlot data: x in seconds, then the drawn (stacked = cumulative) values of each series. */
  data: uPlot.AlignedData;
  /** Each series' own values at each x (for the legend, readout and summary). */
  raw: Array<Array<number | null>>;
  bands: uPlot.Band[];
  points: number;
}

/** Breaks gaps longer than 1.5 steps with a null point; stacks series cumulatively by stack key. */
function prepare(times: ReadonlyArray<number>, series: ChartSeries[], stepMs: number | undefined): Prepared {
  const xs: number[] = [];
  const source: Array<number | null> = [];
  times.forEach((t, i) => {
    const prev = times[i - 1];
    if (stepMs && prev !== undefined && t - prev > stepMs * 1.5) {
      xs.push((prev + stepMs) / 1000);
      source.push(null);
    }
    xs.push(t / 1000);
    source.push(i);
  });
  const raw = series.map((s) => source.map((i) => (i === null ? null : (s.values[i] ?? null))));
  const drawn = raw.map((r) => r.slice());
  const bands: uPlot.Band[] = [];
  const below = new Map<string, number>();
  series.forEach((s, k) => {
    if (!s.stack) return;
    const prev = below.get(s.stack);
    if (prev !== undefined) {
      const base = drawn[prev]!;
      drawn[k] = raw[k]!.map((v, i) => (v === null ? base[i]! : (base[i] ?? 0) + v));
      bands.push({ series: [k + 1, prev + 1] });
    }
    below.set(s.stack, k);
  });
  return { data: [xs, ...drawn] as uPlot.AlignedData, raw, bands, points: times.length };
}

function stats(values: Array<number | null>) {
  const known = values.filter((v): v is number => v !== null);
  if (!known.length) return null;
  return { latest: known.at(-1)!, average: known.reduce((a, b) => a + b, 0) / known.length, peak: Math.max(...known) };
}

/**
 * A time chart for dashboards: time axis in the operator's locale, a legend that doubles as the
 * readout of the values under the cursor (also moved with the arrow keys when the chart has
 * focus, and announced), stacked areas, and resizing with its container. For assistive
 * technology the plot is an image whose name summarises every series (latest, average, peak),
 * with the same summary as a visually hidden table.
 */
export function TimeChart({ label, times, series, stepMs, range, format, rightFormat, height = 220, testId }: TimeChartProps) {
  const target = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const prepared = useMemo(() => prepare(times, series, stepMs), [times, series, stepMs]);
  // What uPlot's callbacks read (formatters, range, raw values): always the latest props.
  const current = useRef({ prepared, range, format, rightFormat, series });
  useLayoutEffect(() => {
    current.current = { prepared, range, format, rightFormat, series };
  });
  const [rendered, setRendered] = useState(false);
  const [readout, setReadout] = useState('');
  const tableId = useId();
  const hasRight = series.some((s) => s.axis === 'right');
  // The chart is rebuilt when the shape of its series changes, and only fed new data otherwise.
  const shape = JSON.stringify([series.map((s) => [s.label, s.color, s.stack, s.axis, s.dash]), height]);

  useEffect(() => {
    const el = target.current;
    if (!el) return;
    const { prepared: p } = current.current;
    const fmt = (k: number, v: number | null) => {
      if (v === null || v === undefined) return '—';
      const c = current.current;
      return c.series[k]?.axis === 'right' && c.rightFormat ? c.rightFormat(v) : c.format(v);
    };
    // Away from the cursor, the legend reads the latest values.
    const latestIdx = () => {
      const xs = current.current.prepared.data[0] as number[];
      for (let i = xs.length - 1; i >= 0; i--) if (current.current.prepared.raw.some((r) => r[i] !== null)) return i;
      return null;
    };
    const axisStyle = { stroke: '#5b6675', grid: { stroke: '#eceff3', width: 1 }, ticks: { stroke: '#d6dbe3', width: 1 }, font: '12px system-ui, sans-serif' };
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      series: [
        {
          label: 'Time',
          value: (_u, v) => {
            if (v !== null) return fullTime.format(v * 1000);
            const i = latestIdx();
            return i === null ? '—' : `${fullTime.format((current.current.prepared.data[0] as number[])[i]! * 1000)} (latest)`;
          },
        },
        ...current.current.series.map((s, k): uPlot.Series => ({
          label: s.label,
          stroke: s.color,
          width: s.stack ? 1 : 2,
          scale: s.axis === 'right' ? 'right' : 'y',
          ...(s.stack ? { fill: translucent(s.color, 0.4) } : {}),
          ...(s.dash ? { dash: s.dash } : {}),
          value: (_u, _v, si, idx) => {
            const i = idx ?? latestIdx();
            return i === null ? '—' : fmt(k, current.current.prepared.raw[si - 1]?.[i] ?? null);
          },
          points: { show: false },
        })),
      ],
      bands: p.bands,
      scales: {
        x: {
          time: true,
          range: (_u, min, max) => {
            const r = current.current.range;
            return r ? [r[0] / 1000, r[1] / 1000] : [min, max];
          },
        },
        y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] },
        ...(hasRight ? { right: { range: (_u: uPlot, _min: number, max: number): uPlot.Range.MinMax => [0, Math.max(10, max * 1.1)] } } : {}),
      },
      axes: [
        {
          ...axisStyle,
          space: 80,
          // Days for long ranges; times within a day, with the date on the first tick of each day.
          values: (_u, splits, _ax, _space, incr) =>
            splits.map((s, i) => {
              if (incr >= 86_400) return dayOfMonth.format(s * 1000);
              const prev = splits[i - 1];
              const newDay = prev !== undefined && dayKey(prev) !== dayKey(s);
              const midnight = new Date(s * 1000).getHours() === 0 && new Date(s * 1000).getMinutes() === 0;
              if (newDay && (midnight || incr >= 3 * 3600)) return dayOfMonth.format(s * 1000);
              return timeOfDay.format(s * 1000);
            }),
        },
        { ...axisStyle, scale: 'y', size: 64, values: (_u, splits) => splits.map((v) => current.current.format(v)) },
        ...(hasRight
          ? [{ ...axisStyle, scale: 'right', side: 1 as const, size: 64, grid: { show: false }, values: (_u: uPlot, splits: number[]) => splits.map((v) => (current.current.rightFormat ?? current.current.format)(v)) }]
          : []),
      ],
      cursor: { drag: { x: false, y: false, setScale: false }, points: { size: 7 } },
      legend: { live: true },
    };
    const u = new uPlot(opts, p.data, el);
    plot.current = u;
    setRendered(true);
    const observer = new ResizeObserver(() => {
      const width = Math.max(el.clientWidth, 200);
      if (width !== u.width) u.setSize({ width, height });
    });
    observer.observe(el);
    return () => {
      observer.disconnect();
      u.destroy();
      plot.current = null;
      setRendered(false);
    };
    // `shape` stands for the series' labels, colours, stacks and axes (the rest is read from `current`).
  }, [shape, hasRight, height]);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.delBand(null);
    for (const b of prepared.bands) u.addBand(b);
    u.setData(prepared.data);
  }, [prepared, range]);

  const summary = series.map((s) => ({ s, st: stats(prepared.raw[series.indexOf(s)] ?? []) }));
  const fmtOf = (s: ChartSeries) => (s.axis === 'right' && rightFormat ? rightFormat : format);
  const ariaLabel = `${label}. ${
    prepared.points === 0
      ? 'No data in this range.'
      : summary.map(({ s, st }) => (st ? `${s.label}: latest ${fmtOf(s)(st.latest)}, average ${fmtOf(s)(st.average)}, peak ${fmtOf(s)(st.peak)}` : `${s.label}: no data`)).join('; ') + '.'
  } Arrow keys read out the values at each time.`;

  const onKeyDown = (e: KeyboardEvent<HTMLDivElement>) => {
    const u = plot.current;
    const xs = prepared.data[0] as number[];
    if (!u || !xs.length) return;
    const last = xs.length - 1;
    const at = u.cursor.idx ?? null;
    let idx: number;
    if (e.key === 'ArrowLeft') idx = at === null ? last : Math.max(0, at - 1);
    else if (e.key === 'ArrowRight') idx = at === null ? last : Math.min(last, at + 1);
    else if (e.key === 'Home') idx = 0;
    else if (e.key === 'End') idx = last;
    else if (e.key === 'Escape') {
      u.setCursor({ left: -10, top: -10 });
      setReadout('');
      return;
    } else return;
    e.preventDefault();
    u.setCursor({ left: u.valToPos(xs[idx]!, 'x'), top: u.bbox.height / devicePixelRatio / 2 });
    const values = series.map((s, k) => {
      const v = prepared.raw[k]?.[idx] ?? null;
      return `${s.label} ${v === null ? 'no data' : fmtOf(s)(v)}`;
    });
    setReadout(`${fullTime.format(xs[idx]! * 1000)}: ${values.join(', ')}`);
  };

  return (
    <figure className="chart" data-testid={testId} data-points={prepared.points} data-rendered={rendered ? 'true' : 'false'}>
      <div
        ref={target}
        className="chart-plot"
        role="img"
        aria-label={ariaLabel}
        aria-describedby={tableId}
        tabIndex={0}
        onKeyDown={onKeyDown}
        onBlur={() => {
          plot.current?.setCursor({ left: -10, top: -10 });
          setReadout('');
        }}
      />
      <table id={tableId} className="visually-hidden">
        <caption>{label}</caption>
        <thead>
          <tr>
            <th scope="col">Series</th>
            <th scope="col">Latest</th>
            <th scope="col">Average</th>
            <th scope="col">Peak</th>
          </tr>
        </thead>
        <tbody>
          {summary.map(({ s, st }) => (
            <tr key={s.label}>
              <th scope="row">{s.label}</th>
              <td>{st ? fmtOf(s)(st.latest) : 'no data'}</td>
              <td>{st ? fmtOf(s)(st.average) : 'no data'}</td>
              <td>{st ? fmtOf(s)(st.peak) : 'no data'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p className="visually-hidden" aria-live="polite">
        {readout}
      </p>
    </figure>
  );
}

import type { ConfigPipelineRef } from '@fleet/db';
import { pipelineSlug } from '../agents/effective-config.js';

/**
 * The cumulative counters of one heartbeat, as kept between heartbeats (`agents.last_counters`)
 * to turn the next heartbeat's counters into deltas.
 */
export interface CumulativeCounters {
  /** When the agent process started; a different value means the counters restarted at 0. */
  startedAt: string | null;
  scraped: number;
  sent: number;
  dropped: number;
  retried: number;
  droppedByReason: Record<string, number>;
  destinations: Record<string, { url: string; sent: number; dropped: number; failed: number }>;
}

/** What one heartbeat adds to the agent's stats. All values ≥ 0. */
export interface CounterDeltas {
  scraped: number;
  sent: number;
  dropped: number;
  retried: number;
  failedSends: number;
  droppedByReason: Record<string, number>;
  /** By `<pipelineId>:<version>`. */
  byPipeline: Record<string, { sent: number; dropped: number }>;
  /** By destination URL. */
  byDestination: Record<string, { sent: number; dropped: number; failed: number }>;
  /** True when the counters restarted (new agent process, or a counter went down). */
  reset: boolean;
}

/** The heartbeat fields counters are read from (a subset of the protocol's heartbeat). */
export interface HeartbeatCounters {
  startedAt?: string | undefined;
  counters: { samplesScraped: number; samplesSent: number; samplesDropped: number; samplesRetried: number };
  destinations: Array<{
    name: string;
    url: string;
    droppedByReason: Record<string, number>;
    samplesSent?: number | undefined;
    failedSendsByClass?: Record<string, number> | undefined;
  }>;
}

const sum = (r: Record<string, number> | undefined) => Object.values(r ?? {}).reduce((n, v) => n + (Number.isFinite(v) ? v : 0), 0);

/** Reads the cumulative counters out of a heartbeat. */
export function cumulativeOf(hb: HeartbeatCounters): CumulativeCounters {
  const droppedByReason: Record<string, number> = {};
  const destinations: CumulativeCounters['destinations'] = {};
  for (const d of hb.destinations) {
    for (const [reason, n] of Object.entries(d.droppedByReason)) droppedByReason[reason] = (droppedByReason[reason] ?? 0) + n;
    destinations[d.name] = { url: d.url, sent: d.samplesSent ?? 0, dropped: sum(d.droppedByReason), failed: sum(d.failedSendsByClass) };
  }
  return {
    startedAt: hb.startedAt ?? null,
    scraped: hb.counters.samplesScraped,
    sent: hb.counters.samplesSent,
    dropped: hb.counters.samplesDropped,
    retried: hb.counters.samplesRetried,
    droppedByReason,
    destinations,
  };
}

/**
 * The increase of a counter between two readings, as Prometheus's `increase()` treats resets: after
 * a restart (or when the value went down) the new value is all increase. Never negative.
 */
export function increase(previous: number | undefined, current: number, restarted: boolean): number {
  const cur = Number.isFinite(current) && current > 0 ? current : 0;
  if (previous === undefined) return 0;
  if (restarted || cur < previous) return cur;
  return cur - previous;
}

/**
 * Deltas between the previous cumulative counters and this heartbeat's. With no previous reading
 * (the first heartbeat the control plane sees of this agent) there is nothing to compare with:
 * deltas are 0 and this reading becomes the baseline. A different `startedAt` (or a counter that
 * went down) is a restart: the new values are all increase. Destination deltas are attributed to
 * the pipeline whose slug prefixes the destination name.
 */
export function counterDeltas(previous: CumulativeCounters | null, current: CumulativeCounters, pipelines: readonly ConfigPipelineRef[]): CounterDeltas {
  const restarted = previous !== null && current.startedAt !== null && previous.startedAt !== null && current.startedAt !== previous.startedAt;
  const went = (a: number | undefined, b: number) => previous !== null && a !== undefined && b < a;
  const reset = restarted || went(previous?.scraped, current.scraped) || went(previous?.sent, current.sent) || went(previous?.dropped, current.dropped);
  const inc = (p: number | undefined, c: number) => (previous === null ? 0 : increase(p ?? 0, c, reset));
  const droppedByReason: Record<string, number> = {};
  for (const [reason, n] of Object.entries(current.droppedByReason)) {
    const d = inc(previous?.droppedByReason[reason], n);
    if (d > 0) droppedByReason[reason] = d;
  }
  const bySlug = new Map(pipelines.map((p) => [pipelineSlug(p.name), `${p.id}:${p.version}`]));
  const byPipeline: CounterDeltas['byPipeline'] = {};
  const byDestination: CounterDeltas['byDestination'] = {};
  let failedSends = 0;
  for (const [name, d] of Object.entries(current.destinations)) {
    const p = previous?.destinations[name];
    const delta = { sent: inc(p?.sent, d.sent), dropped: inc(p?.dropped, d.dropped), failed: inc(p?.failed, d.failed) };
    failedSends += delta.failed;
    if (delta.sent || delta.dropped || delta.failed) {
      const agg = (byDestination[d.url] ??= { sent: 0, dropped: 0, failed: 0 });
      agg.sent += delta.sent;
      agg.dropped += delta.dropped;
      agg.failed += delta.failed;
    }
    const pipeline = bySlug.get(name.slice(0, name.indexOf('.')));
    if (pipeline && (delta.sent || delta.dropped)) {
      const agg = (byPipeline[pipeline] ??= { sent: 0, dropped: 0 });
      agg.sent += delta.sent;
      agg.dropped += delta.dropped;
    }
  }
  return {
    scraped: inc(previous?.scraped, current.scraped),
    sent: inc(previous?.sent, current.sent),
    dropped: inc(previous?.dropped, current.dropped),
    retried: inc(previous?.retried, current.retried),
    failedSends,
    droppedByReason,
    byPipeline,
    byDestination,
    reset,
  };
}

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
  /** Samples lost (given up on), every reason; never those removed on purpose. */
  dropped: number;
  /** Samples `write_relabel_configs` removed on purpose: neither sent nor lost. */
  filtered: number;
  retried: number;
  droppedByReason: Record<string, number>;
  /** By destination name; `unsplit` marks a reading stored before filtered samples were counted apart. */
  destinations: Record<string, { url: string; sent: number; dropped: number; filtered: number; failed: number; unsplit?: true }>;
}

/** What one heartbeat adds to the agent's stats. All values are safe integers ≥ 0. */
export interface CounterDeltas {
  scraped: number;
  sent: number;
  dropped: number;
  filtered: number;
  retried: number;
  failedSends: number;
  droppedByReason: Record<string, number>;
  /** By `<pipelineId>:<version>`. */
  byPipeline: Record<string, { sent: number; dropped: number; filtered: number }>;
  /** By destination URL. */
  byDestination: Record<string, { sent: number; dropped: number; filtered: number; failed: number }>;
  /** True when the counters restarted (new agent process, or a counter went down). */
  reset: boolean;
}

/** The heartbeat fields counters are read from (a subset of the protocol's heartbeat). */
export interface HeartbeatCounters {
  startedAt?: string | undefined;
  counters: { samplesScraped: number; samplesSent: number; samplesDropped: number; samplesRetried: number; samplesFiltered?: number | undefined };
  destinations: Array<{
    name: string;
    url: string;
    droppedByReason: Record<string, number>;
    samplesSent?: number | undefined;
    samplesFiltered?: number | undefined;
    failedSendsByClass?: Record<string, number> | undefined;
  }>;
}

/**
 * The drop reason under which agents before `samplesFiltered` counted the samples write
 * relabelling removed on purpose; the control plane counts them as filtered, not lost.
 */
export const LEGACY_FILTERED_REASON = 'write_relabel';

/**
 * A counter value as stored: a whole number ≥ 0 within `Number.MAX_SAFE_INTEGER`. Anything else
 * (a fraction, NaN, a negative, a string from a hand-edited row) is 0 or the cap, so nothing
 * written to the stats can make a `::bigint` cast fail later.
 */
export function safeCount(v: unknown): number {
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.min(Number.MAX_SAFE_INTEGER, Math.floor(v)) : 0;
}

const sum = (r: Record<string, unknown> | undefined) => Math.min(Number.MAX_SAFE_INTEGER, Object.values(r ?? {}).reduce<number>((n, v) => n + safeCount(v), 0));

/**
 * Reads the cumulative counters out of a heartbeat, every value a safe count ({@link safeCount}).
 * Drops of reason `write_relabel` (what agents before `samplesFiltered` reported for samples
 * write relabelling removed on purpose) are counted as filtered, not as dropped.
 */
export function cumulativeOf(hb: HeartbeatCounters): CumulativeCounters {
  const droppedByReason: Record<string, number> = {};
  const destinations: CumulativeCounters['destinations'] = {};
  let legacyFiltered = 0;
  for (const d of hb.destinations) {
    const lost: Record<string, number> = {};
    for (const [reason, n] of Object.entries(d.droppedByReason)) {
      if (reason === LEGACY_FILTERED_REASON) continue;
      lost[reason] = safeCount(n);
      droppedByReason[reason] = Math.min(Number.MAX_SAFE_INTEGER, (droppedByReason[reason] ?? 0) + safeCount(n));
    }
    const legacy = safeCount(d.droppedByReason[LEGACY_FILTERED_REASON]);
    legacyFiltered += legacy;
    destinations[d.name] = { url: d.url, sent: safeCount(d.samplesSent), dropped: sum(lost), filtered: Math.min(Number.MAX_SAFE_INTEGER, safeCount(d.samplesFiltered) + legacy), failed: sum(d.failedSendsByClass) };
  }
  return {
    startedAt: hb.startedAt ?? null,
    scraped: safeCount(hb.counters.samplesScraped),
    sent: safeCount(hb.counters.samplesSent),
    dropped: Math.max(0, safeCount(hb.counters.samplesDropped) - legacyFiltered),
    filtered: Math.min(Number.MAX_SAFE_INTEGER, safeCount(hb.counters.samplesFiltered) + legacyFiltered),
    retried: safeCount(hb.counters.samplesRetried),
    droppedByReason,
    destinations,
  };
}

/**
 * The previous reading as stored in `agents.last_counters`, made comparable with
 * {@link cumulativeOf}: every value a safe count, and a reading stored before filtered samples
 * were counted apart (no `filtered`) has its `write_relabel` drops moved to filtered. Its
 * destinations, whose drops cannot be split any more, become a baseline for drops and filtered
 * samples (see {@link counterDeltas}). Null for anything that is not a stored reading.
 */
export function storedCounters(raw: unknown): CumulativeCounters | null {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return null;
  const r = raw as Record<string, unknown>;
  const legacy = !('filtered' in r);
  const reasons = typeof r.droppedByReason === 'object' && r.droppedByReason !== null ? (r.droppedByReason as Record<string, unknown>) : {};
  const droppedByReason: Record<string, number> = {};
  for (const [k, v] of Object.entries(reasons)) if (!(legacy && k === LEGACY_FILTERED_REASON)) droppedByReason[k] = safeCount(v);
  const legacyFiltered = legacy ? safeCount(reasons[LEGACY_FILTERED_REASON]) : 0;
  const destinations: CumulativeCounters['destinations'] = {};
  const rawDestinations = typeof r.destinations === 'object' && r.destinations !== null ? (r.destinations as Record<string, Record<string, unknown> | null>) : {};
  for (const [name, d] of Object.entries(rawDestinations)) {
    if (typeof d !== 'object' || d === null) continue;
    destinations[name] = {
      url: typeof d.url === 'string' ? d.url : '',
      sent: safeCount(d.sent),
      dropped: safeCount(d.dropped),
      filtered: safeCount(d.filtered),
      failed: safeCount(d.failed),
      ...(!('filtered' in d) ? { unsplit: true as const } : {}),
    };
  }
  return {
    startedAt: typeof r.startedAt === 'string' ? r.startedAt : null,
    scraped: safeCount(r.scraped),
    sent: safeCount(r.sent),
    dropped: Math.max(0, safeCount(r.dropped) - legacyFiltered),
    filtered: safeCount(r.filtered) + legacyFiltered,
    retried: safeCount(r.retried),
    droppedByReason,
    destinations,
  };
}


/**
 * The increase of a counter between two readings, as Prometheus's `increase()` treats resets: after
 * a restart (or when the value went down) the new value is all increase. Never negative.
 */
export function increase(previous: number | undefined, current: number, restarted: boolean): number {
  const cur = safeCount(current);
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
    // A reading stored before filtered samples were counted apart cannot be split: a baseline.
    const legacy = p?.unsplit === true && !reset;
    const delta = { sent: inc(p?.sent, d.sent), dropped: legacy ? 0 : inc(p?.dropped, d.dropped), filtered: legacy ? 0 : inc(p?.filtered, d.filtered), failed: inc(p?.failed, d.failed) };
    failedSends += delta.failed;
    if (delta.sent || delta.dropped || delta.filtered || delta.failed) {
      const agg = (byDestination[d.url] ??= { sent: 0, dropped: 0, filtered: 0, failed: 0 });
      agg.sent += delta.sent;
      agg.dropped += delta.dropped;
      agg.filtered += delta.filtered;
      agg.failed += delta.failed;
    }
    const pipeline = bySlug.get(name.slice(0, name.indexOf('.')));
    if (pipeline && (delta.sent || delta.dropped || delta.filtered)) {
      const agg = (byPipeline[pipeline] ??= { sent: 0, dropped: 0, filtered: 0 });
      agg.sent += delta.sent;
      agg.dropped += delta.dropped;
      agg.filtered += delta.filtered;
    }
  }
  return {
    scraped: inc(previous?.scraped, current.scraped),
    sent: inc(previous?.sent, current.sent),
    dropped: inc(previous?.dropped, current.dropped),
    filtered: inc(previous?.filtered, current.filtered),
    retried: inc(previous?.retried, current.retried),
    failedSends,
    droppedByReason,
    byPipeline,
    byDestination,
    reset,
  };
}

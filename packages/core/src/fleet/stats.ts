import { agentConnections, agentErrors, agents, agentStats, queryRows, statsRollups, type ConfigPipelineRef, type Db } from '@fleet/db';
import { and, eq, isNull, sql } from 'drizzle-orm';
import { counterDeltas, cumulativeOf, type CounterDeltas, type CumulativeCounters, type HeartbeatCounters } from './counters.js';
import { assessHeartbeat, type HealthHeartbeat } from './health.js';

/** A heartbeat as the gateway hands it over (validated by @fleet/protocol). */
export interface HeartbeatReport {
  at: string;
  startedAt?: string | undefined;
  counters: { samplesScraped: number; samplesSent: number; samplesDropped: number; samplesRetried: number; pendingSamples: number; walBytes: number };
  destinations: Array<HeartbeatCounters['destinations'][number] & HealthHeartbeat['destinations'][number]>;
  targets: HealthHeartbeat['targets'];
  [key: string]: unknown;
}

/** How long each kind of history is kept. */
export const RETENTION = {
  rawMs: 24 * 3_600_000,
  rollup1mMs: 24 * 3_600_000,
  rollup5mMs: 30 * 24 * 3_600_000,
  errorsMs: 7 * 24 * 3_600_000,
  connectionsMs: 30 * 24 * 3_600_000,
} as const;

const minuteOf = (d: Date) => new Date(Math.floor(d.getTime() / 60_000) * 60_000);

function addInto(target: Record<string, number>, source: Record<string, number>): Record<string, number> {
  const out = { ...target };
  for (const [k, v] of Object.entries(source)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function addNested<T extends Record<string, number>>(target: Record<string, T>, source: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = { ...target };
  for (const [k, v] of Object.entries(source)) out[k] = addInto(out[k] ?? {}, v) as T;
  return out;
}

/**
 * Records a heartbeat: the agent's live state (last seen, latest report, health and findings),
 * its counter deltas into the current minute's stats row (resets handled, see
 * {@link counterDeltas}), and any destination error it has not reported before.
 * Heartbeats of one agent arrive in order (the gateway serialises a session's writes).
 */
export async function recordHeartbeat(db: Db, agentId: string, hb: HeartbeatReport, clockOffsetMs: number, now = new Date()): Promise<CounterDeltas | null> {
  return db.transaction(async (tx) => {
    const [row] = await tx
      .select({
        lastCounters: agents.lastCounters,
        lastHeartbeat: agents.lastHeartbeat,
        appliedPipelines: agents.appliedPipelines,
        configStatus: agents.configStatus,
        configError: agents.configError,
        lastDropAt: agents.lastDropAt,
        findings: agents.findings,
      })
      .from(agents)
      .where(eq(agents.id, agentId));
    if (!row) return null;
    const current = cumulativeOf(hb);
    const deltas = counterDeltas((row.lastCounters as CumulativeCounters | null) ?? null, current, row.appliedPipelines as ConfigPipelineRef[]);
    const { health, findings, lastDropAt } = assessHeartbeat(hb, {
      now,
      clockOffsetMs,
      configStatus: row.configStatus,
      configError: row.configError,
      droppedDelta: deltas.dropped,
      droppedByReasonDelta: deltas.droppedByReason,
      lastDropAt: row.lastDropAt,
      previousDropReasons: String(row.findings.find((f) => f.kind === 'drops')?.facts.reasons ?? '') || undefined,
    });

    // Errors not reported before (a destination's last error changed).
    const previous = new Map(((row.lastHeartbeat as HealthHeartbeat | null)?.destinations ?? []).map((d) => [d.name, d.lastError?.at]));
    const fresh = hb.destinations.filter((d) => d.lastError && previous.get(d.name) !== d.lastError.at);
    if (fresh.length) {
      await tx.insert(agentErrors).values(
        fresh.map((d) => ({
          agentId,
          at: new Date(d.lastError!.at),
          destination: d.name,
          url: d.url,
          errorClass: d.lastError!.class,
          code: d.lastError!.code,
          status: d.lastError!.status,
          message: d.lastError!.message,
          detail: d.lastError!.detail ?? null,
        })),
      );
    }

    await tx
      .update(agents)
      .set({
        lastSeenAt: now,
        connected: true,
        offlineSince: null,
        lastHeartbeat: { ...hb, receivedAt: now.toISOString(), clockOffsetMs },
        lastCounters: current as unknown as Record<string, unknown>,
        health,
        findings,
        lastDropAt,
      })
      .where(eq(agents.id, agentId));

    const bucket = minuteOf(now);
    const [existing] = await tx
      .select()
      .from(agentStats)
      .where(and(eq(agentStats.agentId, agentId), eq(agentStats.bucket, bucket)));
    const values = {
      agentId,
      bucket,
      samplesScraped: (existing?.samplesScraped ?? 0) + deltas.scraped,
      samplesSent: (existing?.samplesSent ?? 0) + deltas.sent,
      samplesDropped: (existing?.samplesDropped ?? 0) + deltas.dropped,
      samplesRetried: (existing?.samplesRetried ?? 0) + deltas.retried,
      failedSends: (existing?.failedSends ?? 0) + deltas.failedSends,
      droppedByReason: addInto(existing?.droppedByReason ?? {}, deltas.droppedByReason),
      pendingSamples: Math.round(hb.counters.pendingSamples),
      walBytes: Math.round(hb.counters.walBytes),
      byPipeline: addNested(existing?.byPipeline ?? {}, deltas.byPipeline),
      byDestination: addNested(existing?.byDestination ?? {}, deltas.byDestination),
    };
    const { agentId: _a, bucket: _b, ...update } = values;
    await tx.insert(agentStats).values(values).onConflictDoUpdate({ target: [agentStats.agentId, agentStats.bucket], set: update });
    return deltas;
  });
}

/** Opens a connection-history row; returns its id (closed by {@link closeConnection}). */
export async function openConnection(db: Db, agentId: string, replica: string, sourceIp: string | undefined, now = new Date()): Promise<number> {
  // A session this replica never closed (it crashed) ends where the new one begins.
  await db
    .update(agentConnections)
    .set({ disconnectedAt: now, closeReason: 'superseded by a new connection' })
    .where(and(eq(agentConnections.agentId, agentId), isNull(agentConnections.disconnectedAt)));
  const [row] = await db.insert(agentConnections).values({ agentId, connectedAt: now, replica, sourceIp: sourceIp ?? null }).returning({ id: agentConnections.id });
  return row!.id;
}

/** Closes a connection-history row with the reason (close code and text, "silent", …). */
export async function closeConnection(db: Db, id: number, reason: string, now = new Date()): Promise<void> {
  await db
    .update(agentConnections)
    .set({ disconnectedAt: now, closeReason: reason.slice(0, 300) })
    .where(and(eq(agentConnections.id, id), isNull(agentConnections.disconnectedAt)));
}

/** Closes the open connection rows of agents marked offline without their replica saying so. */
export async function closeConnectionsOf(db: Db, agentIds: string[], reason: string, now = new Date()): Promise<void> {
  if (!agentIds.length) return;
  await db
    .update(agentConnections)
    .set({ disconnectedAt: now, closeReason: reason })
    .where(and(sql`${agentConnections.agentId} in ${agentIds}`, isNull(agentConnections.disconnectedAt)));
}

const ORIGIN = '2000-01-01T00:00:00Z';

/**
 * Recomputes the rollups of recent buckets (fleet-wide and per pipeline version, 1- and 5-minute
 * steps) from the per-minute stats. Idempotent: each bucket is replaced by the sums of the raw
 * rows, so replicas may run it concurrently and a late heartbeat is counted at the next run.
 */
export async function refreshRollups(db: Db, now = new Date(), lookbackMs = 10 * 60_000): Promise<void> {
  for (const step of [60, 300]) {
    const from = new Date(Math.floor((now.getTime() - lookbackMs) / (step * 1000)) * step * 1000);
    const bin = sql`date_bin(${`${step} seconds`}::interval, s.bucket, ${ORIGIN}::timestamptz)`;
    await db.execute(sql`
      with b as (
        select ${bin} as b, s.agent_id, s.samples_scraped, s.samples_sent, s.samples_dropped, s.samples_retried, s.dropped_by_reason
        from ${agentStats} s where s.bucket >= ${from.toISOString()}::timestamptz
      ),
      reasons as (select b.b, r.key, sum(r.value::bigint) as n from b, jsonb_each_text(b.dropped_by_reason) r group by b.b, r.key),
      rj as (select reasons.b, jsonb_object_agg(reasons.key, reasons.n) as j from reasons group by reasons.b)
      insert into ${statsRollups} (scope, step_seconds, bucket, samples_scraped, samples_sent, samples_dropped, samples_retried, dropped_by_reason, agents)
      select 'fleet', ${step}, b.b, sum(b.samples_scraped), sum(b.samples_sent), sum(b.samples_dropped), sum(b.samples_retried), coalesce(min(rj.j::text), '{}')::jsonb, count(distinct b.agent_id)
      from b left join rj on rj.b = b.b
      group by b.b
      on conflict (scope, step_seconds, bucket) do update set
        samples_scraped = excluded.samples_scraped, samples_sent = excluded.samples_sent, samples_dropped = excluded.samples_dropped,
        samples_retried = excluded.samples_retried, dropped_by_reason = excluded.dropped_by_reason, agents = excluded.agents`);
    await db.execute(sql`
      insert into ${statsRollups} (scope, step_seconds, bucket, samples_sent, samples_dropped, agents)
      select 'pipeline:' || p.key, ${step}, ${bin}, sum((p.value->>'sent')::bigint), sum((p.value->>'dropped')::bigint), count(distinct s.agent_id)
      from ${agentStats} s, jsonb_each(s.by_pipeline) p
      where s.bucket >= ${from.toISOString()}::timestamptz
      group by 1, 3
      on conflict (scope, step_seconds, bucket) do update set
        samples_sent = excluded.samples_sent, samples_dropped = excluded.samples_dropped, agents = excluded.agents`);
    // Per destination URL, so "destinations dropping or failing most" reads rollups, not raw rows.
    await db.execute(sql`
      insert into ${statsRollups} (scope, step_seconds, bucket, samples_sent, samples_dropped, failed_sends, agents)
      select 'destination:' || d.key, ${step}, ${bin}, sum((d.value->>'sent')::bigint), sum((d.value->>'dropped')::bigint), sum((d.value->>'failed')::bigint), count(distinct s.agent_id)
      from ${agentStats} s, jsonb_each(s.by_destination) d
      where s.bucket >= ${from.toISOString()}::timestamptz
      group by 1, 3
      on conflict (scope, step_seconds, bucket) do update set
        samples_sent = excluded.samples_sent, samples_dropped = excluded.samples_dropped, failed_sends = excluded.failed_sends, agents = excluded.agents`);
  }
}

/** Deletes history past its retention ({@link RETENTION}); returns how many rows went (counted in SQL). */
export async function applyRetention(db: Db, now = new Date()): Promise<number> {
  const before = (ms: number) => new Date(now.getTime() - ms).toISOString();
  const [r] = await queryRows<{ n: string }>(
    db,
    sql`with a as (delete from ${agentStats} where bucket < ${before(RETENTION.rawMs)}::timestamptz returning 1),
      r1 as (delete from ${statsRollups} where step_seconds = 60 and bucket < ${before(RETENTION.rollup1mMs)}::timestamptz returning 1),
      r5 as (delete from ${statsRollups} where step_seconds = 300 and bucket < ${before(RETENTION.rollup5mMs)}::timestamptz returning 1),
      e as (delete from ${agentErrors} where at < ${before(RETENTION.errorsMs)}::timestamptz returning 1),
      c as (delete from ${agentConnections} where connected_at < ${before(RETENTION.connectionsMs)}::timestamptz returning 1)
      select (select count(*) from a) + (select count(*) from r1) + (select count(*) from r5) + (select count(*) from e) + (select count(*) from c) as n`,
  );
  return Number(r?.n ?? 0);
}

/** Rows in each history table (for `bench:dashboard` and tests). */
export async function historySizes(db: Db): Promise<Record<string, number>> {
  const [r] = await queryRows<Record<string, string>>(
    db,
    sql`select (select count(*) from ${agentStats}) as agent_stats, (select count(*) from ${statsRollups}) as stats_rollups,
        (select count(*) from ${agentErrors}) as agent_errors, (select count(*) from ${agentConnections}) as agent_connections`,
  );
  return Object.fromEntries(Object.entries(r!).map(([k, v]) => [k, Number(v)]));
}

import { agentConnections, agentErrors, agents, agentStats, queryRows, statsRollups, type ConfigPipelineRef, type Db } from '@fleet/db';
import { and, eq, isNull, sql, type SQL } from 'drizzle-orm';
import { counterDeltas, cumulativeOf, safeCount, storedCounters, type CounterDeltas, type HeartbeatCounters } from './counters.js';
import { assessHeartbeat, type HealthHeartbeat } from './health.js';

/** A heartbeat as the gateway hands it over (validated by @fleet/protocol). */
export interface HeartbeatReport {
  at: string;
  startedAt?: string | undefined;
  counters: { samplesScraped: number; samplesSent: number; samplesDropped: number; samplesRetried: number; samplesFiltered?: number | undefined; pendingSamples: number; walBytes: number };
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

/**
 * Bounds of the per-agent error history (`agent_errors`): an agent can report a new error on
 * every destination in every heartbeat. At most `perMinute` new rows per agent per minute
 * (control-plane time; the rest are not recorded, the latest error stays in the heartbeat and
 * the findings) and at most `keptPerAgent` rows per agent (the oldest are deleted).
 */
export const ERROR_HISTORY = { perMinute: 20, keptPerAgent: 500 } as const;

const minuteOf = (d: Date) => new Date(Math.floor(d.getTime() / 60_000) * 60_000);

/** `a + b` as a stored count (never beyond `Number.MAX_SAFE_INTEGER`). */
const plus = (a: unknown, b: unknown) => Math.min(Number.MAX_SAFE_INTEGER, safeCount(a) + safeCount(b));

function addInto(target: Record<string, number>, source: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(target)) out[k] = safeCount(v);
  for (const [k, v] of Object.entries(source)) out[k] = plus(out[k], v);
  return out;
}

function addNested<T extends Record<string, number>>(target: Record<string, T>, source: Record<string, T>): Record<string, T> {
  const out: Record<string, T> = {};
  for (const [k, v] of Object.entries(target)) if (typeof v === 'object' && v !== null) out[k] = addInto(v, {}) as T;
  for (const [k, v] of Object.entries(source)) out[k] = addInto(out[k] ?? {}, v) as T;
  return out;
}

/** How many errors of this agent were recorded in the current minute (kept in `agents.last_counters`). */
interface ErrorBudget {
  minute: string;
  recorded: number;
}

function errorBudgetOf(raw: unknown, minute: Date): ErrorBudget {
  const b = (raw as { errorBudget?: Partial<ErrorBudget> } | null)?.errorBudget;
  return b && b.minute === minute.toISOString() ? { minute: b.minute, recorded: safeCount(b.recorded) } : { minute: minute.toISOString(), recorded: 0 };
}

/**
 * Records a heartbeat: the agent's live state (last seen, latest report, health and findings,
 * including a config the control plane cannot build), its counter deltas into the current
 * minute's stats row (resets handled, see {@link counterDeltas}; only safe counts ≥ 0 are
 * written), and any destination error it has not reported before (bounded, {@link ERROR_HISTORY}).
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
        configBuildError: agents.configBuildError,
        configBuildErrorAt: agents.configBuildErrorAt,
        lastDropAt: agents.lastDropAt,
        findings: agents.findings,
      })
      .from(agents)
      .where(eq(agents.id, agentId));
    if (!row) return null;
    const current = cumulativeOf(hb);
    const deltas = counterDeltas(storedCounters(row.lastCounters), current, row.appliedPipelines as ConfigPipelineRef[]);
    const { health, findings, lastDropAt } = assessHeartbeat(hb, {
      now,
      clockOffsetMs,
      configStatus: row.configStatus,
      configError: row.configError,
      configBuildError: row.configBuildError ? { message: row.configBuildError, at: row.configBuildErrorAt } : null,
      droppedDelta: deltas.dropped,
      droppedByReasonDelta: deltas.droppedByReason,
      lastDropAt: row.lastDropAt,
      previousDropReasons: String(row.findings.find((f) => f.kind === 'drops')?.facts.reasons ?? '') || undefined,
    });

    // Errors not reported before (a destination's last error changed), within the agent's budget.
    const previous = new Map(((row.lastHeartbeat as HealthHeartbeat | null)?.destinations ?? []).map((d) => [d.name, d.lastError?.at]));
    const budget = errorBudgetOf(row.lastCounters, minuteOf(now));
    const fresh = hb.destinations.filter((d) => d.lastError && previous.get(d.name) !== d.lastError.at).slice(0, Math.max(0, ERROR_HISTORY.perMinute - budget.recorded));
    budget.recorded += fresh.length;
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
      // Keep the newest rows of this agent only (ids grow with insertion).
      await tx.execute(sql`
        delete from ${agentErrors} where ${agentErrors.agentId} = ${agentId} and ${agentErrors.id} <= (
          select e.id from ${agentErrors} e where e.agent_id = ${agentId} order by e.id desc offset ${ERROR_HISTORY.keptPerAgent} limit 1)`);
    }

    await tx
      .update(agents)
      .set({
        lastSeenAt: now,
        connected: true,
        offlineSince: null,
        lastHeartbeat: { ...hb, receivedAt: now.toISOString(), clockOffsetMs },
        lastCounters: { ...current, errorBudget: budget } as unknown as Record<string, unknown>,
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
      samplesScraped: plus(existing?.samplesScraped, deltas.scraped),
      samplesSent: plus(existing?.samplesSent, deltas.sent),
      samplesDropped: plus(existing?.samplesDropped, deltas.dropped),
      samplesFiltered: plus(existing?.samplesFiltered, deltas.filtered),
      samplesRetried: plus(existing?.samplesRetried, deltas.retried),
      failedSends: plus(existing?.failedSends, deltas.failedSends),
      droppedByReason: addInto(existing?.droppedByReason ?? {}, deltas.droppedByReason),
      pendingSamples: safeCount(hb.counters.pendingSamples),
      walBytes: safeCount(hb.counters.walBytes),
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
 * A jsonb text value as a count: its bigint when it is a plain whole number of at most 15 digits,
 * else 0. Rows are written sanitised ({@link recordHeartbeat}), but a bad value (a fraction, a
 * string, a hand-edited row) must not make the cast fail and stop every roll-up.
 */
const countOf = (text: SQL) => sql`(case when ${text} ~ '^[0-9]{1,15}$' then (${text})::bigint else 0 end)`;
/** A jsonb column as an object (`{}` when it holds anything else), so jsonb_each never fails on it. */
const objectOf = (column: SQL) => sql`(case when jsonb_typeof(${column}) = 'object' then ${column} else '{}'::jsonb end)`;
/** A sum kept within bigint (and JavaScript's safe integers). */
const capped = (sum: SQL) => sql`least(coalesce(${sum}, 0), 9007199254740991)`;

/**
 * Recomputes the rollups of recent buckets (fleet-wide, per pipeline version and per destination
 * URL, 1- and 5-minute steps) from the per-minute stats. Idempotent: each bucket is replaced by
 * the sums of the raw rows, so replicas may run it concurrently and a late heartbeat is counted
 * at the next run. A malformed value in a row counts as 0 instead of failing the run.
 */
export async function refreshRollups(db: Db, now = new Date(), lookbackMs = 10 * 60_000): Promise<void> {
  for (const step of [60, 300]) {
    const from = new Date(Math.floor((now.getTime() - lookbackMs) / (step * 1000)) * step * 1000);
    const bin = sql`date_bin(${`${step} seconds`}::interval, s.bucket, ${ORIGIN}::timestamptz)`;
    await db.execute(sql`
      with b as (
        select ${bin} as b, s.agent_id, s.samples_scraped, s.samples_sent, s.samples_dropped, s.samples_filtered, s.samples_retried, ${objectOf(sql`s.dropped_by_reason`)} as dropped_by_reason
        from ${agentStats} s where s.bucket >= ${from.toISOString()}::timestamptz
      ),
      reasons as (select b.b, r.key, ${capped(sql`sum(${countOf(sql`r.value`)})`)} as n from b, jsonb_each_text(b.dropped_by_reason) r group by b.b, r.key),
      rj as (select reasons.b, jsonb_object_agg(reasons.key, reasons.n) as j from reasons group by reasons.b)
      insert into ${statsRollups} (scope, step_seconds, bucket, samples_scraped, samples_sent, samples_dropped, samples_filtered, samples_retried, dropped_by_reason, agents)
      select 'fleet', ${step}, b.b, ${capped(sql`sum(b.samples_scraped)`)}, ${capped(sql`sum(b.samples_sent)`)}, ${capped(sql`sum(b.samples_dropped)`)}, ${capped(sql`sum(b.samples_filtered)`)},
        ${capped(sql`sum(b.samples_retried)`)}, coalesce(min(rj.j::text), '{}')::jsonb, count(distinct b.agent_id)
      from b left join rj on rj.b = b.b
      group by b.b
      on conflict (scope, step_seconds, bucket) do update set
        samples_scraped = excluded.samples_scraped, samples_sent = excluded.samples_sent, samples_dropped = excluded.samples_dropped, samples_filtered = excluded.samples_filtered,
        samples_retried = excluded.samples_retried, dropped_by_reason = excluded.dropped_by_reason, agents = excluded.agents`);
    const field = (name: string) => capped(sql`sum(${countOf(sql`(p.value->>${name})`)})`);
    await db.execute(sql`
      insert into ${statsRollups} (scope, step_seconds, bucket, samples_sent, samples_dropped, samples_filtered, agents)
      select 'pipeline:' || p.key, ${step}, ${bin}, ${field('sent')}, ${field('dropped')}, ${field('filtered')}, count(distinct s.agent_id)
      from ${agentStats} s, jsonb_each(${objectOf(sql`s.by_pipeline`)}) p
      where s.bucket >= ${from.toISOString()}::timestamptz
      group by 1, 3
      on conflict (scope, step_seconds, bucket) do update set
        samples_sent = excluded.samples_sent, samples_dropped = excluded.samples_dropped, samples_filtered = excluded.samples_filtered, agents = excluded.agents`);
    // Per destination URL, so "destinations dropping or failing most" reads rollups, not raw rows.
    await db.execute(sql`
      insert into ${statsRollups} (scope, step_seconds, bucket, samples_sent, samples_dropped, samples_filtered, failed_sends, agents)
      select 'destination:' || p.key, ${step}, ${bin}, ${field('sent')}, ${field('dropped')}, ${field('filtered')}, ${field('failed')}, count(distinct s.agent_id)
      from ${agentStats} s, jsonb_each(${objectOf(sql`s.by_destination`)}) p
      where s.bucket >= ${from.toISOString()}::timestamptz
      group by 1, 3
      on conflict (scope, step_seconds, bucket) do update set
        samples_sent = excluded.samples_sent, samples_dropped = excluded.samples_dropped, samples_filtered = excluded.samples_filtered, failed_sends = excluded.failed_sends, agents = excluded.agents`);
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

import { agentConnections, agentErrors, agents, pipelines, pipelineVersions, queryRows, type AgentFinding, type Db } from '@fleet/db';
import { and, desc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import { stringify } from 'yaml';
import { structuredPatch } from 'diff';
import { pipelineRollout } from '../agents/rollout.js';
import { AppError } from '../errors.js';
import { canonicalJson } from '../pipelines/document.js';
import { remedyForFinding, type Remedy } from './diagnosis.js';
import { HEALTH } from './health.js';

/** Windows the dashboards offer, in minutes. */
export const STATS_WINDOWS = [60, 360, 1440, 7 * 1440, 30 * 1440] as const;
export type StatsWindow = (typeof STATS_WINDOWS)[number];

/** One point of a rate chart: samples per second over the step that starts at `t` (complete steps only). */
export interface RatePoint {
  t: string;
  scraped: number;
  sent: number;
  dropped: number;
  droppedByReason: Record<string, number>;
}

const stepFor = (windowMinutes: number) => (windowMinutes <= 360 ? 60 : 300);
const since = (now: Date, minutes: number) => new Date(now.getTime() - minutes * 60_000);
const num = (v: unknown) => Number(v ?? 0);

/** Rates of a rollup scope over a window (samples per second per step), oldest first. */
async function rateSeries(db: Db, scope: string, windowMinutes: number, now: Date): Promise<{ step: number; points: RatePoint[] }> {
  const step = stepFor(windowMinutes);
  const rows = await queryRows<{ bucket: string | Date; samples_scraped: string; samples_sent: string; samples_dropped: string; dropped_by_reason: Record<string, number> }>(
    db,
    sql`select bucket, samples_scraped, samples_sent, samples_dropped, dropped_by_reason from stats_rollups
        where scope = ${scope} and step_seconds = ${step} and bucket >= ${since(now, windowMinutes).toISOString()}::timestamptz
          and bucket <= ${new Date(now.getTime() - step * 1000).toISOString()}::timestamptz order by bucket`,
  );
  return {
    step,
    points: rows.map((r) => ({
      t: new Date(r.bucket).toISOString(),
      scraped: num(r.samples_scraped) / step,
      sent: num(r.samples_sent) / step,
      dropped: num(r.samples_dropped) / step,
      droppedByReason: Object.fromEntries(Object.entries(r.dropped_by_reason ?? {}).map(([k, v]) => [k, num(v) / step])),
    })),
  };
}

function totalsOf(points: RatePoint[], step: number) {
  const t = { scraped: 0, sent: 0, dropped: 0, droppedByReason: {} as Record<string, number> };
  for (const p of points) {
    t.scraped += p.scraped * step;
    t.sent += p.sent * step;
    t.dropped += p.dropped * step;
    for (const [k, v] of Object.entries(p.droppedByReason)) t.droppedByReason[k] = (t.droppedByReason[k] ?? 0) + v * step;
  }
  const round = (n: number) => Math.round(n);
  return { scraped: round(t.scraped), sent: round(t.sent), dropped: round(t.dropped), droppedByReason: Object.fromEntries(Object.entries(t.droppedByReason).map(([k, v]) => [k, round(v)])) };
}

/** Agent counts by state: offline (was connected), never connected, and connected by health. */
export async function fleetCounts(ctx: { db: Db }) {
  const [c] = await ctx.db
    .select({
      total: sql<number>`count(*)::int`,
      healthy: sql<number>`count(*) filter (where ${agents.connected} and ${agents.health} = 'healthy' and ${agents.configStatus} <> 'failed')::int`,
      degraded: sql<number>`count(*) filter (where ${agents.connected} and ${agents.health} = 'degraded' and ${agents.configStatus} <> 'failed')::int`,
      failing: sql<number>`count(*) filter (where ${agents.connected} and (${agents.health} = 'failing' or ${agents.configStatus} = 'failed'))::int`,
      offline: sql<number>`count(*) filter (where not ${agents.connected} and ${agents.lastSeenAt} is not null)::int`,
      neverConnected: sql<number>`count(*) filter (where ${agents.lastSeenAt} is null)::int`,
    })
    .from(agents)
    .where(isNull(agents.revokedAt));
  return c!;
}

/** A problem shared by agents: the finding (from one of them), how many have it, and its remedy. */
export interface FindingGroup {
  key: string;
  kind: string;
  severity: 'warning' | 'critical';
  title: string;
  url: string | null;
  agents: number;
  exampleAgent: { id: string; name: string };
  finding: AgentFinding;
  remedy: Remedy;
}

/** Findings across connected agents, grouped by problem and destination, critical first. */
export async function fleetFindings(ctx: { db: Db }, limit = 20): Promise<FindingGroup[]> {
  const rows = await queryRows<{ key: string; critical: boolean; n: number; agent_id: string; name: string; finding: AgentFinding }>(
    ctx.db,
    sql`select f->>'key' as key, bool_or(f->>'severity' = 'critical') as critical, count(*)::int as n,
          (array_agg(a.id order by a.name))[1] as agent_id, (array_agg(a.name order by a.name))[1] as name,
          (array_agg(f order by a.name))[1] as finding
        from agents a, jsonb_array_elements(a.findings) f
        where a.connected and a.revoked_at is null
        group by f->>'key'
        order by bool_or(f->>'severity' = 'critical') desc, count(*) desc, f->>'key'
        limit ${limit}`,
  );
  return Promise.all(
    rows.map(async (r) => ({
      key: r.key,
      kind: r.finding.kind,
      severity: r.critical ? ('critical' as const) : ('warning' as const),
      title: r.finding.title,
      url: r.finding.url ?? null,
      agents: r.n,
      exampleAgent: { id: r.agent_id, name: r.name },
      finding: r.finding,
      remedy: await remedyForFinding(ctx, r.finding),
    })),
  );
}

/**
 * The fleet overview: agent counts by health, fleet-wide rates (scraped, sent, dropped by reason)
 * over the window, totals, the agents and destinations dropping or failing most, agents whose
 * credentials lapse or whose clock is off, grouped findings with remedies, and the rollout of the
 * latest published versions. Everything is aggregated in the database.
 */
export async function fleetOverview(ctx: { db: Db }, input: { windowMinutes: number; now?: Date }) {
  const now = input.now ?? new Date();
  const windowMinutes = input.windowMinutes;
  // Per-agent history is kept 24 h: "top" lists look at most that far back.
  const recent = since(now, Math.min(windowMinutes, 1440)).toISOString();
  const [counts, series, topAgentsByDrops, topAgentsByErrors, topDestinations, credentials, clockSkew, findings, latest] = await Promise.all([
    fleetCounts(ctx),
    rateSeries(ctx.db, 'fleet', windowMinutes, now),
    // Agents with drops are found through the partial index of rows with drops (counter deltas are
    // never negative, so "sum > 0" is "some row > 0"); only the ten shown have their sent summed.
    queryRows<{ id: string; name: string; dropped: string; sent: string }>(
      ctx.db,
      sql`with dropping as (
            select s.agent_id, sum(s.samples_dropped) as dropped from agent_stats s
            where s.bucket >= ${recent}::timestamptz and s.samples_dropped > 0 group by s.agent_id
          ), top as (
            select d.agent_id as id, a.name, d.dropped from dropping d join agents a on a.id = d.agent_id
            where a.revoked_at is null order by d.dropped desc, a.name limit 10
          )
          select top.id, top.name, top.dropped,
            (select sum(s.samples_sent) from agent_stats s where s.agent_id = top.id and s.bucket >= ${recent}::timestamptz) as sent
          from top order by top.dropped desc, top.name`,
    ),
    // Errors are counted per agent from the index; the latest error is read for the ten shown only.
    queryRows<{ id: string; name: string; errors: number; last_class: string; last_message: string }>(
      ctx.db,
      sql`with counted as (
            select e.agent_id, count(*)::int as errors from agent_errors e
            where e.at >= ${since(now, windowMinutes).toISOString()}::timestamptz group by e.agent_id
          ), top as (
            select c.agent_id as id, a.name, c.errors from counted c join agents a on a.id = c.agent_id
            where a.revoked_at is null order by c.errors desc, a.name limit 10
          )
          select top.id, top.name, top.errors, last.error_class as last_class, last.message as last_message
          from top cross join lateral (
            select e.error_class, e.message from agent_errors e
            where e.agent_id = top.id and e.at >= ${since(now, windowMinutes).toISOString()}::timestamptz order by e.at desc limit 1
          ) last
          order by top.errors desc, top.name`,
    ),
    // From the per-destination rollups; `agents` is the most agents writing to it in one step.
    queryRows<{ url: string; sent: string; dropped: string; failed: string; agents: number }>(
      ctx.db,
      sql`select substr(scope, 13) as url, sum(samples_sent) as sent, sum(samples_dropped) as dropped, sum(failed_sends) as failed, max(agents)::int as agents
          from stats_rollups
          where scope like 'destination:%' and step_seconds = ${windowMinutes <= 1440 ? 60 : 300} and bucket >= ${since(now, windowMinutes).toISOString()}::timestamptz
          group by scope having sum(samples_dropped) + sum(failed_sends) > 0
          order by sum(samples_dropped) + sum(failed_sends) desc, scope limit 10`,
    ),
    queryRows<{ id: string; name: string; finding: AgentFinding }>(
      ctx.db,
      sql`select a.id, a.name, f as finding from agents a, jsonb_array_elements(a.findings) f
          where a.connected and a.revoked_at is null and f->>'kind' in ('credentials_expiring', 'credentials_refresh')
          order by f->>'severity', a.name limit 50`,
    ),
    // Served by the expression index agents_clock_offset_idx (the expression must stay identical).
    queryRows<{ id: string; name: string; offset_ms: number }>(
      ctx.db,
      sql`select a.id, a.name, (a.last_heartbeat->>'clockOffsetMs')::float8 as offset_ms from agents a
          where a.connected and a.revoked_at is null and abs((a.last_heartbeat->>'clockOffsetMs')::float8) >= ${HEALTH.clockWarnMs}
          order by abs((a.last_heartbeat->>'clockOffsetMs')::float8) desc limit 20`,
    ),
    fleetFindings(ctx),
    ctx.db
      .select({ id: pipelines.id, name: pipelines.name })
      .from(pipelineVersions)
      .innerJoin(pipelines, eq(pipelines.id, pipelineVersions.pipelineId))
      .where(and(eq(pipelineVersions.published, true), isNull(pipelines.archivedAt), isNotNull(pipelineVersions.publishedAt)))
      .orderBy(desc(pipelineVersions.publishedAt))
      .limit(5),
  ]);
  const rollouts = await Promise.all(
    latest.map(async (p) => {
      const r = await pipelineRollout(ctx, p.id, 0);
      return { pipelineId: p.id, name: p.name, version: r.publishedVersion, publishedAt: r.publishedAt, selected: r.selected, summary: r.summary };
    }),
  );
  return {
    windowMinutes,
    counts,
    series,
    totals: totalsOf(series.points, series.step),
    topAgentsByDrops: topAgentsByDrops.map((r) => ({ id: r.id, name: r.name, dropped: num(r.dropped), sent: num(r.sent) })),
    topAgentsByErrors,
    topDestinations: topDestinations.map((r) => ({ url: r.url, sent: num(r.sent), dropped: num(r.dropped), failed: num(r.failed), agents: r.agents })),
    credentials: credentials.map((r) => ({ id: r.id, name: r.name, kind: r.finding.kind, severity: r.finding.severity, destination: r.finding.destination ?? null, facts: r.finding.facts })),
    clockSkew: clockSkew.map((r) => ({ id: r.id, name: r.name, offsetMs: Math.round(r.offset_ms) })),
    findings,
    rollouts,
  };
}

function yamlOf(config: unknown): string {
  return config ? stringify(JSON.parse(canonicalJson(config)), { lineWidth: 0 }) : '';
}

/**
 * What the agent page shows beyond the agent row: findings with remedies, connection history,
 * recent errors, per-minute delivery over the last hours, and the diff of desired vs applied config.
 */
export async function agentDetail(ctx: { db: Db }, agentId: string, input: { windowMinutes?: number; now?: Date } = {}) {
  const now = input.now ?? new Date();
  const windowMinutes = Math.min(input.windowMinutes ?? 60, 1440);
  const [agent] = await ctx.db
    .select({ findings: agents.findings, desiredConfig: agents.desiredConfig, appliedConfig: agents.appliedConfig, desiredHash: agents.desiredConfigHash, appliedHash: agents.appliedConfigHash })
    .from(agents)
    .where(and(eq(agents.id, agentId), isNull(agents.revokedAt)));
  if (!agent) throw new AppError('NOT_FOUND', 'no such agent (it may have been removed)');
  const [connections, errors, stats] = await Promise.all([
    ctx.db.select().from(agentConnections).where(eq(agentConnections.agentId, agentId)).orderBy(desc(agentConnections.connectedAt)).limit(20),
    ctx.db.select().from(agentErrors).where(eq(agentErrors.agentId, agentId)).orderBy(desc(agentErrors.at)).limit(50),
    queryRows<{ bucket: string | Date; samples_scraped: string; samples_sent: string; samples_dropped: string; pending_samples: string; wal_bytes: string; dropped_by_reason: Record<string, number> }>(
      ctx.db,
      sql`select bucket, samples_scraped, samples_sent, samples_dropped, pending_samples, wal_bytes, dropped_by_reason from agent_stats
          where agent_id = ${agentId} and bucket >= ${since(now, windowMinutes).toISOString()}::timestamptz
            and bucket <= ${new Date(now.getTime() - 60_000).toISOString()}::timestamptz order by bucket`,
    ),
  ]);
  const findings = await Promise.all(agent.findings.map(async (f) => ({ ...f, remedy: await remedyForFinding(ctx, f) })));
  const identical = agent.desiredHash !== null && agent.desiredHash === agent.appliedHash;
  const patch = identical || !agent.desiredConfig ? null : structuredPatch('applied', 'desired', yamlOf(agent.appliedConfig), yamlOf(agent.desiredConfig), '', '', { context: 3 });
  return {
    findings,
    connections,
    errors,
    series: stats.map((r) => ({
      t: new Date(r.bucket).toISOString(),
      scraped: num(r.samples_scraped) / 60,
      sent: num(r.samples_sent) / 60,
      dropped: num(r.samples_dropped) / 60,
      pending: num(r.pending_samples),
      walBytes: num(r.wal_bytes),
      droppedByReason: Object.fromEntries(Object.entries(r.dropped_by_reason ?? {}).map(([k, v]) => [k, num(v) / 60])),
    })),
    configDiff: { identical, hunks: patch?.hunks.map((h) => ({ oldStart: h.oldStart, newStart: h.newStart, lines: h.lines })) ?? [] },
  };
}

/** Drop ratio before and after a version's rollout that flags it as a regression. */
export const REGRESSION = { minSamples: 100, factor: 2, minIncrease: 0.01, windowMinutes: 60 } as const;

/**
 * Delivery per version of a pipeline: agents running each version, samples/s and drop rate over
 * the window, the rate series of the published version, and a regression flag when agents
 * dropped clearly more after the published version rolled out than before.
 */
export async function pipelineStats(ctx: { db: Db }, pipelineId: string, input: { windowMinutes: number; now?: Date }) {
  const now = input.now ?? new Date();
  const rollout = await pipelineRollout(ctx, pipelineId, 0);
  const versions = await queryRows<{ scope: string; sent: string; dropped: string }>(
    ctx.db,
    sql`select scope, sum(samples_sent) as sent, sum(samples_dropped) as dropped from stats_rollups
        where scope like ${`pipeline:${pipelineId}:%`} and step_seconds = 300 and bucket >= ${since(now, input.windowMinutes).toISOString()}::timestamptz
        group by scope`,
  );
  const seconds = input.windowMinutes * 60;
  const perVersion = versions
    .map((v) => {
      const version = Number(v.scope.split(':').at(-1));
      const sent = num(v.sent);
      const dropped = num(v.dropped);
      return { version, agents: rollout.running.find((r) => r.version === version)?.agents ?? 0, sentPerSecond: sent / seconds, dropRate: sent + dropped > 0 ? dropped / (sent + dropped) : 0, sent, dropped };
    })
    .sort((a, b) => b.version - a.version);
  for (const r of rollout.running) if (!perVersion.some((v) => v.version === r.version)) perVersion.push({ version: r.version, agents: r.agents, sentPerSecond: 0, dropRate: 0, sent: 0, dropped: 0 });
  perVersion.sort((a, b) => b.version - a.version);

  let regression: { version: number; before: number; after: number; message: string } | null = null;
  if (rollout.publishedVersion !== null && rollout.publishedAt) {
    const at = new Date(rollout.publishedAt);
    const window = REGRESSION.windowMinutes * 60_000;
    const [r] = await queryRows<{ bs: string; bd: string; as_: string; ad: string }>(
      ctx.db,
      sql`select coalesce(sum(samples_sent) filter (where bucket < ${at.toISOString()}::timestamptz), 0) as bs,
                 coalesce(sum(samples_dropped) filter (where bucket < ${at.toISOString()}::timestamptz), 0) as bd,
                 coalesce(sum(samples_sent) filter (where bucket >= ${at.toISOString()}::timestamptz), 0) as as_,
                 coalesce(sum(samples_dropped) filter (where bucket >= ${at.toISOString()}::timestamptz), 0) as ad
          from stats_rollups where scope like ${`pipeline:${pipelineId}:%`} and step_seconds = 60
            and bucket >= ${new Date(at.getTime() - window).toISOString()}::timestamptz and bucket < ${new Date(at.getTime() + window).toISOString()}::timestamptz`,
    );
    const before = num(r?.bd) / Math.max(1, num(r?.bs) + num(r?.bd));
    const afterTotal = num(r?.as_) + num(r?.ad);
    const after = num(r?.ad) / Math.max(1, afterTotal);
    if (afterTotal >= REGRESSION.minSamples && after > Math.max(before * REGRESSION.factor, before + REGRESSION.minIncrease)) {
      const pct = (x: number) => `${(x * 100).toFixed(x < 0.1 ? 2 : 1)}%`;
      regression = { version: rollout.publishedVersion, before, after, message: `Since v${rollout.publishedVersion} rolled out, ${pct(after)} of samples are dropped (${pct(before)} in the hour before).` };
    }
  }
  const series = rollout.publishedVersion === null ? { step: stepFor(input.windowMinutes), points: [] as RatePoint[] } : await rateSeries(ctx.db, `pipeline:${pipelineId}:${rollout.publishedVersion}`, input.windowMinutes, now);
  return { publishedVersion: rollout.publishedVersion, perVersion, series, regression };
}

import { agentConnections, agentErrors, agents, pipelines, pipelineVersions, queryRows, type AgentFinding, type Db } from '@fleet/db';
import { and, desc, eq, isNotNull, isNull, sql } from 'drizzle-orm';
import { stringify } from 'yaml';
import { structuredPatch } from 'diff';
import { pipelineRollout } from '../agents/rollout.js';
import { AppError } from '../errors.js';
import { canonicalJson } from '../pipelines/document.js';
import { remedyForFinding, type Remedy } from './diagnosis.js';
import { findingTitle, HEALTH } from './health.js';

/** Windows the dashboards offer, in minutes. */
export const STATS_WINDOWS = [60, 360, 1440, 7 * 1440, 30 * 1440] as const;
export type StatsWindow = (typeof STATS_WINDOWS)[number];

/** One point of a rate chart: samples per second over the step that starts at `t` (complete steps only). */
export interface RatePoint {
  t: string;
  scraped: number;
  sent: number;
  /** Samples lost (given up on). */
  dropped: number;
  /** Samples write relabelling removed on purpose: not sent, not lost. */
  filtered: number;
  droppedByReason: Record<string, number>;
}

const stepFor = (windowMinutes: number) => (windowMinutes <= 360 ? 60 : 300);
const since = (now: Date, minutes: number) => new Date(now.getTime() - minutes * 60_000);
const num = (v: unknown) => Number(v ?? 0);

/** Rates of a rollup scope over a window (samples per second per step), oldest first. */
async function rateSeries(db: Db, scope: string, windowMinutes: number, now: Date): Promise<{ step: number; points: RatePoint[] }> {
  const step = stepFor(windowMinutes);
  const rows = await queryRows<{ bucket: string | Date; samples_scraped: string; samples_sent: string; samples_dropped: string; samples_filtered: string; dropped_by_reason: Record<string, number> }>(
    db,
    sql`select bucket, samples_scraped, samples_sent, samples_dropped, samples_filtered, dropped_by_reason from stats_rollups
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
      filtered: num(r.samples_filtered) / step,
      droppedByReason: Object.fromEntries(Object.entries(r.dropped_by_reason ?? {}).map(([k, v]) => [k, num(v) / step])),
    })),
  };
}

function totalsOf(points: RatePoint[], step: number) {
  const t = { scraped: 0, sent: 0, dropped: 0, filtered: 0, droppedByReason: {} as Record<string, number> };
  for (const p of points) {
    t.scraped += p.scraped * step;
    t.sent += p.sent * step;
    t.dropped += p.dropped * step;
    t.filtered += p.filtered * step;
    for (const [k, v] of Object.entries(p.droppedByReason)) t.droppedByReason[k] = (t.droppedByReason[k] ?? 0) + v * step;
  }
  const round = (n: number) => Math.round(n);
  return {
    scraped: round(t.scraped),
    sent: round(t.sent),
    dropped: round(t.dropped),
    filtered: round(t.filtered),
    droppedByReason: Object.fromEntries(Object.entries(t.droppedByReason).map(([k, v]) => [k, round(v)])),
  };
}

/**
 * Whether there is any history to judge by: fleet roll-ups in the window (charts, totals,
 * destinations) and per-minute stats rows (the per-agent lists). Before the first roll-up an
 * empty list means "no data yet", not "nothing went wrong".
 */
async function historyIn(db: Db, windowMinutes: number, now: Date): Promise<{ rollups: boolean; stats: boolean }> {
  const [r] = await queryRows<{ rollups: boolean; stats: boolean }>(
    db,
    sql`select exists(select 1 from stats_rollups where scope = 'fleet' and step_seconds = ${stepFor(windowMinutes)} and bucket >= ${since(now, windowMinutes).toISOString()}::timestamptz) as rollups,
               exists(select 1 from agent_stats where bucket >= ${since(now, Math.min(windowMinutes, 1440)).toISOString()}::timestamptz) as stats`,
  );
  return { rollups: Boolean(r?.rollups), stats: Boolean(r?.stats) };
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

/**
 * Findings across connected agents, grouped by problem, critical first. Groups (one per finding
 * key: kind and destination URLs) that share a cause — the same kind and the same remedy, e.g.
 * "no AWS credentials" on different destinations — are merged into one group that counts each
 * agent once. A group of one EC2 agent gets remedies naming its instance.
 */
export async function fleetFindings(ctx: { db: Db }, limit = 20): Promise<FindingGroup[]> {
  const rows = await queryRows<{ key: string; critical: boolean; n: number; agent_id: string; name: string; instance_id: string | null; finding: AgentFinding }>(
    ctx.db,
    sql`select f->>'key' as key, bool_or(f->>'severity' = 'critical') as critical, count(distinct a.id)::int as n,
          (array_agg(a.id order by a.name))[1] as agent_id, (array_agg(a.name order by a.name))[1] as name,
          (array_agg(a.description->>'instanceId' order by a.name))[1] as instance_id,
          (array_agg(f order by a.name))[1] as finding
        from agents a, jsonb_array_elements(a.findings) f
        where a.connected and a.revoked_at is null
        group by f->>'key'
        order by bool_or(f->>'severity' = 'critical') desc, count(distinct a.id) desc, f->>'key'
        limit ${limit}`,
  );
  // Merged by cause: the remedy as it reads for any agent (no instance named).
  const byCause = new Map<string, { rows: typeof rows; remedy: Remedy }>();
  for (const r of rows) {
    const remedy = await remedyForFinding(ctx, r.finding);
    const cause = `${r.finding.kind}|${JSON.stringify(remedy)}`;
    const group = byCause.get(cause);
    if (group) group.rows.push(r);
    else byCause.set(cause, { rows: [r], remedy });
  }
  const groups = await Promise.all(
    [...byCause.values()].map(async ({ rows: members, remedy }): Promise<FindingGroup> => {
      const first = members[0]!;
      let agentsAffected = first.n;
      if (members.length > 1) {
        const [c] = await queryRows<{ n: number }>(
          ctx.db,
          sql`select count(distinct a.id)::int as n from agents a, jsonb_array_elements(a.findings) f
              where a.connected and a.revoked_at is null and f->>'key' in ${members.map((m) => m.key)}`,
        );
        agentsAffected = c?.n ?? first.n;
      }
      const urls = [...new Set(members.flatMap((m) => (m.finding.url ? [m.finding.url] : String(m.finding.facts.urls ?? '').split(', ').filter(Boolean))))].sort();
      const finding: AgentFinding =
        members.length > 1
          ? {
              ...first.finding,
              destination: [...new Set(members.flatMap((m) => (m.finding.destination ?? '').split(', ').filter(Boolean)))].join(', '),
              facts: { ...first.finding.facts, ...(urls.length > 1 ? { urls: urls.join(', ') } : {}) },
            }
          : first.finding;
      if (members.length > 1 && urls.length !== 1) delete finding.url;
      return {
        key: members.map((m) => m.key).join(' + '),
        kind: first.finding.kind,
        severity: members.some((m) => m.critical) ? 'critical' : 'warning',
        title: first.finding.title,
        url: urls.length === 1 ? urls[0]! : null,
        agents: agentsAffected,
        exampleAgent: { id: first.agent_id, name: first.name },
        finding,
        remedy: agentsAffected === 1 && first.instance_id ? await remedyForFinding(ctx, finding, { instanceId: first.instance_id }) : remedy,
      };
    }),
  );
  return groups.sort((a, b) => Number(b.severity === 'critical') - Number(a.severity === 'critical') || b.agents - a.agents || a.key.localeCompare(b.key));
}

/**
 * The fleet overview: agent counts by health, fleet-wide rates (scraped, sent, dropped by reason,
 * filtered on purpose) over the window, totals, whether there is any history yet (`history`: no
 * roll-up yet means "no data", not "all is well"), the agents and destinations dropping or failing most, agents whose
 * credentials lapse or whose clock is off, grouped findings with remedies, and the rollout of the
 * latest published versions. Everything is aggregated in the database.
 */
export async function fleetOverview(ctx: { db: Db }, input: { windowMinutes: number; now?: Date }) {
  const now = input.now ?? new Date();
  const windowMinutes = input.windowMinutes;
  // Per-agent history is kept 24 h: "top" lists look at most that far back.
  const recent = since(now, Math.min(windowMinutes, 1440)).toISOString();
  const [counts, series, history, topAgentsByDrops, topAgentsByErrors, topDestinations, credentials, clockSkew, findings, latest] = await Promise.all([
    fleetCounts(ctx),
    rateSeries(ctx.db, 'fleet', windowMinutes, now),
    historyIn(ctx.db, windowMinutes, now),
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
    history,
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
    .select({
      findings: agents.findings,
      description: agents.description,
      configBuildError: agents.configBuildError,
      configBuildErrorAt: agents.configBuildErrorAt,
      desiredConfig: agents.desiredConfig,
      appliedConfig: agents.appliedConfig,
      desiredHash: agents.desiredConfigHash,
      appliedHash: agents.appliedConfigHash,
    })
    .from(agents)
    .where(and(eq(agents.id, agentId), isNull(agents.revokedAt)));
  if (!agent) throw new AppError('NOT_FOUND', 'no such agent (it may have been removed)');
  const [connections, errors, stats] = await Promise.all([
    ctx.db.select().from(agentConnections).where(eq(agentConnections.agentId, agentId)).orderBy(desc(agentConnections.connectedAt)).limit(20),
    ctx.db.select().from(agentErrors).where(eq(agentErrors.agentId, agentId)).orderBy(desc(agentErrors.at)).limit(50),
    queryRows<{ bucket: string | Date; samples_scraped: string; samples_sent: string; samples_dropped: string; samples_filtered: string; pending_samples: string; wal_bytes: string; dropped_by_reason: Record<string, number> }>(
      ctx.db,
      sql`select bucket, samples_scraped, samples_sent, samples_dropped, samples_filtered, pending_samples, wal_bytes, dropped_by_reason from agent_stats
          where agent_id = ${agentId} and bucket >= ${since(now, windowMinutes).toISOString()}::timestamptz
            and bucket <= ${new Date(now.getTime() - 60_000).toISOString()}::timestamptz order by bucket`,
    ),
  ]);
  // The build error is the gateway's, not the heartbeat's: shown (or cleared) at once, before the
  // next heartbeat recomputes the findings.
  const build = agent.configBuildError;
  const current = agent.findings.filter((f) => f.kind !== 'config_unbuildable');
  if (build) {
    current.unshift({ key: 'config_unbuildable', severity: 'critical', kind: 'config_unbuildable', title: findingTitle('config_unbuildable'), facts: { error: build }, since: (agent.configBuildErrorAt ?? now).toISOString() });
  }
  const instanceId = typeof agent.description.instanceId === 'string' ? agent.description.instanceId : undefined;
  const findings = await Promise.all(current.map(async (f) => ({ ...f, remedy: await remedyForFinding(ctx, f, { instanceId }) })));
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
      filtered: num(r.samples_filtered) / 60,
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
 * the window (dropped over sent + dropped; samples filtered on purpose apart), the rate series of
 * the published version, whether the fleet has any history in the window yet (`history`), and a
 * regression flag when agents dropped clearly more after the published version rolled out than before.
 */
export async function pipelineStats(ctx: { db: Db }, pipelineId: string, input: { windowMinutes: number; now?: Date }) {
  const now = input.now ?? new Date();
  const rollout = await pipelineRollout(ctx, pipelineId, 0);
  const versions = await queryRows<{ scope: string; sent: string; dropped: string; filtered: string }>(
    ctx.db,
    sql`select scope, sum(samples_sent) as sent, sum(samples_dropped) as dropped, sum(samples_filtered) as filtered from stats_rollups
        where scope like ${`pipeline:${pipelineId}:%`} and step_seconds = 300 and bucket >= ${since(now, input.windowMinutes).toISOString()}::timestamptz
        group by scope`,
  );
  const seconds = input.windowMinutes * 60;
  const perVersion = versions
    .map((v) => {
      const version = Number(v.scope.split(':').at(-1));
      const sent = num(v.sent);
      const dropped = num(v.dropped);
      const filtered = num(v.filtered);
      // Over what was meant to be sent: samples filtered on purpose are neither sent nor lost.
      return { version, agents: rollout.running.find((r) => r.version === version)?.agents ?? 0, sentPerSecond: sent / seconds, dropRate: sent + dropped > 0 ? dropped / (sent + dropped) : 0, sent, dropped, filtered };
    })
    .sort((a, b) => b.version - a.version);
  for (const r of rollout.running) if (!perVersion.some((v) => v.version === r.version)) perVersion.push({ version: r.version, agents: r.agents, sentPerSecond: 0, dropRate: 0, sent: 0, dropped: 0, filtered: 0 });
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
  const [series, history] = await Promise.all([
    rollout.publishedVersion === null ? { step: stepFor(input.windowMinutes), points: [] as RatePoint[] } : rateSeries(ctx.db, `pipeline:${pipelineId}:${rollout.publishedVersion}`, input.windowMinutes, now),
    historyIn(ctx.db, input.windowMinutes, now),
  ]);
  return { publishedVersion: rollout.publishedVersion, perVersion, series, regression, history };
}

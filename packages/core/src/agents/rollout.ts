import { agents, awsAccounts, pipelines, pipelineVersions, queryRows, type Db } from '@fleet/db';
import { and, asc, eq, isNull, or, sql, type SQLWrapper } from 'drizzle-orm';
import { AppError } from '../errors.js';
import { resolveDocument } from '../pipelines/document.js';
import { brokenVersionTag } from './effective-config.js';

/** `text` as a literal inside a LIKE pattern (the escape character is a backslash). */
const likeEscape = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/** Where one agent is in the rollout of a pipeline. */
export type RolloutState = 'applied' | 'pending' | 'failed' | 'offline';

/**
 * Rollout of a pipeline: for the published version, how many of the agents it selects run it
 * (applied), are still getting it (pending), reported an error (failed) or are offline; how many
 * agents still run each older version; and per agent its desired vs applied config and since when.
 */
export async function pipelineRollout(ctx: { db: Db }, pipelineId: string, limit = 200) {
  const [published] = await ctx.db
    .select({ name: pipelines.name, version: pipelineVersions.version, publishedAt: pipelineVersions.publishedAt, config: pipelineVersions.config, accountRefs: pipelineVersions.accountRefs })
    .from(pipelineVersions)
    .innerJoin(pipelines, eq(pipelines.id, pipelineVersions.pipelineId))
    .where(and(eq(pipelineVersions.pipelineId, pipelineId), eq(pipelineVersions.published, true)));
  // A published version that no longer resolves (its account was deleted…) is not sent to any
  // agent: they keep their last good config. Say so, instead of counting them as pending.
  let buildProblem: string | null = null;
  let blocked: Array<{ id: string; name: string; configBuildError: string | null }> = [];
  if (published) {
    const check = resolveDocument(published.config, await ctx.db.select().from(awsAccounts), published.accountRefs);
    if (!check.ok) {
      buildProblem = check.issues.map((i) => `${i.path}: ${i.message}`).join('; ');
      blocked = await ctx.db
        .select({ id: agents.id, name: agents.name, configBuildError: agents.configBuildError })
        .from(agents)
        .where(and(isNull(agents.revokedAt), sql`${agents.configBuildError} like ${`%${likeEscape(brokenVersionTag(published))}%`} escape '\\'`))
        .orderBy(asc(agents.name))
        .limit(20);
    }
  }
  const ref = JSON.stringify([{ id: pipelineId }]);
  const versionIn = (column: SQLWrapper) => sql<number | null>`(select (e->>'version')::int from jsonb_array_elements(${column}) e where e->>'id' = ${pipelineId} limit 1)`;
  const involved = and(isNull(agents.revokedAt), or(sql`${agents.desiredPipelines} @> ${ref}::jsonb`, sql`${agents.appliedPipelines} @> ${ref}::jsonb`));
  // The counts are aggregated in the database (a fleet has thousands of agents) and only the first
  // `limit` agents (by name) are read. The SQL `state` and the one computed per listed agent below
  // follow the same rule.
  const [counts, rows] = await Promise.all([
    queryRows<{ state: RolloutState; selected: boolean; applied_version: number | null; n: number }>(
      ctx.db,
      sql`with r as (
            select ${agents.connected} as connected, ${agents.configStatus} as config_status, ${agents.desiredConfigHash} as desired_hash, ${agents.appliedConfigHash} as applied_hash,
              ${versionIn(agents.desiredPipelines)} as dv, ${versionIn(agents.appliedPipelines)} as av
            from ${agents} where ${involved}
          )
          select case when not connected then 'offline'
                      when dv is not null and av = dv and applied_hash is not distinct from desired_hash then 'applied'
                      when config_status = 'failed' then 'failed' else 'pending' end as state,
            dv is not null as selected, av as applied_version, count(*)::int as n
          from r group by 1, 2, 3`,
    ),
    limit > 0
      ? ctx.db
          .select({
            id: agents.id,
            name: agents.name,
            connected: agents.connected,
            offlineSince: agents.offlineSince,
            configStatus: agents.configStatus,
            configError: agents.configError,
            configStatusAt: agents.configStatusAt,
            desiredConfigHash: agents.desiredConfigHash,
            appliedConfigHash: agents.appliedConfigHash,
            desiredVersion: versionIn(agents.desiredPipelines),
            appliedVersion: versionIn(agents.appliedPipelines),
          })
          .from(agents)
          .where(involved)
          .orderBy(asc(agents.name))
          .limit(limit)
      : Promise.resolve([]),
  ]);
  if (!published && counts.length === 0) {
    const [exists] = await ctx.db.select({ id: pipelineVersions.id }).from(pipelineVersions).where(eq(pipelineVersions.pipelineId, pipelineId)).limit(1);
    if (!exists) throw new AppError('NOT_FOUND', 'no such pipeline');
  }
  const summary: Record<RolloutState, number> = { applied: 0, pending: 0, failed: 0, offline: 0 };
  const running = new Map<number, number>();
  let selected = 0;
  for (const c of counts) {
    if (c.selected) {
      summary[c.state] += c.n;
      selected += c.n;
    }
    if (c.applied_version !== null) running.set(c.applied_version, (running.get(c.applied_version) ?? 0) + c.n);
  }
  const list = rows.map((r) => {
    const isSelected = r.desiredVersion !== null;
    let state: RolloutState;
    if (!r.connected) state = 'offline';
    else if (isSelected && r.appliedVersion === r.desiredVersion && r.appliedConfigHash === r.desiredConfigHash) state = 'applied';
    else if (r.configStatus === 'failed') state = 'failed';
    else state = 'pending';
    return { ...r, selected: isSelected, state };
  });
  return {
    publishedVersion: published?.version ?? null,
    publishedAt: published?.publishedAt ?? null,
    /** Why the published version cannot be built now (null when it can). */
    buildProblem,
    /** Agents that keep their last good config because this version cannot be built. */
    blocked,
    selected,
    summary,
    running: [...running.entries()].sort((a, b) => b[0] - a[0]).map(([version, agentCount]) => ({ version, agents: agentCount })),
    agents: list,
  };
}

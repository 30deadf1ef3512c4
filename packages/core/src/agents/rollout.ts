import { agents, pipelineVersions, type Db } from '@fleet/db';
import { and, asc, eq, isNull, or, sql } from 'drizzle-orm';
import { AppError } from '../errors.js';

/** Where one agent is in the rollout of a pipeline. */
export type RolloutState = 'applied' | 'pending' | 'failed' | 'offline';

/**
 * Rollout of a pipeline: for the published version, how many of the agents it selects run it
 * (applied), are still getting it (pending), reported an error (failed) or are offline; how many
 * agents still run each older version; and per agent its desired vs applied config and since when.
 */
export async function pipelineRollout(ctx: { db: Db }, pipelineId: string, limit = 200) {
  const [published] = await ctx.db
    .select({ version: pipelineVersions.version, publishedAt: pipelineVersions.publishedAt })
    .from(pipelineVersions)
    .where(and(eq(pipelineVersions.pipelineId, pipelineId), eq(pipelineVersions.published, true)));
  const ref = JSON.stringify([{ id: pipelineId }]);
  const rows = await ctx.db
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
      desiredVersion: sql<number | null>`(select (e->>'version')::int from jsonb_array_elements(${agents.desiredPipelines}) e where e->>'id' = ${pipelineId} limit 1)`,
      appliedVersion: sql<number | null>`(select (e->>'version')::int from jsonb_array_elements(${agents.appliedPipelines}) e where e->>'id' = ${pipelineId} limit 1)`,
    })
    .from(agents)
    .where(and(isNull(agents.revokedAt), or(sql`${agents.desiredPipelines} @> ${ref}::jsonb`, sql`${agents.appliedPipelines} @> ${ref}::jsonb`)))
    .orderBy(asc(agents.name));
  if (!published && rows.length === 0) {
    const [exists] = await ctx.db.select({ id: pipelineVersions.id }).from(pipelineVersions).where(eq(pipelineVersions.pipelineId, pipelineId)).limit(1);
    if (!exists) throw new AppError('NOT_FOUND', 'no such pipeline');
  }
  const summary: Record<RolloutState, number> = { applied: 0, pending: 0, failed: 0, offline: 0 };
  const running = new Map<number, number>();
  const list = rows.map((r) => {
    const selected = r.desiredVersion !== null;
    let state: RolloutState;
    if (!r.connected) state = 'offline';
    else if (selected && r.appliedVersion === r.desiredVersion && r.appliedConfigHash === r.desiredConfigHash) state = 'applied';
    else if (r.configStatus === 'failed') state = 'failed';
    else state = 'pending';
    if (selected) summary[state]++;
    if (r.appliedVersion !== null) running.set(r.appliedVersion, (running.get(r.appliedVersion) ?? 0) + 1);
    return { ...r, selected, state };
  });
  return {
    publishedVersion: published?.version ?? null,
    publishedAt: published?.publishedAt ?? null,
    selected: list.filter((a) => a.selected).length,
    summary,
    running: [...running.entries()].sort((a, b) => b[0] - a[0]).map(([version, agentCount]) => ({ version, agents: agentCount })),
    agents: list.slice(0, limit),
  };
}

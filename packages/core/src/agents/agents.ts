import { agents, type Db } from '@fleet/db';
import { and, asc, count, eq, ilike, inArray, isNull, or, sql, type SQL } from 'drizzle-orm';
import { z } from 'zod';
import { recordAudit } from '../audit/audit.js';
import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { announceAgentChange } from './notify.js';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Labels an operator sets on an agent (they drive pipeline selectors). */
export const agentLabelsSchema = z.record(z.string(), z.string().max(1024)).superRefine((labels, ctx) => {
  const names = Object.keys(labels);
  if (names.length > 64) ctx.addIssue({ code: 'custom', message: 'at most 64 labels' });
  for (const name of names) if (!LABEL_NAME.test(name) || name.length > 128) ctx.addIssue({ code: 'custom', path: [name], message: 'not a valid label name' });
});

/** How an agent is doing, from the operator's point of view. */
export type AgentState = 'online' | 'offline' | 'never_connected';

/** Filter for {@link listAgents}. */
export interface AgentFilter {
  /** Case-insensitive substring of the name, id, or a label value. */
  search?: string | undefined;
  state?: AgentState | undefined;
  configStatus?: 'pending' | 'applying' | 'applied' | 'failed' | 'none' | undefined;
  /** Connected agents of this health (from their latest heartbeat). */
  health?: 'healthy' | 'degraded' | 'failing' | undefined;
  limit?: number | undefined;
  offset?: number | undefined;
}

const listColumns = {
  id: agents.id,
  name: agents.name,
  labels: agents.labels,
  platform: agents.platform,
  description: agents.description,
  connected: agents.connected,
  lastSeenAt: agents.lastSeenAt,
  offlineSince: agents.offlineSince,
  connectedAt: agents.connectedAt,
  enrolledAt: agents.enrolledAt,
  desiredConfigHash: agents.desiredConfigHash,
  appliedConfigHash: agents.appliedConfigHash,
  desiredPipelines: agents.desiredPipelines,
  appliedPipelines: agents.appliedPipelines,
  configStatus: agents.configStatus,
  configError: agents.configError,
  configStatusAt: agents.configStatusAt,
  counters: sql<Record<string, number> | null>`${agents.lastHeartbeat} -> 'counters'`,
  health: agents.health,
  findings: sql<Array<{ kind: string; severity: string; title: string }>>`(select coalesce(jsonb_agg(jsonb_build_object('kind', f->>'kind', 'severity', f->>'severity', 'title', f->>'title')), '[]'::jsonb) from jsonb_array_elements(${agents.findings}) f)`,
};

function stateOf(a: { connected: boolean; lastSeenAt: Date | null }): AgentState {
  if (a.connected) return 'online';
  return a.lastSeenAt ? 'offline' : 'never_connected';
}

/** Enrolled agents (not removed), paginated and filtered on the server, with their state. */
export async function listAgents(ctx: { db: Db }, filter: AgentFilter = {}) {
  const where: SQL[] = [isNull(agents.revokedAt)];
  if (filter.search) {
    const q = `%${filter.search}%`;
    where.push(or(ilike(agents.name, q), ilike(sql`${agents.id}::text`, q), ilike(sql`${agents.labels}::text`, q))!);
  }
  if (filter.state === 'online') where.push(eq(agents.connected, true));
  if (filter.state === 'offline') where.push(and(eq(agents.connected, false), sql`${agents.lastSeenAt} is not null`)!);
  if (filter.state === 'never_connected') where.push(sql`${agents.lastSeenAt} is null`);
  if (filter.configStatus) where.push(eq(agents.configStatus, filter.configStatus));
  // As the overview counts them: a failed config makes a connected agent failing.
  if (filter.health === 'failing') where.push(and(eq(agents.connected, true), or(eq(agents.health, 'failing'), eq(agents.configStatus, 'failed')))!);
  else if (filter.health) where.push(and(eq(agents.connected, true), eq(agents.health, filter.health), sql`${agents.configStatus} <> 'failed'`)!);
  const cond = and(...where);
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 500);
  // The page's ids first (narrow columns only), then the listed columns of those rows alone: an
  // offset of thousands would otherwise build the wide columns (heartbeat counters, findings) of
  // every row it skips.
  const page = ctx.db
    .select({ id: agents.id })
    .from(agents)
    .where(cond)
    .orderBy(asc(agents.name), asc(agents.id))
    .limit(limit)
    .offset(Math.max(filter.offset ?? 0, 0));
  const [rows, [total], [summary]] = await Promise.all([
    ctx.db
      .select(listColumns)
      .from(agents)
      .where(inArray(agents.id, page))
      .orderBy(asc(agents.name), asc(agents.id)),
    ctx.db.select({ n: count() }).from(agents).where(cond),
    ctx.db
      .select({
        online: sql<number>`count(*) filter (where ${agents.connected})::int`,
        offline: sql<number>`count(*) filter (where not ${agents.connected} and ${agents.lastSeenAt} is not null)::int`,
        neverConnected: sql<number>`count(*) filter (where ${agents.lastSeenAt} is null)::int`,
        failed: sql<number>`count(*) filter (where ${agents.configStatus} = 'failed')::int`,
        pending: sql<number>`count(*) filter (where ${agents.configStatus} in ('pending', 'applying'))::int`,
      })
      .from(agents)
      .where(isNull(agents.revokedAt)),
  ]);
  return { total: total?.n ?? 0, summary: summary!, agents: rows.map((r) => ({ ...r, state: stateOf(r) })) };
}

/** One agent with its latest heartbeat (live counters, destinations, targets). */
export async function getAgent(ctx: { db: Db }, id: string) {
  const [row] = await ctx.db
    .select({ ...listColumns, lastHeartbeat: agents.lastHeartbeat, awsIdentityArn: agents.awsIdentityArn, connectedReplica: agents.connectedReplica })
    .from(agents)
    .where(and(eq(agents.id, id), isNull(agents.revokedAt)));
  if (!row) throw new AppError('NOT_FOUND', 'no such agent (it may have been removed)');
  return { ...row, state: stateOf(row) };
}

/** Replaces an agent's labels; connected agents get the config their new labels select at once. */
export async function setAgentLabels(ctx: ServiceContext, id: string, labels: Record<string, string>) {
  const parsed = agentLabelsSchema.safeParse(labels);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError('BAD_INPUT', `labels${issue.path.length ? `.${issue.path.join('.')}` : ''}: ${issue.message}`, { field: 'labels' });
  }
  await ctx.db.transaction(async (tx) => {
    const before = await getAgent({ db: tx }, id);
    await tx.update(agents).set({ labels: parsed.data }).where(eq(agents.id, id));
    await recordAudit({ ...ctx, db: tx }, { action: 'agent.labels', targetType: 'agent', targetId: id, before: { name: before.name, labels: before.labels }, after: { name: before.name, labels: parsed.data } });
    await announceAgentChange(tx, { kind: 'agent', id });
  });
}

/**
 * Removes an agent: its secret stops working at once and its socket (on whichever replica
 * holds it) is closed. It must enroll again to come back.
 */
export async function removeAgent(ctx: ServiceContext, id: string) {
  await ctx.db.transaction(async (tx) => {
    const before = await getAgent({ db: tx }, id);
    await tx.update(agents).set({ revokedAt: new Date(), connected: false, offlineSince: sql`coalesce(${agents.offlineSince}, now())` }).where(eq(agents.id, id));
    await recordAudit({ ...ctx, db: tx }, { action: 'agent.remove', targetType: 'agent', targetId: id, before: { name: before.name, labels: before.labels, platform: before.platform } });
    await announceAgentChange(tx, { kind: 'agent', id, removed: true });
  });
}

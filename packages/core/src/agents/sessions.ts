import { createHash, timingSafeEqual } from 'node:crypto';
import { agents, type ConfigPipelineRef, type Db } from '@fleet/db';
import { and, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import { AppError } from '../errors.js';
import { closeConnectionsOf } from '../fleet/stats.js';
import type { EffectiveConfig } from './effective-config.js';

/** The agent a WebSocket session belongs to, as the gateway needs it. */
export interface SessionAgent {
  id: string;
  name: string;
  labels: Record<string, string>;
  appliedConfigHash: string | null;
}

const sha256 = (s: string) => createHash('sha256').update(s).digest();
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Checks an agent's id and secret (sha256 compared in constant time). Removed agents and
 * unknown ids fail alike, without saying which.
 * @throws AppError UNAUTHENTICATED
 */
export async function authenticateAgent(db: Db, agentId: string, secret: string): Promise<SessionAgent> {
  const refuse = () => new AppError('UNAUTHENTICATED', 'unknown agent or wrong secret (re-enroll the agent if it was removed)');
  if (!UUID.test(agentId) || secret.length < 32 || secret.length > 200) throw refuse();
  const [row] = await db
    .select({ id: agents.id, name: agents.name, labels: agents.labels, secretHash: agents.secretHash, revokedAt: agents.revokedAt, appliedConfigHash: agents.appliedConfigHash })
    .from(agents)
    .where(eq(agents.id, agentId));
  const given = sha256(secret);
  const stored = row ? Buffer.from(row.secretHash, 'hex') : Buffer.alloc(32);
  const same = stored.length === given.length && timingSafeEqual(stored, given);
  if (!row || !same || row.revokedAt) throw refuse();
  return { id: row.id, name: row.name, labels: row.labels, appliedConfigHash: row.appliedConfigHash };
}

/** Labels of an agent now (after an operator changed them), or undefined when it is removed. */
export async function currentAgentLabels(db: Db, agentId: string): Promise<Record<string, string> | undefined> {
  const [row] = await db.select({ labels: agents.labels }).from(agents).where(and(eq(agents.id, agentId), isNull(agents.revokedAt)));
  return row?.labels;
}

/**
 * Records that the agent connected (through `replica`) and what it said in `hello`: its
 * description (labels in `hello` are ignored: after enrollment, labels belong to operators)
 * and the hash of the config it runs.
 */
export async function recordAgentConnected(
  db: Db,
  agentId: string,
  hello: { replica: string; description: Record<string, unknown>; runningConfigHash: string | null },
): Promise<void> {
  const { labels: _ignored, ...description } = hello.description as { labels?: unknown; hostname?: unknown };
  const now = new Date();
  await db
    .update(agents)
    .set({
      connected: true,
      connectedAt: now,
      connectedReplica: hello.replica,
      lastSeenAt: now,
      offlineSince: null,
      description: description as Record<string, unknown>,
      ...(typeof description.hostname === 'string' ? { name: description.hostname } : {}),
      ...(hello.runningConfigHash ? { appliedConfigHash: hello.runningConfigHash } : {}),
    })
    .where(eq(agents.id, agentId));
}

/**
 * Records the config the agent should run. Its status becomes `applied` when the agent already
 * runs exactly that config, else `pending` (until it reports `applying`/`applied`/`failed`).
 */
export async function recordDesiredConfig(db: Db, agentId: string, desired: EffectiveConfig): Promise<'applied' | 'pending'> {
  const [row] = await db
    .update(agents)
    .set({
      desiredConfigHash: desired.configHash,
      desiredPipelines: desired.pipelines,
      desiredConfig: desired.config,
      appliedConfig: sql`case when ${agents.appliedConfigHash} = ${desired.configHash} then ${JSON.stringify(desired.config)}::jsonb else ${agents.appliedConfig} end`,
      configStatus: sql`case when ${agents.appliedConfigHash} = ${desired.configHash} then 'applied'
        when ${agents.desiredConfigHash} is distinct from ${desired.configHash} or ${agents.configStatus} = 'none' then 'pending'
        else ${agents.configStatus} end`,
      appliedPipelines: sql`case when ${agents.appliedConfigHash} = ${desired.configHash} then ${JSON.stringify(desired.pipelines)}::jsonb else ${agents.appliedPipelines} end`,
      configError: sql`case when ${agents.appliedConfigHash} = ${desired.configHash} then null else ${agents.configError} end`,
      configStatusAt: sql`case when ${agents.desiredConfigHash} is distinct from ${desired.configHash} then now() else ${agents.configStatusAt} end`,
      configBuildError: null,
      configBuildErrorAt: null,
    })
    .where(eq(agents.id, agentId))
    .returning({ status: agents.configStatus });
  return row?.status === 'applied' ? 'applied' : 'pending';
}

/**
 * Records that the control plane could not build the agent's config (`message` names the
 * pipelines and why). The desired config stays the last one built, so the agent keeps running it.
 */
export async function recordConfigBuildFailure(db: Db, agentId: string, message: string): Promise<void> {
  await db
    .update(agents)
    .set({ configBuildError: message, configBuildErrorAt: sql`case when ${agents.configBuildError} is not distinct from ${message} then ${agents.configBuildErrorAt} else now() end` })
    .where(eq(agents.id, agentId));
}

/**
 * Records a `configStatus` report. `applied` of the desired hash also records which pipeline
 * versions the agent now runs; a `failed` keeps the previous applied config (the agent still
 * runs it) and stores the error.
 */
export async function recordConfigStatus(db: Db, agentId: string, report: { configHash: string; status: 'applying' | 'applied' | 'failed'; error?: string | undefined }): Promise<void> {
  const now = new Date();
  if (report.status === 'applied') {
    await db
      .update(agents)
      .set({
        appliedConfigHash: report.configHash,
        appliedPipelines: sql`case when ${agents.desiredConfigHash} = ${report.configHash} then ${agents.desiredPipelines} else ${agents.appliedPipelines} end`,
        appliedConfig: sql`case when ${agents.desiredConfigHash} = ${report.configHash} then ${agents.desiredConfig} else ${agents.appliedConfig} end`,
        configStatus: sql`case when ${agents.desiredConfigHash} = ${report.configHash} then 'applied' else 'pending' end`,
        configError: null,
        configStatusAt: now,
      })
      .where(eq(agents.id, agentId));
    return;
  }
  // A report about a config that is no longer desired is stale: keep it out of the status.
  await db
    .update(agents)
    .set({ configStatus: report.status, configError: report.status === 'failed' ? (report.error ?? 'failed') : null, configStatusAt: now })
    .where(and(eq(agents.id, agentId), eq(agents.desiredConfigHash, report.configHash)));
}

/** Marks the agent offline when its session on `replica` ends (a newer session elsewhere wins). */
export async function recordAgentDisconnected(db: Db, agentId: string, replica: string): Promise<void> {
  await db
    .update(agents)
    .set({ connected: false, offlineSince: new Date() })
    .where(and(eq(agents.id, agentId), eq(agents.connectedReplica, replica), eq(agents.connected, true)));
}

/**
 * Marks agents offline whose last heartbeat is older than `silentForMs` (their replica may have
 * died without saying so); `offlineSince` is the last time they were heard. Returns their ids.
 */
export async function markSilentAgentsOffline(db: Db, silentForMs: number, now = new Date()): Promise<string[]> {
  const cutoff = new Date(now.getTime() - silentForMs);
  const rows = await db
    .update(agents)
    .set({ connected: false, offlineSince: sql`coalesce(${agents.lastSeenAt}, now())` })
    .where(and(eq(agents.connected, true), lt(agents.lastSeenAt, cutoff)))
    .returning({ id: agents.id });
  const ids = rows.map((r) => r.id);
  await closeConnectionsOf(db, ids, 'silent: missed its heartbeats', now);
  return ids;
}

/** Marks every agent held by `replica` offline (at shutdown: the sockets close with the process). */
export async function releaseReplicaAgents(db: Db, replica: string, ids: string[]): Promise<void> {
  if (!ids.length) return;
  await db
    .update(agents)
    .set({ connected: false, offlineSince: new Date() })
    .where(and(inArray(agents.id, ids), eq(agents.connectedReplica, replica)));
  await closeConnectionsOf(db, ids, 'the control-plane replica stopped');
}

export type { ConfigPipelineRef };

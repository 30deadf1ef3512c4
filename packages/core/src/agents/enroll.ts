import { createHash, randomBytes } from 'node:crypto';
import { agents, type Db } from '@fleet/db';
import { recordAudit } from '../audit/audit.js';
import { AppError } from '../errors.js';
import { consumeEnrollmentToken } from '../enrollment/tokens.js';

/** What an agent says about itself when it enrolls (validated by @fleet/protocol). */
export interface EnrollingAgent {
  hostname: string;
  version: string;
  platform: 'ec2' | 'eks' | 'generic';
  instanceId?: string | undefined;
  region?: string | undefined;
  accountId?: string | undefined;
  cluster?: string | undefined;
  namespace?: string | undefined;
  pod?: string | undefined;
  labels: Record<string, string>;
}

/** Default heartbeat interval told to agents. */
export const HEARTBEAT_INTERVAL_MS = 15_000;

/**
 * Enrolls an agent with a token: consumes one use, checks the token's platform, creates the
 * agent with the token's labels stamped over its own, and returns its id and a new secret
 * (only the sha256 is stored). Identity-bound tokens are refused until identity proof lands.
 * @throws AppError UNAUTHENTICATED (token unknown/expired/used up/revoked), FORBIDDEN (platform)
 */
export async function enrollAgent(ctx: { db: Db; sourceIp?: string | undefined }, token: string, agent: EnrollingAgent) {
  return ctx.db.transaction(async (tx) => {
    const t = await consumeEnrollmentToken(tx, token);
    if (t.platform !== 'any' && t.platform !== agent.platform) {
      throw new AppError('FORBIDDEN', `this token enrolls ${t.platform} agents; this agent runs on ${agent.platform}`, { field: 'description.platform' });
    }
    if (t.awsBinding) {
      throw new AppError('FORBIDDEN', 'this token requires an AWS identity proof, which this control plane does not verify yet', { field: 'identityProof' });
    }
    const secret = randomBytes(32).toString('base64url');
    const { labels, hostname, ...description } = agent;
    const [row] = await tx
      .insert(agents)
      .values({
        name: hostname,
        secretHash: createHash('sha256').update(secret).digest('hex'),
        labels: { ...labels, ...t.labels },
        platform: agent.platform,
        description: { hostname, ...description },
        enrollmentTokenId: t.id,
      })
      .returning({ id: agents.id, labels: agents.labels });
    await recordAudit({ db: tx, actor: { type: 'agent', id: row!.id }, sourceIp: ctx.sourceIp }, {
      action: 'agent.enroll',
      targetType: 'agent',
      targetId: row!.id,
      after: { name: hostname, platform: agent.platform, labels: row!.labels, token: t.name },
    });
    return { agentId: row!.id, agentSecret: secret, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS };
  });
}

import { createHash, randomBytes } from 'node:crypto';
import { agents, enrollmentTokens, type Db } from '@fleet/db';
import { eq } from 'drizzle-orm';
import { recordAudit } from '../audit/audit.js';
import { AppError } from '../errors.js';
import { consumeEnrollmentToken } from '../enrollment/tokens.js';
import { verifyIdentityProof, type IdentityProof, type IdentityProofSettings, type ProvenAwsIdentity } from '../enrollment/identity-proof.js';

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

type TokenRow = typeof enrollmentTokens.$inferSelect;

function checkPlatform(t: TokenRow, agent: EnrollingAgent): void {
  if (t.platform !== 'any' && t.platform !== agent.platform) {
    throw new AppError('FORBIDDEN', `this token enrolls ${t.platform} agents; this agent runs on ${agent.platform}`, { field: 'description.platform' });
  }
}

function usable(t: TokenRow, now: Date): boolean {
  return !t.revokedAt && t.expiresAt > now && (t.maxUses === null || t.useCount < t.maxUses);
}

/**
 * Enrolls an agent with a token: consumes one use, checks the token's platform, creates the
 * agent with the token's labels stamped over its own, and returns its id and a new secret
 * (only the sha256 is stored).
 *
 * A token with an AWS binding also needs `identityProof` (see verifyIdentityProof; unbound
 * tokens ignore it). The proof is verified before the enrollment transaction — its challenge is
 * used up in a statement of its own, so it stays used when any check refuses the proof, and no
 * transaction stays open while STS answers; a refused proof does not count as a use of the
 * token. The proven role (or user) ARN is stored on the agent (`awsIdentityArn`) and in the
 * audit entry, with the ARN STS answered.
 * @throws AppError UNAUTHENTICATED (token unknown/expired/used up/revoked, proof missing or
 *   invalid), FORBIDDEN (platform, identity not allowed by the binding), UNAVAILABLE (STS unreachable)
 */
export async function enrollAgent(
  ctx: { db: Db; sourceIp?: string | undefined; identityProof?: IdentityProofSettings | undefined },
  token: string,
  agent: EnrollingAgent,
  identityProof?: IdentityProof,
) {
  const now = new Date();
  // A look at the token first: only a usable, bound token makes the proof worth checking (an
  // unusable one is refused with its reason by consumeEnrollmentToken below).
  const [peek] = await ctx.db.select().from(enrollmentTokens).where(eq(enrollmentTokens.tokenHash, createHash('sha256').update(token).digest('hex')));
  let proven: ProvenAwsIdentity | undefined;
  if (peek?.awsBinding && usable(peek, now)) {
    checkPlatform(peek, agent);
    proven = await verifyIdentityProof({ db: ctx.db, settings: ctx.identityProof, now }, identityProof, peek.awsBinding);
  }
  return ctx.db.transaction(async (tx) => {
    const t = await consumeEnrollmentToken(tx, token);
    checkPlatform(t, agent);
    // A token's binding never changes and an unusable token never becomes usable again, so the
    // look above saw the binding; this guards against that ever being wrong.
    if (t.awsBinding && !proven) throw new AppError('CONFLICT', 'the enrollment token changed while enrolling; try again', { field: 'token' });
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
        awsIdentityArn: proven?.arn ?? null,
        enrollmentTokenId: t.id,
      })
      .returning({ id: agents.id, labels: agents.labels });
    await recordAudit({ db: tx, actor: { type: 'agent', id: row!.id }, sourceIp: ctx.sourceIp }, {
      action: 'agent.enroll',
      targetType: 'agent',
      targetId: row!.id,
      after: {
        name: hostname,
        platform: agent.platform,
        labels: row!.labels,
        token: t.name,
        ...(proven ? { awsIdentityArn: proven.arn, awsCallerArn: proven.callerArn } : {}),
      },
    });
    return { agentId: row!.id, agentSecret: secret, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, awsIdentityArn: proven?.arn ?? null };
  });
}

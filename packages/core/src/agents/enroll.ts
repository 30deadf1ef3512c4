import { createHash, randomBytes } from 'node:crypto';
import { agents, enrollmentTokens, type Db } from '@fleet/db';
import { eq } from 'drizzle-orm';
import { recordAudit } from '../audit/audit.js';
import { AppError } from '../errors.js';
import { consumeEnrollmentToken, SELF_DECLARED_LABEL_LIMITS } from '../enrollment/tokens.js';
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

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Checks the labels an agent declared for itself against {@link SELF_DECLARED_LABEL_LIMITS}.
 * @throws AppError BAD_INPUT naming the label (`description.labels.<name>`)
 */
export function checkSelfDeclaredLabels(labels: Record<string, string>): void {
  const names = Object.keys(labels);
  const { count, nameLength, valueLength } = SELF_DECLARED_LABEL_LIMITS;
  if (names.length > count) throw new AppError('BAD_INPUT', `description.labels: an agent declares at most ${count} labels (got ${names.length})`, { field: 'description.labels' });
  for (const name of names) {
    const shown = name.length > 64 ? `${name.slice(0, 63)}…` : name;
    const refuse = (why: string) => new AppError('BAD_INPUT', `description.labels.${shown}: ${why}`, { field: `description.labels.${shown}` });
    if (name.length > nameLength) throw refuse(`label names are at most ${nameLength} characters`);
    if (!LABEL_NAME.test(name)) throw refuse('not a valid label name: letters, digits and _, not starting with a digit');
    if (name.startsWith('__')) throw refuse('label names starting with __ are reserved');
    if (labels[name]!.length > valueLength) throw refuse(`label values are at most ${valueLength} characters`);
  }
}

/**
 * The labels an agent enrolled with token `t` gets: the token's labels, plus the ones the agent
 * declared itself when the token allows them (`allowAgentLabels`). The token's labels win: a
 * declared label whose name the token sets is ignored (listed in `ignored`, recorded in the
 * audit entry) — so an agent on a `team=sre` token can add `role=web` but never change `team`.
 * @throws AppError FORBIDDEN (`description.labels`) when the token forbids declared labels and the agent sent some
 */
export function enrollmentLabels(t: Pick<TokenRow, 'labels' | 'allowAgentLabels'>, declared: Record<string, string>): { labels: Record<string, string>; ignored: string[] } {
  const names = Object.keys(declared);
  if (names.length && !t.allowAgentLabels) {
    const listed = names.slice(0, 5).join(', ') + (names.length > 5 ? `, … (${names.length})` : '');
    throw new AppError('FORBIDDEN', `this enrollment token does not accept labels chosen by the agent (${listed}); enroll without --label: the token's labels are stamped on`, {
      field: 'description.labels',
    });
  }
  const ignored = names.filter((n) => Object.hasOwn(t.labels, n));
  const own = Object.fromEntries(Object.entries(declared).filter(([n]) => !Object.hasOwn(t.labels, n)));
  return { labels: { ...own, ...t.labels }, ignored };
}

function usable(t: TokenRow, now: Date): boolean {
  return !t.revokedAt && t.expiresAt > now && (t.maxUses === null || t.useCount < t.maxUses);
}

/**
 * Enrolls an agent with a token: consumes one use, checks the token's platform, creates the
 * agent with the token's labels and (when the token allows it) the labels it declared itself,
 * the token's winning (see {@link enrollmentLabels}; declared labels are limited by
 * {@link checkSelfDeclaredLabels}), and returns its id and a new secret (only the sha256 is stored).
 *
 * A token with an AWS binding also needs `identityProof` (see verifyIdentityProof; unbound
 * tokens ignore it). The proof is verified before the enrollment transaction — its challenge is
 * used up in a statement of its own, so it stays used when any check refuses the proof, and no
 * transaction stays open while STS answers; a refused proof does not count as a use of the
 * token. The proven role (or user) ARN is stored on the agent (`awsIdentityArn`) and in the
 * audit entry, with the ARN STS answered.
 * @throws AppError UNAUTHENTICATED (token unknown/expired/used up/revoked, proof missing or
 *   invalid), FORBIDDEN (platform, identity not allowed by the binding, declared labels on a token
 *   that forbids them), BAD_INPUT (declared labels beyond the limits), UNAVAILABLE (STS unreachable)
 */
export async function enrollAgent(
  ctx: { db: Db; sourceIp?: string | undefined; identityProof?: IdentityProofSettings | undefined },
  token: string,
  agent: EnrollingAgent,
  identityProof?: IdentityProof,
) {
  checkSelfDeclaredLabels(agent.labels);
  const now = new Date();
  // A look at the token first: only a usable, bound token makes the proof worth checking (an
  // unusable one is refused with its reason by consumeEnrollmentToken below).
  const [peek] = await ctx.db.select().from(enrollmentTokens).where(eq(enrollmentTokens.tokenHash, createHash('sha256').update(token).digest('hex')));
  let proven: ProvenAwsIdentity | undefined;
  if (peek?.awsBinding && usable(peek, now)) {
    checkPlatform(peek, agent);
    enrollmentLabels(peek, agent.labels);
    proven = await verifyIdentityProof({ db: ctx.db, settings: ctx.identityProof, now }, identityProof, peek.awsBinding);
  }
  return ctx.db.transaction(async (tx) => {
    const t = await consumeEnrollmentToken(tx, token);
    checkPlatform(t, agent);
    const { labels, ignored } = enrollmentLabels(t, agent.labels);
    // A token's binding never changes and an unusable token never becomes usable again, so the
    // look above saw the binding; this guards against that ever being wrong.
    if (t.awsBinding && !proven) throw new AppError('CONFLICT', 'the enrollment token changed while enrolling; try again', { field: 'token' });
    const secret = randomBytes(32).toString('base64url');
    const { labels: _declared, hostname, ...description } = agent;
    const [row] = await tx
      .insert(agents)
      .values({
        name: hostname,
        secretHash: createHash('sha256').update(secret).digest('hex'),
        labels,
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
        ...(ignored.length ? { ignoredLabels: Object.fromEntries(ignored.map((n) => [n, agent.labels[n]])) } : {}),
        ...(proven ? { awsIdentityArn: proven.arn, awsCallerArn: proven.callerArn } : {}),
      },
    });
    return { agentId: row!.id, agentSecret: secret, heartbeatIntervalMs: HEARTBEAT_INTERVAL_MS, awsIdentityArn: proven?.arn ?? null };
  });
}

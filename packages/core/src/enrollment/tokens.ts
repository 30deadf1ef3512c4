import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { enrollmentTokens, TOKEN_PLATFORMS, users, type Db } from '@fleet/db';
import { isStorableText, UNSTORABLE_TEXT_MESSAGE } from '@fleet/protocol';
import { and, desc, eq, gt, isNull, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { recordAudit } from '../audit/audit.js';
import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const ROLE_ARN_GLOB = /^arn:(aws|aws-cn|aws-us-gov|\*):iam::(\d{12}|\*):role\/[\w+=,.@/*?-]+$/;

/**
 * Limits on the labels an agent declares for itself at enrollment: at most 20; names by
 * Prometheus's rule, at most 100 characters, not starting with the reserved `__`; values of at
 * most 200 characters. The same as `@fleet/protocol`'s SELF_DECLARED_LABEL_LIMITS (the gateway
 * checks them when it parses the request; enrollAgent checks them again).
 */
export const SELF_DECLARED_LABEL_LIMITS = { count: 20, nameLength: 100, valueLength: 200 } as const;

/** Input of a new enrollment token (admins only). */
export const newTokenSchema = z
  .object({
    name: z.string().trim().min(1, 'required').max(100).refine(isStorableText, UNSTORABLE_TEXT_MESSAGE),
    /** Lifetime from now, in hours (1 hour to 1 year). */
    expiresInHours: z.number().int().min(1, 'at least 1 hour').max(24 * 365, 'at most a year'),
    /** How many agents may enroll with it; omit for unlimited until expiry. */
    maxUses: z.number().int().min(1).max(1_000_000).optional(),
    /** Labels stamped onto every agent enrolled with it; they win over labels the agent declares. */
    labels: z
      .record(
        z.string().regex(LABEL_NAME, 'not a valid label name'),
        z.string().max(1024).refine(isStorableText, UNSTORABLE_TEXT_MESSAGE),
      )
      .default({}),
    /**
     * Whether agents may add labels of their own at enrollment (`fleet-agent enroll --label`),
     * within the limits of {@link SELF_DECLARED_LABEL_LIMITS}; false refuses an agent that declares any.
     */
    allowAgentLabels: z.boolean().default(true),
    platform: z.enum(TOKEN_PLATFORMS).default('any'),
    /** Optional AWS identity binding: the agent must prove an identity matching these rules. */
    awsBinding: z
      .object({
        accountIds: z.array(z.string().regex(/^\d{12}$/, 'must be a 12-digit account id')).max(100).default([]),
        roleArnGlobs: z.array(z.string().regex(ROLE_ARN_GLOB, 'not an IAM role ARN pattern (arn:aws:iam::123456789012:role/fleet-*)')).max(100).default([]),
      })
      .strict()
      .refine((b) => b.accountIds.length > 0 || b.roleArnGlobs.length > 0, { message: 'name at least one account id or role ARN pattern' })
      .optional(),
  })
  .strict();
export type NewToken = z.input<typeof newTokenSchema>;

const TOKEN_PREFIX = 'fet_';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** A token as listed (never the secret, never the hash). */
export type TokenView = Omit<typeof enrollmentTokens.$inferSelect, 'tokenHash'> & { createdByEmail: string | null; state: 'active' | 'expired' | 'used_up' | 'revoked' };

function stateOf(t: typeof enrollmentTokens.$inferSelect, now: Date): TokenView['state'] {
  if (t.revokedAt) return 'revoked';
  if (t.expiresAt <= now) return 'expired';
  if (t.maxUses !== null && t.useCount >= t.maxUses) return 'used_up';
  return 'active';
}

/**
 * Creates a token and returns its secret — the only time it is available: only its sha256 is
 * stored. The secret is `fet_` + 32 random bytes (base64url).
 */
export async function createEnrollmentToken(ctx: ServiceContext, input: NewToken, now = new Date()) {
  const data = newTokenSchema.parse(input);
  const secret = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(enrollmentTokens)
      .values({
        name: data.name,
        tokenHash: sha256(secret),
        tokenPrefix: secret.slice(0, TOKEN_PREFIX.length + 6),
        expiresAt: new Date(now.getTime() + data.expiresInHours * 3_600_000),
        maxUses: data.maxUses ?? null,
        labels: data.labels,
        allowAgentLabels: data.allowAgentLabels,
        platform: data.platform,
        awsBinding: data.awsBinding ?? null,
        createdBy: ctx.actor.type === 'user' ? ctx.actor.id : null,
      })
      .returning();
    const { tokenHash: _hash, ...view } = row!;
    await recordAudit({ ...ctx, db: tx }, { action: 'enrollment_token.create', targetType: 'enrollment_token', targetId: row!.name, after: { ...view, tokenPrefix: row!.tokenPrefix } });
    return { token: secret, view: { ...view, createdByEmail: ctx.actor.type === 'user' ? ctx.actor.email : null, state: stateOf(row!, now) } as TokenView };
  });
}

/** Tokens, newest first, with their state. */
export async function listEnrollmentTokens(ctx: { db: Db }, now = new Date()): Promise<TokenView[]> {
  const rows = await ctx.db
    .select({ token: enrollmentTokens, createdByEmail: users.email })
    .from(enrollmentTokens)
    .leftJoin(users, eq(users.id, enrollmentTokens.createdBy))
    .orderBy(desc(enrollmentTokens.createdAt));
  return rows.map(({ token, createdByEmail }) => {
    const { tokenHash: _hash, ...view } = token;
    return { ...view, createdByEmail, state: stateOf(token, now) };
  });
}

/** Revokes a token: it enrolls nobody any more (agents already enrolled stay). */
export async function revokeEnrollmentToken(ctx: ServiceContext, id: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const [row] = await tx.update(enrollmentTokens).set({ revokedAt: new Date() }).where(and(eq(enrollmentTokens.id, id), isNull(enrollmentTokens.revokedAt))).returning();
    if (!row) throw new AppError('NOT_FOUND', 'no such active token', { field: 'id' });
    await recordAudit({ ...ctx, db: tx }, { action: 'enrollment_token.revoke', targetType: 'enrollment_token', targetId: row.name });
  });
}

/**
 * Consumes one use of a token for an enrollment, atomically (never beyond max uses, even with
 * concurrent enrollments). The secret is compared by hash in constant time. Resolves to the
 * token row, or throws UNAUTHENTICATED with a reason the agent can show.
 */
export async function consumeEnrollmentToken(db: Db, secret: string, now = new Date()) {
  const hash = sha256(secret);
  const [row] = await db.select().from(enrollmentTokens).where(eq(enrollmentTokens.tokenHash, hash));
  if (!row || !timingSafeEqual(Buffer.from(row.tokenHash, 'hex'), Buffer.from(hash, 'hex'))) {
    throw new AppError('UNAUTHENTICATED', 'unknown enrollment token');
  }
  const state = stateOf(row, now);
  if (state !== 'active') throw new AppError('UNAUTHENTICATED', `the enrollment token is ${state.replace('_', ' ')}`);
  const [used] = await db
    .update(enrollmentTokens)
    .set({ useCount: sql`${enrollmentTokens.useCount} + 1`, lastUsedAt: now })
    .where(
      and(
        eq(enrollmentTokens.id, row.id),
        isNull(enrollmentTokens.revokedAt),
        gt(enrollmentTokens.expiresAt, now),
        or(isNull(enrollmentTokens.maxUses), sql`${enrollmentTokens.useCount} < ${enrollmentTokens.maxUses}`),
      ),
    )
    .returning();
  if (!used) throw new AppError('UNAUTHENTICATED', 'the enrollment token is used up');
  return used;
}

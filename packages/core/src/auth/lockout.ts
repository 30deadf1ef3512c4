import { users, type Db } from '@fleet/db';
import { toStorableText } from '@fleet/protocol';
import { eq, sql } from 'drizzle-orm';
import { recordAudit } from '../audit/audit.js';
import type { Actor } from '../context.js';

/**
 * Account lockout after failed sign-ins, counted per account whatever the source address (the
 * per-address rate limit is separate): every {@link LOCKOUT.failures}th consecutive failure locks
 * the account, for {@link LOCKOUT.firstLockMs} the first time and twice as long each further
 * time (at most {@link LOCKOUT.maxLockMs}). A successful sign-in resets the count; an admin
 * unlocks by `unlockUser` or by setting a new password.
 */
export const LOCKOUT = {
  failures: 10,
  firstLockMs: 15 * 60_000,
  // A cap of an hour keeps guessing at 10 an hour at most, while someone who keeps failing on
  // purpose can lock an operator out for an hour at a time, not a day (the last admin has no one
  // to unlock them).
  maxLockMs: 60 * 60_000,
} as const;

/** Longest e-mail recorded for a failed sign-in (as typed; RFC 5321 allows 254). */
const MAX_RECORDED_EMAIL = 254;

/**
 * The e-mail a caller typed, made safe to store as an audit target: trimmed, control characters
 * and lone surrogates replaced (PostgreSQL text refuses NUL), at most 254 characters.
 */
export function recordedEmail(typed: unknown): string {
  const s = typeof typed === 'string' ? typed : '';
  // eslint-disable-next-line no-control-regex -- replacing control characters is the point
  return toStorableText(s.trim().slice(0, MAX_RECORDED_EMAIL)).replace(/[\u0001-\u001f\u007f]/g, '\uFFFD');
}

/** How long the `lock`-th lock of an account lasts (1-based). */
export function lockDurationMs(lock: number): number {
  return Math.min(LOCKOUT.maxLockMs, LOCKOUT.firstLockMs * 2 ** Math.max(0, lock - 1));
}

/** The account an e-mail signs in to, with its lock; null when no account has that e-mail. */
export async function signInAccount(db: Db, email: string): Promise<{ id: string; email: string; lockedUntil: Date | null } | null> {
  const [row] = await db.select({ id: users.id, email: users.email, lockedUntil: users.lockedUntil }).from(users).where(eq(users.email, email.toLowerCase()));
  return row ?? null;
}

const anonymous: Actor = { type: 'system' };

/** Why a sign-in failed, as recorded in the audit log (`after.reason`). */
export type SignInFailure = 'wrong password' | 'unknown e-mail' | 'locked' | 'disabled';

/**
 * Records a failed sign-in (`user.sign_in_failed`, target the e-mail as typed) and, for a wrong
 * password, counts it against the account; the failure that reaches the threshold locks it
 * (`user.locked`). Resolves to the lock set now, if any. Never records the password.
 */
export async function recordFailedSignIn(
  db: Db,
  attempt: { email: string; reason: SignInFailure; sourceIp?: string | undefined; now?: Date },
): Promise<{ lockedUntil: Date | null }> {
  const now = attempt.now ?? new Date();
  const target = recordedEmail(attempt.email);
  return db.transaction(async (tx) => {
    const ctx = { db: tx, actor: anonymous, sourceIp: attempt.sourceIp };
    let lockedUntil: Date | null = null;
    let failures: number | undefined;
    if (attempt.reason === 'wrong password') {
      // One statement: concurrent failures from many addresses each count once.
      const [row] = await tx
        .update(users)
        .set({ failedSignIns: sql`${users.failedSignIns} + 1` })
        .where(eq(users.email, attempt.email.toLowerCase()))
        .returning({ id: users.id, failures: users.failedSignIns });
      failures = row?.failures;
      if (row && row.failures % LOCKOUT.failures === 0) {
        lockedUntil = new Date(now.getTime() + lockDurationMs(row.failures / LOCKOUT.failures));
        await tx.update(users).set({ lockedUntil }).where(eq(users.id, row.id));
      }
    }
    await recordAudit(ctx, { action: 'user.sign_in_failed', targetType: 'user', targetId: target, after: { reason: attempt.reason, ...(failures ? { consecutiveFailures: failures } : {}) } });
    if (lockedUntil) {
      await recordAudit(ctx, { action: 'user.locked', targetType: 'user', targetId: target, after: { until: lockedUntil.toISOString(), consecutiveFailures: failures } });
    }
    return { lockedUntil };
  });
}

/** Records a successful sign-in (`user.sign_in`) and resets the account's failure count. */
export async function recordSignIn(db: Db, user: { id: string; email: string; role: string }, sourceIp?: string): Promise<void> {
  await db.transaction(async (tx) => {
    await tx.update(users).set({ failedSignIns: 0, lockedUntil: null }).where(eq(users.id, user.id));
    const role = (['admin', 'editor', 'viewer'] as const).find((r) => r === user.role) ?? 'viewer';
    await recordAudit({ db: tx, actor: { type: 'user', id: user.id, email: user.email, role }, sourceIp }, { action: 'user.sign_in', targetType: 'user', targetId: user.email });
  });
}

/**
 * The sentence a locked sign-in is refused with: when to retry, and that an admin can unlock.
 * Said whether or not the password given was right (it is not checked while locked).
 */
export function lockedMessage(until: Date, now = new Date()): string {
  const minutes = Math.max(1, Math.ceil((until.getTime() - now.getTime()) / 60_000));
  // The minute shown is the first one in which a retry is allowed.
  const shown = new Date(Math.ceil(until.getTime() / 60_000) * 60_000);
  const at = `${shown.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  return `This account is locked after ${LOCKOUT.failures} failed sign-ins. Try again after ${at} (in ${minutes} minute${minutes === 1 ? '' : 's'}), or ask an admin to unlock it.`;
}

import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { authAccounts, pgErrorCode, sessions, users, USER_ROLES, type Db, type UserRole } from '@fleet/db';
import { hashPassword } from 'better-auth/crypto';
import { asc, count, eq, ilike, or, sql } from 'drizzle-orm';
import { z } from 'zod';
import { recordAudit } from '../audit/audit.js';
import { assertPasswordPolicy, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH } from '../auth/password-policy.js';
import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { deleteSetting, getSetting, setSetting } from '../settings/settings.js';

/** Input of a new operator account. */
export const newUserSchema = z.object({
  email: z.email('not an e-mail address').max(254).transform((e) => e.toLowerCase()),
  name: z.string().trim().min(1, 'required').max(100),
  role: z.enum(USER_ROLES),
  password: z.string().min(MIN_PASSWORD_LENGTH, `must be at least ${MIN_PASSWORD_LENGTH} characters`).max(MAX_PASSWORD_LENGTH),
});
export type NewUser = z.infer<typeof newUserSchema>;

/** An operator as listed (never the password hash). */
export interface UserSummary {
  id: string;
  email: string;
  name: string;
  role: UserRole;
  disabled: boolean;
  /** Sign-in is refused until then after repeated failed sign-ins; null when not locked now. */
  lockedUntil: Date | null;
  createdAt: Date;
}

const summary = {
  id: users.id,
  email: users.email,
  name: users.name,
  role: users.role,
  disabledAt: users.disabledAt,
  lockedUntil: users.lockedUntil,
  createdAt: users.createdAt,
};

function toSummary(r: { id: string; email: string; name: string; role: UserRole; disabledAt: Date | null; lockedUntil: Date | null; createdAt: Date }): UserSummary {
  const lockedUntil = r.lockedUntil && r.lockedUntil.getTime() > Date.now() ? r.lockedUntil : null;
  return { id: r.id, email: r.email, name: r.name, role: r.role, disabled: r.disabledAt !== null, lockedUntil, createdAt: r.createdAt };
}

/** Refuses a password the policy does not accept for this account (see `passwordProblem`). */
function checkPassword(input: { email: string; name: string; password: string }, field = 'password'): void {
  assertPasswordPolicy(input.password, [input.email, input.name], field);
}

async function insertUser(db: Db, input: NewUser): Promise<UserSummary> {
  const id = randomUUID();
  const password = await hashPassword(input.password);
  try {
    const [row] = await db.insert(users).values({ id, email: input.email, name: input.name, role: input.role, emailVerified: true }).returning(summary);
    await db.insert(authAccounts).values({ id: randomUUID(), accountId: id, providerId: 'credential', userId: id, password });
    return toSummary(row!);
  } catch (err) {
    if (pgErrorCode(err) === '23505') {
      throw new AppError('CONFLICT', `a user with e-mail ${input.email} already exists`, { field: 'email' });
    }
    throw err;
  }
}

/** Creates an operator (admins only; the router checks); the password must pass the policy. */
export async function createUser(ctx: ServiceContext, input: z.input<typeof newUserSchema>): Promise<UserSummary> {
  const data = newUserSchema.parse(input);
  checkPassword(data);
  return ctx.db.transaction(async (tx) => {
    const created = await insertUser(tx, data);
    await recordAudit({ ...ctx, db: tx }, { action: 'user.create', targetType: 'user', targetId: created.email, after: { email: created.email, name: created.name, role: created.role } });
    return created;
  });
}

/** Operators, optionally filtered by a substring of e-mail or name. */
export async function listUsers(ctx: { db: Db }, search?: string): Promise<UserSummary[]> {
  const q = search ? `%${search}%` : undefined;
  const rows = await ctx.db
    .select(summary)
    .from(users)
    .where(q ? or(ilike(users.email, q), ilike(users.name, q)) : undefined)
    .orderBy(asc(users.email));
  return rows.map(toSummary);
}

async function mustGetUser(db: Db, id: string) {
  const [row] = await db.select(summary).from(users).where(eq(users.id, id));
  if (!row) throw new AppError('NOT_FOUND', 'no such user', { field: 'id' });
  return row;
}

async function adminsLeft(db: Db, excluding: string): Promise<number> {
  const [row] = await db
    .select({ n: count() })
    .from(users)
    .where(sql`${users.role} = 'admin' and ${users.disabledAt} is null and ${users.id} <> ${excluding}`);
  return row?.n ?? 0;
}

/** Changes an operator's role; the last active admin cannot be demoted. */
export async function setUserRole(ctx: ServiceContext, id: string, role: UserRole): Promise<UserSummary> {
  return ctx.db.transaction(async (tx) => {
    const before = await mustGetUser(tx, id);
    if (before.role === 'admin' && role !== 'admin' && (await adminsLeft(tx, id)) === 0) {
      throw new AppError('CONFLICT', 'cannot demote the last admin; make someone else admin first', { field: 'role' });
    }
    const [after] = await tx.update(users).set({ role, updatedAt: new Date() }).where(eq(users.id, id)).returning(summary);
    await recordAudit({ ...ctx, db: tx }, { action: 'user.role', targetType: 'user', targetId: before.email, before: { role: before.role }, after: { role } });
    return toSummary(after!);
  });
}

/** Disables (signs out and refuses sign-in) or re-enables an operator; not the last admin, not yourself. */
export async function setUserDisabled(ctx: ServiceContext, id: string, disabled: boolean): Promise<UserSummary> {
  if (ctx.actor.type === 'user' && ctx.actor.id === id && disabled) throw new AppError('CONFLICT', 'you cannot disable yourself', { field: 'id' });
  return ctx.db.transaction(async (tx) => {
    const before = await mustGetUser(tx, id);
    if (disabled && before.role === 'admin' && (await adminsLeft(tx, id)) === 0) throw new AppError('CONFLICT', 'cannot disable the last admin', { field: 'id' });
    const [after] = await tx.update(users).set({ disabledAt: disabled ? new Date() : null, updatedAt: new Date() }).where(eq(users.id, id)).returning(summary);
    if (disabled) await tx.delete(sessions).where(eq(sessions.userId, id));
    await recordAudit({ ...ctx, db: tx }, { action: disabled ? 'user.disable' : 'user.enable', targetType: 'user', targetId: before.email });
    return toSummary(after!);
  });
}

/**
 * Sets a new password for an operator (admin action or the operator's own), ending their
 * sessions and lifting a sign-in lock. The password must pass the policy.
 */
export async function setUserPassword(ctx: ServiceContext, id: string, password: string): Promise<void> {
  const parsed = newUserSchema.shape.password.safeParse(password);
  if (!parsed.success) throw new AppError('BAD_INPUT', `password ${parsed.error.issues[0]!.message}`, { field: 'password' });
  const user = await mustGetUser(ctx.db, id);
  checkPassword({ ...user, password });
  const hash = await hashPassword(password);
  await ctx.db.transaction(async (tx) => {
    await mustGetUser(tx, id);
    await tx.update(authAccounts).set({ password: hash, updatedAt: new Date() }).where(eq(authAccounts.userId, id));
    await tx.update(users).set({ failedSignIns: 0, lockedUntil: null, updatedAt: new Date() }).where(eq(users.id, id));
    await tx.delete(sessions).where(eq(sessions.userId, id));
    await recordAudit({ ...ctx, db: tx }, { action: 'user.password', targetType: 'user', targetId: user.email });
  });
}

/** Lifts a sign-in lock (and clears the failure count) so the operator can sign in at once. */
export async function unlockUser(ctx: ServiceContext, id: string): Promise<UserSummary> {
  return ctx.db.transaction(async (tx) => {
    const before = await mustGetUser(tx, id);
    const [after] = await tx.update(users).set({ failedSignIns: 0, lockedUntil: null, updatedAt: new Date() }).where(eq(users.id, id)).returning(summary);
    await recordAudit({ ...ctx, db: tx }, { action: 'user.unlock', targetType: 'user', targetId: before.email, before: { lockedUntil: before.lockedUntil?.toISOString() ?? null } });
    return toSummary(after!);
  });
}

/** True when no operator exists yet (first run). */
export async function needsSetup(db: Db): Promise<boolean> {
  const [row] = await db.select({ n: count() }).from(users);
  return (row?.n ?? 0) === 0;
}

const SETUP_KEY = 'setup.token';
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * First run: returns a new one-time setup token (its hash is stored, valid 24 h) when no operator
 * exists, else null. The caller prints the setup link once.
 */
export async function issueSetupToken(db: Db, now = new Date()): Promise<string | null> {
  if (!(await needsSetup(db))) {
    await deleteSetting(db, SETUP_KEY);
    return null;
  }
  const token = randomBytes(24).toString('base64url');
  await setSetting(db, SETUP_KEY, JSON.stringify({ hash: sha256(token), expiresAt: now.getTime() + 86_400_000 }));
  return token;
}

/** Whether a setup token is (still) valid, compared in constant time. */
export async function checkSetupToken(db: Db, token: string, now = new Date()): Promise<boolean> {
  const stored = await getSetting(db, SETUP_KEY);
  if (!stored || !(await needsSetup(db))) return false;
  const { hash, expiresAt } = JSON.parse(stored) as { hash: string; expiresAt: number };
  const given = Buffer.from(sha256(token), 'hex');
  return expiresAt > now.getTime() && given.length === 32 && timingSafeEqual(given, Buffer.from(hash, 'hex'));
}

/** Creates the first admin with a valid setup token; the token is consumed. */
export async function completeSetup(ctx: Omit<ServiceContext, 'actor'>, token: string, input: Omit<NewUser, 'role'>): Promise<UserSummary> {
  if (!(await checkSetupToken(ctx.db, token))) throw new AppError('FORBIDDEN', 'the setup link is invalid, used or expired; restart the control plane for a new one', { field: 'token' });
  checkPassword(input);
  return ctx.db.transaction(async (tx) => {
    if (!(await needsSetup(tx))) throw new AppError('CONFLICT', 'setup is already complete');
    const created = await insertUser(tx, { ...input, role: 'admin' });
    await deleteSetting(tx, SETUP_KEY);
    await recordAudit({ db: tx, actor: { type: 'system' }, sourceIp: ctx.sourceIp }, { action: 'user.setup', targetType: 'user', targetId: created.email, after: { email: created.email, role: 'admin' } });
    return created;
  });
}

/**
 * Why `ADMIN_PASSWORD` is refused for `ADMIN_EMAIL` (one line naming the setting), or null.
 * The control plane checks it at start-up, before opening the database.
 */
export function adminPasswordProblem(email: string, password: string): string | null {
  try {
    assertPasswordPolicy(password, [email, email.split('@')[0]], 'ADMIN_PASSWORD', 'ADMIN_PASSWORD:');
    return null;
  } catch (err) {
    if (err instanceof AppError) return err.message;
    throw err;
  }
}

/**
 * First run with `ADMIN_EMAIL` / `ADMIN_PASSWORD`: creates that admin when no operator exists.
 * Returns what happened; never logs the password.
 * @throws AppError naming `ADMIN_PASSWORD` when the password fails the policy.
 */
export async function ensureAdminFromEnv(db: Db, email: string | undefined, password: string | undefined): Promise<'created' | 'exists' | 'not-configured'> {
  if (!email || !password) return 'not-configured';
  if (!(await needsSetup(db))) return 'exists';
  const input = newUserSchema.parse({ email, name: email.split('@')[0], role: 'admin', password });
  const problem = adminPasswordProblem(input.email, password);
  if (problem) throw new AppError('BAD_INPUT', problem, { field: 'ADMIN_PASSWORD' });
  try {
    await db.transaction(async (tx) => {
      await insertUser(tx, input);
      await recordAudit({ db: tx, actor: { type: 'system' } }, { action: 'user.setup', targetType: 'user', targetId: input.email, after: { email: input.email, role: 'admin', via: 'ADMIN_EMAIL' } });
    });
  } catch (err) {
    // Replicas starting at once race here: the one that loses finds the admin created.
    if (err instanceof AppError && err.code === 'CONFLICT') return 'exists';
    throw err;
  }
  return 'created';
}

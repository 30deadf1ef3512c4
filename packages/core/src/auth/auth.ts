import { authAccounts, sessions, users, verifications, type DatabaseHandle, type UserRole } from '@fleet/db';
import { APIError, betterAuth } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import { createAuthMiddleware, isAPIError } from 'better-auth/api';
import { fromNodeHeaders, toNodeHandler } from 'better-auth/node';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { eq } from 'drizzle-orm';
import { lockedMessage, recordFailedSignIn, recordSignIn, signInAccount } from './lockout.js';
import { MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, passwordProblem } from './password-policy.js';
import { hashSessionTokens, SESSION_LIST_PATHS } from './session-tokens.js';

/** Header the control-plane server sets to the peer address before auth routes run. */
export const CLIENT_IP_HEADER = 'x-fleet-client-ip';

/** Settings of the operators' sign-in. */
export interface AuthSettings {
  database: DatabaseHandle;
  /** Signs session cookies (see `authSecret`). */
  secret: string;
  /** The URL operators use, e.g. http://localhost:3000. */
  baseURL: string;
  /** Further origins allowed to call the auth endpoints (CSRF protection). */
  trustedOrigins: string[];
  /** Sign-in attempts allowed per source address per minute (default 10). */
  signInPerMinute?: number;
}

/** The signing-in caller's address as the server stamped it. */
function clientIp(headers: Headers | undefined): string | undefined {
  return headers?.get(CLIENT_IP_HEADER) ?? undefined;
}

/** The 423 answer to a locked account: when to retry (body `lockedUntil`, header `Retry-After`). */
function lockedAnswer(until: Date, now: Date) {
  const body = { code: 'ACCOUNT_LOCKED', message: lockedMessage(until, now), lockedUntil: until.toISOString() };
  const headers = { 'retry-after': String(Math.ceil((until.getTime() - now.getTime()) / 1000)) };
  return { body, headers, error: () => new APIError('LOCKED', body, headers) };
}

/** better-auth routes that set a password from `newPassword` (the policy applies to each). */
const NEW_PASSWORD_PATHS = new Set(['/change-password', '/reset-password', '/set-password']);

/**
 * Operators' authentication (better-auth): e-mail + password with scrypt hashes, database
 * sessions in httpOnly SameSite=Lax cookies (tokens stored hashed, see `hashSessionTokens`),
 * sign-up closed (admins create users), sign-in rate-limited per source address and locked per
 * account after repeated failures (see `LOCKOUT`), every sign-in and failed sign-in in the audit
 * log, disabled users refused, new passwords held to the password policy. Routes live under
 * `/api/auth`.
 */
export function createAuth(settings: AuthSettings) {
  const db = settings.database.db;
  return betterAuth({
    appName: 'Fleet control plane',
    baseURL: settings.baseURL,
    basePath: '/api/auth',
    secret: settings.secret,
    trustedOrigins: settings.trustedOrigins,
    telemetry: { enabled: false },
    database: hashSessionTokens(
      drizzleAdapter(db, {
        provider: 'pg',
        schema: { user: users, session: sessions, account: authAccounts, verification: verifications },
      }),
    ),
    // They pass listed sessions' (hashed) tokens on as tokens; see hashSessionTokens.
    disabledPaths: [...SESSION_LIST_PATHS],
    user: {
      additionalFields: {
        role: { type: 'string', required: false, defaultValue: 'viewer', input: false },
        disabledAt: { type: 'date', required: false, input: false },
      },
    },
    emailAndPassword: { enabled: true, disableSignUp: true, minPasswordLength: MIN_PASSWORD_LENGTH, maxPasswordLength: MAX_PASSWORD_LENGTH },
    session: { expiresIn: 60 * 60 * 24 * 7, updateAge: 60 * 60 * 24 },
    rateLimit: {
      enabled: true,
      storage: 'memory',
      window: 60,
      max: 600,
      customRules: { '/sign-in/email': { window: 60, max: settings.signInPerMinute ?? 10 } },
    },
    // The server sets x-fleet-client-ip from the socket (replacing any client value): rate limits
    // and sessions key on the real peer, and clients cannot spoof it.
    advanced: { cookiePrefix: 'fleet', ipAddress: { ipAddressHeaders: [CLIENT_IP_HEADER] } },
    hooks: {
      before: createAuthMiddleware(async (ctx) => {
        if (ctx.path === '/sign-in/email') {
          // A locked account is refused before its password is checked: the answer is the same
          // whether the password was right or not.
          const email = (ctx.body as { email?: unknown } | undefined)?.email;
          if (typeof email !== 'string') return;
          const account = await signInAccount(db, email);
          const now = new Date();
          if (account?.lockedUntil && account.lockedUntil > now) {
            await recordFailedSignIn(db, { email, reason: 'locked', sourceIp: clientIp(ctx.headers), now });
            throw lockedAnswer(account.lockedUntil, now).error();
          }
          return;
        }
        if (NEW_PASSWORD_PATHS.has(ctx.path)) {
          const password = (ctx.body as { newPassword?: unknown } | undefined)?.newPassword;
          if (typeof password !== 'string') return;
          const session = ctx.context.session as { user?: { email?: string; name?: string } } | null;
          const problem = passwordProblem(password, [session?.user?.email, session?.user?.name]);
          if (problem) throw new APIError('BAD_REQUEST', { code: 'WEAK_PASSWORD', message: `newPassword ${problem}` });
        }
      }),
      after: createAuthMiddleware(async (ctx) => {
        if (ctx.path !== '/sign-in/email') return;
        const email = (ctx.body as { email?: unknown } | undefined)?.email;
        const sourceIp = clientIp(ctx.headers);
        const returned = ctx.context.returned;
        if (!isAPIError(returned)) {
          const user = ctx.context.newSession?.user as { id: string; email: string; role?: string } | undefined;
          if (user) await recordSignIn(db, { id: user.id, email: user.email, role: user.role ?? 'viewer' }, sourceIp);
          return;
        }
        if (typeof email !== 'string' || returned.statusCode === 423) return;
        if (returned.statusCode === 401) {
          const known = await signInAccount(db, email);
          const { lockedUntil } = await recordFailedSignIn(db, { email, reason: known ? 'wrong password' : 'unknown e-mail', sourceIp });
          // The failure that locks says so (the password was wrong: nothing is revealed). An
          // error thrown here would keep the endpoint's 401, so HTTP callers get the response.
          if (lockedUntil) {
            const locked = lockedAnswer(lockedUntil, new Date());
            if (!(ctx.request instanceof Request)) throw locked.error();
            return new Response(JSON.stringify(locked.body), { status: 423, headers: { 'content-type': 'application/json', ...locked.headers } });
          }
        } else if (returned.statusCode === 403) {
          await recordFailedSignIn(db, { email, reason: 'disabled', sourceIp });
        }
      }),
    },
    databaseHooks: {
      session: {
        create: {
          before: async (session) => {
            const [user] = await db.select({ disabledAt: users.disabledAt }).from(users).where(eq(users.id, session.userId));
            if (user?.disabledAt) throw new APIError('FORBIDDEN', { message: 'This account is disabled. Ask an admin to enable it.' });
            return { data: session };
          },
        },
      },
    },
  });
}

/** The better-auth instance type. */
export type Auth = ReturnType<typeof createAuth>;

/** The signed-in operator as procedures see it. */
export interface SessionUser {
  id: string;
  email: string;
  name: string;
  role: UserRole;
}

/** Resolves the operator of a request from its cookies; null when not signed in (or disabled). */
export async function sessionUser(auth: Auth, headers: Headers): Promise<SessionUser | null> {
  const result = await auth.api.getSession({ headers });
  if (!result) return null;
  const u = result.user as typeof result.user & { role?: string; disabledAt?: Date | null };
  if (u.disabledAt) return null;
  const role = (['admin', 'editor', 'viewer'] as const).find((r) => r === u.role) ?? 'viewer';
  return { id: u.id, email: u.email, name: u.name, role };
}

/** Node HTTP handler of the auth routes (`/api/auth/*`), for the control-plane server. */
export function authRequestHandler(auth: Auth): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return toNodeHandler(auth);
}

/** The operator of a Node request (see {@link sessionUser}). */
export function requestUser(auth: Auth, headers: IncomingHttpHeaders): Promise<SessionUser | null> {
  return sessionUser(auth, fromNodeHeaders(headers));
}

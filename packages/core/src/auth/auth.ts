import { authAccounts, sessions, users, verifications, type DatabaseHandle, type UserRole } from '@fleet/db';
import { APIError, betterAuth } from 'better-auth';
import { drizzleAdapter } from 'better-auth/adapters/drizzle';
import { fromNodeHeaders, toNodeHandler } from 'better-auth/node';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { eq } from 'drizzle-orm';

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

/**
 * Operators' authentication (better-auth): e-mail + password with scrypt hashes, database
 * sessions in httpOnly SameSite=Lax cookies, sign-up closed (admins create users), sign-in
 * rate-limited per source address, disabled users refused. Routes live under `/api/auth`.
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
    database: drizzleAdapter(db, {
      provider: 'pg',
      schema: { user: users, session: sessions, account: authAccounts, verification: verifications },
    }),
    user: {
      additionalFields: {
        role: { type: 'string', required: false, defaultValue: 'viewer', input: false },
        disabledAt: { type: 'date', required: false, input: false },
      },
    },
    emailAndPassword: { enabled: true, disableSignUp: true, minPasswordLength: 12, maxPasswordLength: 256 },
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

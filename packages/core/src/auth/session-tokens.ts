import { createHash } from 'node:crypto';
import type { drizzleAdapter } from 'better-auth/adapters/drizzle';

type AdapterFactory = ReturnType<typeof drizzleAdapter>;
type Adapter = ReturnType<AdapterFactory>;
type Where = Parameters<Adapter['findOne']>[0]['where'][number];

/** Prefix of a stored (hashed) session token: tells it apart from a token in clear. */
const HASHED = 'sha256:';

/**
 * What the `session.token` column holds for a session token. Any value is hashed, also one
 * that looks stored already, so a leaked row can never be replayed as a cookie.
 */
export function storedSessionToken(token: string): string {
  return HASHED + createHash('sha256').update(token).digest('base64url');
}

function hashWhere(where: Where[] | undefined): { where: Where[] | undefined; token: string | undefined } {
  if (!where) return { where, token: undefined };
  let token: string | undefined;
  const mapped = where.map((w) => {
    if (w.field !== 'token') return w;
    if (typeof w.value === 'string') {
      if (!w.operator || w.operator === 'eq') token = w.value;
      return { ...w, value: storedSessionToken(w.value) };
    }
    if (Array.isArray(w.value) && w.value.every((v) => typeof v === 'string')) return { ...w, value: (w.value as string[]).map(storedSessionToken) };
    return w;
  });
  return { where: mapped, token };
}

function withToken<T>(row: T, token: string | undefined): T {
  if (token === undefined || !row || typeof row !== 'object') return row;
  return { ...row, token } as T;
}

function wrap(adapter: Adapter): Adapter {
  const isSession = (model: string) => model === 'session';
  return {
    ...adapter,
    async create(data) {
      const token = (data.data as { token?: unknown }).token;
      if (!isSession(data.model) || typeof token !== 'string') return adapter.create(data);
      const row = await adapter.create({ ...data, data: { ...data.data, token: storedSessionToken(token) } });
      return withToken(row, token) as Awaited<ReturnType<typeof adapter.create<typeof data.data, never>>>;
    },
    async findOne(data) {
      if (!isSession(data.model)) return adapter.findOne(data);
      const { where, token } = hashWhere(data.where);
      return withToken(await adapter.findOne({ ...data, where: where! }), token);
    },
    async findMany(data) {
      if (!isSession(data.model)) return adapter.findMany(data);
      return adapter.findMany({ ...data, where: hashWhere(data.where).where });
    },
    async count(data) {
      if (!isSession(data.model)) return adapter.count(data);
      return adapter.count({ ...data, where: hashWhere(data.where).where });
    },
    async update(data) {
      if (!isSession(data.model)) return adapter.update(data);
      const { where, token } = hashWhere(data.where);
      const update = typeof data.update.token === 'string' ? { ...data.update, token: storedSessionToken(data.update.token) } : data.update;
      return withToken(await adapter.update({ ...data, where: where!, update }), typeof data.update.token === 'string' ? data.update.token : token);
    },
    async updateMany(data) {
      if (!isSession(data.model)) return adapter.updateMany(data);
      return adapter.updateMany({ ...data, where: hashWhere(data.where).where! });
    },
    async delete(data) {
      if (!isSession(data.model)) return adapter.delete(data);
      return adapter.delete({ ...data, where: hashWhere(data.where).where! });
    },
    async deleteMany(data) {
      if (!isSession(data.model)) return adapter.deleteMany(data);
      return adapter.deleteMany({ ...data, where: hashWhere(data.where).where! });
    },
    async consumeOne(data) {
      if (!isSession(data.model)) return adapter.consumeOne(data);
      const { where, token } = hashWhere(data.where);
      return withToken(await adapter.consumeOne({ ...data, where: where! }), token);
    },
    async incrementOne(data) {
      if (!isSession(data.model)) return adapter.incrementOne(data);
      const { where, token } = hashWhere(data.where);
      return withToken(await adapter.incrementOne({ ...data, where: where! }), token);
    },
    transaction: (callback) => adapter.transaction((trx) => callback(wrap(trx as Adapter) as typeof trx)),
  };
}

/**
 * Stores better-auth session tokens hashed (`sha256:` + SHA-256, base64url) instead of in clear:
 * a copy of the `session` table does not let anyone sign in. better-auth 1.7 has no option for
 * it, so this wraps its database adapter: every write of a session hashes the token, every
 * lookup by token hashes the token looked for, and a row found by its token is returned with
 * that token (in clear, as the caller had it) so cookies and refreshes work unchanged.
 *
 * Rows listed by user (not by token) carry the hash, not a token: better-auth's
 * `/list-sessions`, `/revoke-session` and `/revoke-other-sessions` pass those on as tokens, so
 * `createAuth` disables them (nothing in the product uses them; admins end sessions by user).
 */
export function hashSessionTokens(factory: AdapterFactory): AdapterFactory {
  return (options) => wrap(factory(options));
}

/** better-auth routes that hand out or take back listed sessions' tokens (see {@link hashSessionTokens}). */
export const SESSION_LIST_PATHS = ['/list-sessions', '/revoke-session', '/revoke-other-sessions'] as const;

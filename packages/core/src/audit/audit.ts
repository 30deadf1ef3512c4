import { and, desc, eq, gte, ilike, lt, lte, or, sql, type SQL } from 'drizzle-orm';
import { auditLog, type Db } from '@fleet/db';
import type { ServiceContext } from '../context.js';

/** One change to record. `before`/`after` are JSON snapshots without secrets. */
export interface AuditEntry {
  action: string;
  targetType: string;
  targetId?: string | null | undefined;
  before?: unknown;
  after?: unknown;
}

/** Records a change made by `ctx.actor`; call inside the transaction that makes the change. */
export async function recordAudit(ctx: Pick<ServiceContext, 'actor' | 'sourceIp'> & { db: Db }, entry: AuditEntry): Promise<void> {
  await ctx.db.insert(auditLog).values({
    actorType: ctx.actor.type,
    actorId: ctx.actor.type === 'user' ? ctx.actor.email : (ctx.actor.id ?? null),
    action: entry.action,
    targetType: entry.targetType,
    targetId: entry.targetId ?? null,
    before: entry.before ?? null,
    after: entry.after ?? null,
    sourceIp: ctx.sourceIp ?? null,
  });
}

/** Filters of the audit view; all optional. */
export interface AuditFilter {
  /** Matches actor, action, target type or target id (case-insensitive substring). */
  search?: string | undefined;
  actor?: string | undefined;
  action?: string | undefined;
  targetType?: string | undefined;
  targetId?: string | undefined;
  from?: Date | undefined;
  to?: Date | undefined;
  /** Keyset pagination: entries older than this id. */
  beforeId?: number | undefined;
  limit?: number | undefined;
}

/** Newest first, `limit` (≤ 200) at a time; `nextBeforeId` continues the list. */
export async function listAudit(ctx: { db: Db }, filter: AuditFilter = {}) {
  const where: SQL[] = [];
  if (filter.search) {
    const q = `%${filter.search.replace(/[%_\\]/g, (c) => `\\${c}`)}%`;
    where.push(or(ilike(auditLog.actorId, q), ilike(auditLog.action, q), ilike(auditLog.targetType, q), ilike(auditLog.targetId, q))!);
  }
  if (filter.actor) where.push(eq(auditLog.actorId, filter.actor));
  if (filter.action) where.push(eq(auditLog.action, filter.action));
  if (filter.targetType) where.push(eq(auditLog.targetType, filter.targetType));
  if (filter.targetId) where.push(eq(auditLog.targetId, filter.targetId));
  if (filter.from) where.push(gte(auditLog.at, filter.from));
  if (filter.to) where.push(lte(auditLog.at, filter.to));
  if (filter.beforeId) where.push(lt(auditLog.id, filter.beforeId));
  const limit = Math.min(Math.max(filter.limit ?? 50, 1), 200);
  const rows = await ctx.db
    .select()
    .from(auditLog)
    .where(where.length ? and(...where) : undefined)
    .orderBy(desc(auditLog.id))
    .limit(limit + 1);
  const page = rows.slice(0, limit);
  return { entries: page, nextBeforeId: rows.length > limit ? page.at(-1)!.id : null };
}

/** Distinct actions recorded (for the filter menu). */
export async function auditActions(ctx: { db: Db }): Promise<string[]> {
  const rows = await ctx.db.selectDistinct({ action: auditLog.action }).from(auditLog).orderBy(sql`1`);
  return rows.map((r) => r.action);
}

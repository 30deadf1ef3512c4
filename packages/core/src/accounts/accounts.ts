import { randomBytes } from 'node:crypto';
import { awsRegionSchema, isKnownRegion, partitionOfRegion } from '@fleet/aws';
import { awsAccounts, pgErrorCode, pipelines, pipelineVersions, type Db } from '@fleet/db';
import { and, asc, eq, ilike, isNull, or } from 'drizzle-orm';
import { z } from 'zod';
import { announceAgentChange } from '../agents/notify.js';
import { recordAudit } from '../audit/audit.js';
import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { resolveDocument } from '../pipelines/document.js';

const ROLE_ARN = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):role\/(?:[\w+=,.@-]+\/)*([\w+=,.@-]{1,64})$/;

/**
 * Input of an AWS account registration. No access keys: agents reach the account by assuming
 * `roleArn` with the server-generated ExternalId.
 */
export const awsAccountInputSchema = z
  .object({
    accountId: z.string().trim().regex(/^\d{12}$/, 'must be the 12-digit AWS account id'),
    name: z.string().trim().min(1, 'required').max(100),
    defaultRegion: z.string().trim().pipe(awsRegionSchema),
    roleArn: z.string().trim().regex(ROLE_ARN, 'not an IAM role ARN (arn:aws:iam::123456789012:role/name)'),
  })
  .strict()
  .superRefine((v, ctx) => {
    const m = ROLE_ARN.exec(v.roleArn);
    if (!m) return;
    if (m[2] !== v.accountId) {
      ctx.addIssue({ code: 'custom', path: ['roleArn'], message: `the role is in account ${m[2]}, not ${v.accountId}` });
    }
    if (isKnownRegion(v.defaultRegion) && m[1] !== partitionOfRegion(v.defaultRegion)) {
      ctx.addIssue({ code: 'custom', path: ['roleArn'], message: `the role is in partition ${m[1]} but region ${v.defaultRegion} is in ${partitionOfRegion(v.defaultRegion)}` });
    }
  });
export type AwsAccountInput = z.infer<typeof awsAccountInputSchema>;

/** A registered account as operators see it. */
export type AwsAccount = typeof awsAccounts.$inferSelect;

/** ExternalId: unguessable, valid for sts:AssumeRole (2–1224 chars of [\w+=,.@:/-]). */
export function generateExternalId(): string {
  return `fleet-${randomBytes(18).toString('base64url').replace(/[^\w]/g, 'x')}`;
}

function uniqueViolation(err: unknown, input: AwsAccountInput): never {
  const code = pgErrorCode(err);
  const constraint = String((err as { constraint?: string }).constraint ?? (err as { cause?: { constraint?: string } }).cause?.constraint ?? '');
  if (code === '23505') {
    if (constraint.includes('name')) throw new AppError('CONFLICT', `an account named ${JSON.stringify(input.name)} exists already`, { field: 'name' });
    throw new AppError('CONFLICT', `account ${input.accountId} is registered already`, { field: 'accountId' });
  }
  throw err;
}

export async function listAwsAccounts(ctx: { db: Db }, search?: string): Promise<AwsAccount[]> {
  const q = search ? `%${search}%` : undefined;
  return ctx.db
    .select()
    .from(awsAccounts)
    .where(q ? or(ilike(awsAccounts.name, q), ilike(awsAccounts.accountId, q), ilike(awsAccounts.roleArn, q)) : undefined)
    .orderBy(asc(awsAccounts.name));
}

export async function getAwsAccount(ctx: { db: Db }, id: string): Promise<AwsAccount> {
  const [row] = await ctx.db.select().from(awsAccounts).where(eq(awsAccounts.id, id));
  if (!row) throw new AppError('NOT_FOUND', 'no such AWS account', { field: 'id' });
  return row;
}

/** Registers an account with a fresh ExternalId. */
export async function createAwsAccount(ctx: ServiceContext, input: AwsAccountInput): Promise<AwsAccount> {
  const data = awsAccountInputSchema.parse(input);
  return ctx.db.transaction(async (tx) => {
    const [row] = await tx
      .insert(awsAccounts)
      .values({ ...data, partition: partitionOfRegion(data.defaultRegion) ?? 'aws', externalId: generateExternalId(), createdBy: ctx.actor.type === 'user' ? ctx.actor.id : null })
      .returning()
      .catch((err: unknown) => uniqueViolation(err, data));
    await recordAudit({ ...ctx, db: tx }, { action: 'aws_account.create', targetType: 'aws_account', targetId: row!.accountId, after: publicView(row!) });
    return row!;
  });
}

/** A published pipeline version that uses an account, and what a change would do to it. */
interface AccountUse {
  pipeline: string;
  version: number;
  /** Why the version would stop resolving, when it would. */
  problem?: string;
}

/**
 * Published versions (of live pipelines) bound to account `id`, each re-resolved against the
 * accounts as they are inside the transaction `tx` (after the change being checked).
 */
async function publishedUsesOf(tx: Db, id: string): Promise<AccountUse[]> {
  const rows = await tx
    .select({ pipeline: pipelines.name, version: pipelineVersions.version, config: pipelineVersions.config, accountRefs: pipelineVersions.accountRefs })
    .from(pipelineVersions)
    .innerJoin(pipelines, eq(pipelines.id, pipelineVersions.pipelineId))
    .where(and(eq(pipelineVersions.published, true), isNull(pipelines.archivedAt)));
  const accounts = await tx.select().from(awsAccounts);
  return rows
    .filter((r) => Object.values(r.accountRefs).includes(id))
    .map((r) => {
      const check = resolveDocument(r.config, accounts, r.accountRefs);
      return check.ok ? { pipeline: r.pipeline, version: r.version } : { pipeline: r.pipeline, version: r.version, problem: check.issues.map((i) => `${i.path}: ${i.message}`).join('; ') };
    });
}

const listUses = (uses: readonly AccountUse[]) => uses.map((u) => `${u.pipeline} v${u.version}${u.problem ? ` (${u.problem})` : ''}`).join(', ');

/**
 * Changes an account. Published pipeline versions reference accounts by id, so a rename keeps
 * them valid; a change after which a published version would no longer validate (e.g. a default
 * region its endpoint cannot be signed for) is refused, naming the versions.
 */
export async function updateAwsAccount(ctx: ServiceContext, id: string, input: AwsAccountInput): Promise<AwsAccount> {
  const data = awsAccountInputSchema.parse(input);
  return ctx.db.transaction(async (tx) => {
    const before = await getAwsAccount({ db: tx }, id);
    const [row] = await tx
      .update(awsAccounts)
      .set({ ...data, partition: partitionOfRegion(data.defaultRegion) ?? 'aws', updatedAt: new Date() })
      .where(eq(awsAccounts.id, id))
      .returning()
      .catch((err: unknown) => uniqueViolation(err, data));
    const broken = (await publishedUsesOf(tx, id)).filter((u) => u.problem);
    if (broken.length) {
      throw new AppError('CONFLICT', `this change would break published pipeline versions that use account ${before.name}: ${listUses(broken)}. Publish versions that fit the new settings first.`);
    }
    await recordAudit({ ...ctx, db: tx }, { action: 'aws_account.update', targetType: 'aws_account', targetId: row!.accountId, before: publicView(before), after: publicView(row!) });
    await announceAgentChange(tx, { kind: 'config' });
    return row!;
  });
}

/** Issues a new ExternalId; the role's trust policy must be updated to match. */
export async function rotateExternalId(ctx: ServiceContext, id: string): Promise<AwsAccount> {
  return ctx.db.transaction(async (tx) => {
    const before = await getAwsAccount({ db: tx }, id);
    const [row] = await tx.update(awsAccounts).set({ externalId: generateExternalId(), updatedAt: new Date() }).where(eq(awsAccounts.id, id)).returning();
    await recordAudit({ ...ctx, db: tx }, { action: 'aws_account.rotate_external_id', targetType: 'aws_account', targetId: row!.accountId, before: { externalId: before.externalId }, after: { externalId: row!.externalId } });
    await announceAgentChange(tx, { kind: 'config' });
    return row!;
  });
}

/**
 * Deletes an account. Refused while a published version of a live pipeline uses it: agents
 * would lose that destination (and its unsent samples). Drafts may still name it.
 */
export async function deleteAwsAccount(ctx: ServiceContext, id: string): Promise<void> {
  await ctx.db.transaction(async (tx) => {
    const before = await getAwsAccount({ db: tx }, id);
    const uses = await publishedUsesOf(tx, id);
    if (uses.length) {
      throw new AppError('CONFLICT', `account ${before.name} is used by published pipeline versions: ${listUses(uses)}. Publish versions that do not use it (or archive those pipelines) before deleting it.`, { field: 'id' });
    }
    await tx.delete(awsAccounts).where(eq(awsAccounts.id, id));
    await recordAudit({ ...ctx, db: tx }, { action: 'aws_account.delete', targetType: 'aws_account', targetId: before.accountId, before: publicView(before) });
    await announceAgentChange(tx, { kind: 'config' });
  });
}

function publicView(a: AwsAccount) {
  return { accountId: a.accountId, name: a.name, partition: a.partition, defaultRegion: a.defaultRegion, roleArn: a.roleArn, externalId: a.externalId };
}

import { agents, awsAccounts, pipelines, pipelineVersions, users, type Db } from '@fleet/db';
import { and, asc, desc, eq, ilike, isNull, max, sql } from 'drizzle-orm';
import { alias } from 'drizzle-orm/pg-core';
import { structuredPatch } from 'diff';
import { parseDocument, stringify } from 'yaml';
import { z } from 'zod';
import { announceAgentChange } from '../agents/notify.js';
import { recordAudit } from '../audit/audit.js';
import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { bindAccountReferences, canonicalJson, contentHash, resolveDocument, selectorMatches, selectorSchema, type DocumentValidation, type Selector } from './document.js';

/** Largest pipeline document accepted, as YAML text (UTF-8 bytes); its JSON encoding fits the API's 1 MiB body limit. */
export const MAX_SOURCE_BYTES = 256 * 1024;

/**
 * A pipeline document as operators send it: the YAML `source` as written (kept verbatim, with
 * comments and key order) and/or the parsed `document`. With both, they must agree.
 */
const documentFields = {
  document: z.record(z.string(), z.unknown()).optional(),
  source: z
    .string()
    .max(MAX_SOURCE_BYTES, `at most ${MAX_SOURCE_BYTES / 1024} KiB of YAML`)
    .refine((text) => Buffer.byteLength(text, 'utf8') <= MAX_SOURCE_BYTES, `at most ${MAX_SOURCE_BYTES / 1024} KiB of YAML`)
    .optional(),
};

function requireDocument(v: { document?: unknown; source?: string | undefined }, ctx: z.RefinementCtx): void {
  if (v.document === undefined && v.source === undefined) ctx.addIssue({ code: 'custom', path: ['source'], message: 'required: the pipeline document as YAML' });
}

/** Input of a new pipeline. */
export const newPipelineSchema = z
  .object({
    name: z.string().trim().min(1, 'required').max(100).regex(/^[\w .-]+$/, 'letters, digits, spaces, _ . - only'),
    description: z.string().max(2000).default(''),
    selector: selectorSchema.default([]),
    ...documentFields,
    note: z.string().max(2000).default(''),
  })
  .strict()
  .superRefine(requireDocument);
export type NewPipeline = z.input<typeof newPipelineSchema>;

/** A new draft version of an existing pipeline. */
export const draftSchema = z
  .object({
    selector: selectorSchema,
    ...documentFields,
    note: z.string().max(2000).default(''),
  })
  .strict()
  .superRefine(requireDocument);
export type Draft = z.input<typeof draftSchema>;

/**
 * Parses a pipeline's YAML source into its document (YAML 1.2 core schema, duplicate keys
 * refused, as the editor parses it). Syntax errors are BAD_INPUT on `source` with the line.
 */
export function parsePipelineSource(source: string): Record<string, unknown> {
  const doc = parseDocument(source, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const at = e.linePos ? `line ${e.linePos[0].line}, column ${e.linePos[0].col}: ` : '';
    throw new AppError('BAD_INPUT', `${at}${e.message.split('\n')[0]}`, { field: 'source' });
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 }) ?? {};
  } catch (err) {
    throw new AppError('BAD_INPUT', (err as Error).message, { field: 'source' });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppError('BAD_INPUT', 'the document must be a mapping with scrape_configs and remote_write', { field: 'source' });
  }
  return value as Record<string, unknown>;
}

/** The document and source of an input: the source wins (it is what the operator wrote). */
function documentOf(input: { document?: Record<string, unknown> | undefined; source?: string | undefined }): { document: Record<string, unknown>; source: string | null } {
  if (input.source === undefined) return { document: input.document!, source: null };
  const parsed = parsePipelineSource(input.source);
  if (input.document !== undefined && canonicalJson(input.document) !== canonicalJson(parsed)) {
    throw new AppError('BAD_INPUT', 'document and source disagree: send the YAML source alone', { field: 'document' });
  }
  return { document: parsed, source: input.source };
}

async function accountsOf(db: Db) {
  return db.select().from(awsAccounts);
}

/** Validates a document against the agent's config model and the registered accounts. */
export async function validatePipelineDocument(ctx: { db: Db }, document: unknown): Promise<DocumentValidation> {
  return resolveDocument(document, await accountsOf(ctx.db));
}

/** Pipelines with their latest and published version numbers. */
export async function listPipelines(ctx: { db: Db }, search?: string) {
  const published = alias(pipelineVersions, 'published_version');
  const rows = await ctx.db
    .select({
      id: pipelines.id,
      name: pipelines.name,
      description: pipelines.description,
      updatedAt: pipelines.updatedAt,
      latestVersion: max(pipelineVersions.version),
      publishedVersion: sql<number | null>`(select ${published.version} from ${pipelineVersions} ${published} where ${published.pipelineId} = ${pipelines.id} and ${published.published})`,
    })
    .from(pipelines)
    .leftJoin(pipelineVersions, eq(pipelineVersions.pipelineId, pipelines.id))
    .where(and(isNull(pipelines.archivedAt), search ? ilike(pipelines.name, `%${search}%`) : undefined))
    .groupBy(pipelines.id)
    .orderBy(asc(pipelines.name));
  return rows.map((r) => ({ ...r, publishedVersion: r.publishedVersion === null ? null : Number(r.publishedVersion) }));
}

/** A pipeline with every version (newest first), authors by e-mail. */
export async function getPipeline(ctx: { db: Db }, id: string) {
  const [pipeline] = await ctx.db.select().from(pipelines).where(and(eq(pipelines.id, id), isNull(pipelines.archivedAt)));
  if (!pipeline) throw new AppError('NOT_FOUND', 'no such pipeline', { field: 'id' });
  const author = alias(users, 'author');
  const publisher = alias(users, 'publisher');
  const versions = await ctx.db
    .select({
      id: pipelineVersions.id,
      version: pipelineVersions.version,
      selector: pipelineVersions.selector,
      config: pipelineVersions.config,
      source: pipelineVersions.source,
      accountRefs: pipelineVersions.accountRefs,
      contentHash: pipelineVersions.contentHash,
      note: pipelineVersions.note,
      author: author.email,
      createdAt: pipelineVersions.createdAt,
      published: pipelineVersions.published,
      publishedAt: pipelineVersions.publishedAt,
      publishedBy: publisher.email,
      publishNote: pipelineVersions.publishNote,
    })
    .from(pipelineVersions)
    .leftJoin(author, eq(author.id, pipelineVersions.authorId))
    .leftJoin(publisher, eq(publisher.id, pipelineVersions.publishedBy))
    .where(eq(pipelineVersions.pipelineId, id))
    .orderBy(desc(pipelineVersions.version));
  return { ...pipeline, versions };
}

function authorId(ctx: ServiceContext): string | null {
  return ctx.actor.type === 'user' ? ctx.actor.id : null;
}

/** Creates a pipeline and its first (draft) version. The document may be invalid: drafts are saved as written. */
export async function createPipeline(ctx: ServiceContext, input: NewPipeline) {
  const data = newPipelineSchema.parse(input);
  return ctx.db.transaction(async (tx) => {
    const [existing] = await tx.select({ id: pipelines.id }).from(pipelines).where(and(eq(pipelines.name, data.name), isNull(pipelines.archivedAt)));
    if (existing) throw new AppError('CONFLICT', `a pipeline named ${JSON.stringify(data.name)} exists already`, { field: 'name' });
    const { document, source } = documentOf(data);
    const [p] = await tx.insert(pipelines).values({ name: data.name, description: data.description, createdBy: authorId(ctx) }).returning();
    const accountRefs = bindAccountReferences(document, await accountsOf(tx));
    const [v] = await tx
      .insert(pipelineVersions)
      .values({ pipelineId: p!.id, version: 1, selector: data.selector, config: document, source, accountRefs, contentHash: contentHash(data.selector, document), authorId: authorId(ctx), note: data.note })
      .returning();
    await recordAudit({ ...ctx, db: tx }, { action: 'pipeline.create', targetType: 'pipeline', targetId: p!.name, after: { version: 1, selector: data.selector, document, source } });
    return { pipeline: p!, version: v! };
  });
}

/**
 * Saves an edit as the pipeline's draft. A pipeline has at most one working draft: a draft that
 * was never published is replaced by the next save (keeping its number), so numbers are only
 * consumed by versions that get published. An edit identical to the latest version (same
 * selector, document and YAML text) returns that version.
 */
export async function saveDraft(ctx: ServiceContext, pipelineId: string, input: Draft) {
  const data = draftSchema.parse(input);
  const { document, source } = documentOf(data);
  return ctx.db.transaction(async (tx) => {
    const current = await getPipeline({ db: tx }, pipelineId);
    const hash = contentHash(data.selector, document);
    const latest = current.versions[0];
    if (latest && latest.contentHash === hash && (source === null || latest.source === source)) return { version: latest, created: false };
    const replaces = latest && !latest.published && latest.publishedAt === null ? latest : undefined;
    const next = replaces ? replaces.version : (latest?.version ?? 0) + 1;
    if (replaces) await tx.delete(pipelineVersions).where(eq(pipelineVersions.id, replaces.id));
    const accountRefs = bindAccountReferences(document, await accountsOf(tx));
    const [v] = await tx
      .insert(pipelineVersions)
      .values({ pipelineId, version: next, selector: data.selector, config: document, source, accountRefs, contentHash: hash, authorId: authorId(ctx), note: data.note })
      .returning();
    await tx.update(pipelines).set({ updatedAt: new Date() }).where(eq(pipelines.id, pipelineId));
    await recordAudit({ ...ctx, db: tx }, {
      action: 'pipeline.draft',
      targetType: 'pipeline',
      targetId: current.name,
      before: latest ? { version: latest.version, selector: latest.selector, document: latest.config, source: latest.source, draftReplaced: replaces !== undefined } : null,
      after: { version: next, selector: data.selector, document, source, note: data.note },
    });
    return { version: { ...v!, author: ctx.actor.type === 'user' ? ctx.actor.email : null }, created: true };
  });
}

/**
 * Publishes a version (also an older one: that is a rollback). It must be valid; `note` says why.
 * The previously published version stops being published. Agents pick it up through the gateway.
 */
export async function publishVersion(ctx: ServiceContext, pipelineId: string, version: number, note: string) {
  if (!note.trim()) throw new AppError('BAD_INPUT', 'say why you publish (shown in the history and audit log)', { field: 'note' });
  return ctx.db.transaction(async (tx) => {
    const p = await getPipeline({ db: tx }, pipelineId);
    const target = p.versions.find((v) => v.version === version);
    if (!target) throw new AppError('NOT_FOUND', `pipeline ${p.name} has no version ${version}`, { field: 'version' });
    const check = resolveDocument(target.config, await accountsOf(tx), target.accountRefs);
    if (!check.ok) {
      throw new AppError('BAD_INPUT', `version ${version} is not valid: ${check.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, { field: 'document' });
    }
    const previous = p.versions.find((v) => v.published);
    if (previous?.version === version) throw new AppError('CONFLICT', `version ${version} is already published`, { field: 'version' });
    await tx.update(pipelineVersions).set({ published: false }).where(and(eq(pipelineVersions.pipelineId, pipelineId), eq(pipelineVersions.published, true)));
    await tx
      .update(pipelineVersions)
      .set({ published: true, publishedAt: new Date(), publishedBy: authorId(ctx), publishNote: note.trim() })
      .where(and(eq(pipelineVersions.pipelineId, pipelineId), eq(pipelineVersions.version, version)));
    await tx.update(pipelines).set({ updatedAt: new Date() }).where(eq(pipelines.id, pipelineId));
    const rollback = previous !== undefined && version < previous.version;
    const selectorChanged = previous !== undefined && canonicalJson(previous.selector) !== canonicalJson(target.selector);
    await recordAudit({ ...ctx, db: tx }, {
      action: rollback ? 'pipeline.rollback' : 'pipeline.publish',
      targetType: 'pipeline',
      targetId: p.name,
      before: previous ? { publishedVersion: previous.version } : { publishedVersion: null },
      after: { publishedVersion: version, note: note.trim() },
    });
    await announceAgentChange(tx, { kind: 'config' });
    return { version, rollback, selectorChanged, selector: target.selector as Selector, previousSelector: (previous?.selector ?? null) as Selector | null };
  });
}

/** Archives a pipeline (its versions stay for the audit trail); it stops applying to agents. */
export async function archivePipeline(ctx: ServiceContext, pipelineId: string) {
  await ctx.db.transaction(async (tx) => {
    const p = await getPipeline({ db: tx }, pipelineId);
    await tx.update(pipelineVersions).set({ published: false }).where(eq(pipelineVersions.pipelineId, pipelineId));
    await tx.update(pipelines).set({ archivedAt: new Date(), name: `${p.name} (archived ${p.id.slice(0, 8)})` }).where(eq(pipelines.id, pipelineId));
    await recordAudit({ ...ctx, db: tx }, { action: 'pipeline.archive', targetType: 'pipeline', targetId: p.name });
    await announceAgentChange(tx, { kind: 'config' });
  });
}

function versionText(v: { selector: unknown; config: unknown; source: string | null }, keptText: boolean): string {
  const selector = stringify({ selector: JSON.parse(canonicalJson(v.selector)) as unknown }, { lineWidth: 0 });
  const body = keptText && v.source !== null ? v.source : stringify(JSON.parse(canonicalJson(v.config)), { lineWidth: 0 });
  return `${selector}---\n${body.endsWith('\n') ? body : `${body}\n`}`;
}

/**
 * A line diff between two versions of a pipeline: the selector, then the documents — as the
 * operators wrote them when both kept their YAML, else with keys sorted.
 */
export async function diffVersions(ctx: { db: Db }, pipelineId: string, from: number, to: number) {
  const p = await getPipeline(ctx, pipelineId);
  const a = p.versions.find((v) => v.version === from);
  const b = p.versions.find((v) => v.version === to);
  if (!a) throw new AppError('NOT_FOUND', `no version ${from}`, { field: 'from' });
  if (!b) throw new AppError('NOT_FOUND', `no version ${to}`, { field: 'to' });
  const keptText = a.source !== null && b.source !== null;
  const patch = structuredPatch(`v${from}`, `v${to}`, versionText(a, keptText), versionText(b, keptText), '', '', { context: 3 });
  return { from, to, identical: a.contentHash === b.contentHash, hunks: patch.hunks.map((h) => ({ oldStart: h.oldStart, newStart: h.newStart, lines: h.lines })) };
}

/** Enrolled agents (not revoked) whose labels the selector matches now. */
export async function previewSelector(ctx: { db: Db }, selector: Selector, limit = 100) {
  const rows = await ctx.db
    .select({ id: agents.id, name: agents.name, labels: agents.labels, connected: agents.connected, lastSeenAt: agents.lastSeenAt })
    .from(agents)
    .where(isNull(agents.revokedAt));
  const matched = rows.filter((a) => selectorMatches(selector, a.labels));
  return { total: rows.length, matched: matched.length, agents: matched.slice(0, limit) };
}

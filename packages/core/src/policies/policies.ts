import {
  BUILTIN_TEMPLATES,
  cliScript,
  generateAssumeRolePolicy,
  generateCliCommands,
  generatePermissionsPolicy,
  generateTrustPolicy,
  mergeStatements,
  IamGenerationError,
  isTemplateKey,
  parseArn,
  partitionOfRegion,
  PLACEHOLDERS,
  TEMPLATE_KEYS,
  validateTemplate,
  type AwsPartition,
  type IamDestination,
  type IamPolicyDocument,
  type TemplateKey,
  type TemplateOverrides,
} from '@fleet/aws';
import { iamPolicyTemplates, iamPolicyTemplateVersions, users, type Db } from '@fleet/db';
import { desc, eq } from 'drizzle-orm';
import { z } from 'zod';
import type { AwsAccount } from '../accounts/accounts.js';
import { listAwsAccounts } from '../accounts/accounts.js';
import { recordAudit } from '../audit/audit.js';
import type { ServiceContext } from '../context.js';
import { AppError } from '../errors.js';
import { getPipeline } from '../pipelines/pipelines.js';
import { findReferencedAccount } from '../pipelines/document.js';

/** A template as operators see it: built-in text or the latest edit. */
export interface TemplateView {
  key: TemplateKey;
  name: string;
  kind: 'permissions' | 'trust';
  description: string;
  /** True while the text is the built-in one (never edited, or reset to it). */
  builtin: boolean;
  /** 0 = the built-in text, never edited. */
  version: number;
  body: string;
  placeholders: Array<{ name: string; description: string }>;
}

/** Current templates: every built-in key, with its latest stored edit if any. */
export async function listTemplates(ctx: { db: Db }): Promise<TemplateView[]> {
  const stored = await ctx.db.select().from(iamPolicyTemplates);
  const out: TemplateView[] = [];
  for (const key of TEMPLATE_KEYS) {
    const spec = BUILTIN_TEMPLATES[key];
    const row = stored.find((r) => r.key === key);
    let body = spec.text;
    if (row) {
      const [v] = await ctx.db
        .select({ body: iamPolicyTemplateVersions.body })
        .from(iamPolicyTemplateVersions)
        .where(eq(iamPolicyTemplateVersions.templateId, row.id))
        .orderBy(desc(iamPolicyTemplateVersions.version))
        .limit(1);
      body = v?.body ?? body;
    }
    out.push({
      key,
      name: spec.name,
      kind: spec.kind,
      description: spec.description,
      builtin: body === spec.text,
      version: row?.currentVersion ?? 0,
      body,
      placeholders: spec.placeholders.map((p) => ({ name: p, description: PLACEHOLDERS[p]?.description ?? '' })),
    });
  }
  return out;
}

/** Edited templates, for the generators. */
export async function templateOverrides(ctx: { db: Db }): Promise<TemplateOverrides> {
  const overrides: Partial<Record<TemplateKey, string>> = {};
  for (const t of await listTemplates(ctx)) if (t.version > 0) overrides[t.key] = t.body;
  return overrides as TemplateOverrides;
}

/** Every stored version of a template, newest first. */
export async function templateVersions(ctx: { db: Db }, key: string) {
  const [row] = await ctx.db.select().from(iamPolicyTemplates).where(eq(iamPolicyTemplates.key, key));
  if (!row) return [];
  return ctx.db
    .select({ version: iamPolicyTemplateVersions.version, body: iamPolicyTemplateVersions.body, note: iamPolicyTemplateVersions.note, createdAt: iamPolicyTemplateVersions.createdAt, author: users.email })
    .from(iamPolicyTemplateVersions)
    .leftJoin(users, eq(users.id, iamPolicyTemplateVersions.authorId))
    .where(eq(iamPolicyTemplateVersions.templateId, row.id))
    .orderBy(desc(iamPolicyTemplateVersions.version));
}

/** Stores a new version of a template after validating it (placeholders, JSON, IAM structure). */
export async function updateTemplate(ctx: ServiceContext, key: string, body: string, note: string) {
  if (!isTemplateKey(key)) throw new AppError('NOT_FOUND', `unknown template ${JSON.stringify(key)}`, { field: 'key' });
  const check = validateTemplate(key, body);
  if (!check.ok) throw new AppError('BAD_INPUT', check.errors.map((e) => e.message).join('; '), { field: 'body' });
  const spec = BUILTIN_TEMPLATES[key];
  return ctx.db.transaction(async (tx) => {
    let [row] = await tx.select().from(iamPolicyTemplates).where(eq(iamPolicyTemplates.key, key));
    const version = (row?.currentVersion ?? 0) + 1;
    if (!row) {
      [row] = await tx.insert(iamPolicyTemplates).values({ key, name: spec.name, kind: spec.kind, builtin: true, currentVersion: version }).returning();
    } else {
      await tx.update(iamPolicyTemplates).set({ currentVersion: version, updatedAt: new Date() }).where(eq(iamPolicyTemplates.id, row.id));
    }
    await tx.insert(iamPolicyTemplateVersions).values({ templateId: row!.id, version, body, note, authorId: ctx.actor.type === 'user' ? ctx.actor.id : null });
    await recordAudit({ ...ctx, db: tx }, { action: 'policy_template.update', targetType: 'policy_template', targetId: key, after: { version, note } });
    return { key, version, warnings: check.warnings.map((w) => w.message) };
  });
}

/** Goes back to the built-in text (as a new version: history is kept). */
export async function resetTemplate(ctx: ServiceContext, key: string) {
  if (!isTemplateKey(key)) throw new AppError('NOT_FOUND', `unknown template ${JSON.stringify(key)}`, { field: 'key' });
  return updateTemplate(ctx, key, BUILTIN_TEMPLATES[key].text, 'reset to the built-in template');
}

/** What to generate policies for. */
export const policyRequestSchema = z.object({
  pipelineId: z.uuid('not a pipeline id'),
  version: z.number().int().positive().optional(),
  roleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'an IAM role name: 1–64 letters, digits and + = , . @ _ -').default('fleet-agent'),
  /** The role agents run as (instance profile / IRSA / Pod Identity role), if it exists already. */
  collectorRoleArn: z.string().optional(),
  irsa: z
    .object({ oidcProvider: z.string().min(1, 'required'), namespace: z.string().min(1, 'required'), serviceAccount: z.string().min(1, 'required') })
    .optional(),
});
export type PolicyRequest = z.input<typeof policyRequestSchema>;

const pretty = (doc: IamPolicyDocument) => JSON.stringify(doc, null, 2);

/**
 * The IAM documents a pipeline needs, from exactly what its destinations write to: the
 * permissions of the role that writes (the agents' own role, or per registered account the role
 * they assume there), the trust policies of the agents' role (EC2, IRSA, Pod Identity), the
 * cross-account trust (with the account's ExternalId), and `aws iam` commands.
 */
export async function policiesForPipeline(ctx: { db: Db }, input: PolicyRequest) {
  const req = policyRequestSchema.parse(input);
  const p = await getPipeline(ctx, req.pipelineId);
  const v = req.version ? p.versions.find((x) => x.version === req.version) : (p.versions.find((x) => x.published) ?? p.versions[0]);
  if (!v) throw new AppError('NOT_FOUND', `pipeline ${p.name} has no version ${req.version}`, { field: 'version' });
  const accounts = await listAwsAccounts(ctx);
  const templates = await templateOverrides(ctx);
  const problems: string[] = [];

  // Which role writes where: registered accounts (assumed role) or the agents' own role.
  const groups = new Map<string, { account: AwsAccount | null; destinations: IamDestination[] }>();
  const remote = ((v.config as { remote_write?: unknown[] }).remote_write ?? []) as Array<Record<string, unknown>>;
  remote.forEach((rw, i) => {
    const url = typeof rw.url === 'string' ? rw.url : '';
    const ref = rw.aws_account;
    const account = ref === undefined ? null : (findReferencedAccount(String(ref), accounts, v.accountRefs).account ?? null);
    if (ref !== undefined && !account) problems.push(`remote_write[${i}]: no registered AWS account ${JSON.stringify(ref)}`);
    if (!/\/workspaces\/ws-[\w-]+\//.test(url)) {
      problems.push(`remote_write[${i}]: ${url || 'no URL'} is not an Amazon Managed Service for Prometheus workspace; no IAM permission is needed or generated for it`);
      return;
    }
    const key = account?.id ?? 'self';
    const g = groups.get(key) ?? { account, destinations: [] };
    g.destinations.push({ kind: 'amp', url, accountId: account?.accountId });
    groups.set(key, g);
  });

  let collectorAccount: string | undefined;
  let collectorPartition: AwsPartition = 'aws';
  if (req.collectorRoleArn) {
    try {
      const arn = parseArn(req.collectorRoleArn);
      collectorAccount = arn.account;
      collectorPartition = arn.partition as AwsPartition;
    } catch (err) {
      throw new AppError('BAD_INPUT', (err as Error).message, { field: 'collectorRoleArn' });
    }
  } else {
    const first = [...groups.values()].find((g) => g.account)?.account ?? accounts[0];
    collectorAccount = first?.accountId;
    collectorPartition = first ? (partitionOfRegion(first.defaultRegion) ?? 'aws') : 'aws';
    if (!first) problems.push('no AWS account registered: register the account the agents run in, or give the collector role ARN');
  }
  const collectorRoleArn = req.collectorRoleArn ?? (collectorAccount ? `arn:${collectorPartition}:iam::${collectorAccount}:role/${req.roleName}` : undefined);

  const generate = <T>(what: string, fn: () => T): T | null => {
    try {
      return fn();
    } catch (err) {
      if (err instanceof IamGenerationError) problems.push(`${what}: ${err.issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
      else throw err;
      return null;
    }
  };

  const self = groups.get('self');
  const permissions = self && collectorAccount ? generate('permissions', () => generatePermissionsPolicy(self.destinations, { accountId: collectorAccount!, partition: collectorPartition, templates })) : null;
  const base = { partition: collectorPartition, accountId: collectorAccount ?? '000000000000', templates };
  const ec2 = generate('trust.ec2', () => generateTrustPolicy('ec2', base));
  const podIdentity = generate('trust.pod_identity', () => generateTrustPolicy('pod_identity', { ...base, namespace: req.irsa?.namespace ?? 'monitoring', serviceAccount: req.irsa?.serviceAccount ?? 'fleet-agent' }));
  const irsa = req.irsa ? generate('trust.irsa', () => generateTrustPolicy('irsa', { ...base, oidcIssuer: req.irsa!.oidcProvider, namespace: req.irsa!.namespace, serviceAccount: req.irsa!.serviceAccount })) : null;

  const crossAccount = [...groups.values()]
    .filter((g): g is { account: AwsAccount; destinations: IamDestination[] } => g.account !== null)
    .map((g) => {
      const partition = partitionOfRegion(g.account.defaultRegion) ?? 'aws';
      const perms = generate(`permissions (${g.account.name})`, () => generatePermissionsPolicy(g.destinations, { accountId: g.account.accountId, partition, templates }));
      const trust = collectorRoleArn
        ? generate(`trust.cross_account (${g.account.name})`, () =>
            generateTrustPolicy('cross_account', { partition, accountId: g.account.accountId, collectorRoleArns: collectorRoleArn, externalId: g.account.externalId, templates }),
          )
        : null;
      return { account: g.account.name, accountId: g.account.accountId, roleArn: g.account.roleArn, json: trust ? pretty(trust) : null, permissionsJson: perms ? pretty(perms) : null, perms, trust };
    });

  // Commands: the agents' role (EC2 instance profile), then each account's writer role.
  const commands = [];
  const assumePolicy = crossAccount.length
    ? generate('permissions (assume writer roles)', () => generateAssumeRolePolicy({ partition: collectorPartition, targetRoleArns: crossAccount.map((c) => c.roleArn), templates }))
    : null;
  // The agents' own role needs both what it writes directly and sts:AssumeRole on writer roles.
  const collectorPermissions: IamPolicyDocument | null =
    permissions && assumePolicy ? { ...permissions, Statement: mergeStatements([...permissions.Statement, ...assumePolicy.Statement]) } : (permissions ?? assumePolicy);
  if (ec2 && collectorPermissions) {
    const c = generate('cli', () => generateCliCommands({ roleName: req.roleName, trustPolicy: ec2, permissionsPolicy: collectorPermissions, policyName: `${req.roleName}-write`, instanceProfile: true }));
    if (c) commands.push(...c);
  }
  for (const c of crossAccount) {
    if (!c.perms || !c.trust) continue;
    const roleName = c.roleArn.split('/').at(-1)!;
    const cmds = generate('cli', () => generateCliCommands({ roleName, trustPolicy: c.trust!, permissionsPolicy: c.perms!, policyName: `${roleName}-write` }));
    if (cmds) commands.push(...cmds);
  }
  return {
    pipeline: p.name,
    version: v.version,
    collectorRoleArn: collectorRoleArn ?? null,
    permissions: collectorPermissions ? { json: pretty(collectorPermissions), statements: collectorPermissions.Statement.length } : null,
    trust: {
      ec2: ec2 ? pretty(ec2) : null,
      irsa: irsa ? pretty(irsa) : null,
      podIdentity: podIdentity ? pretty(podIdentity) : null,
      crossAccount: crossAccount.map(({ perms: _p, trust: _t, ...rest }) => rest),
    },
    cli: commands.length ? cliScript(commands) : '',
    problems,
  };
}

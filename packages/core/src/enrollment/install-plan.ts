import {
  awsRegionSchema,
  generateTrustPolicy,
  IamGenerationError,
  mergeStatements,
  oidcProviderFromIssuer,
  partitionOfRegion,
  type AwsPartition,
  type CliCommand,
  type IamPolicyDocument,
  type IamStatement,
  type TrustKind,
} from '@fleet/aws';
import { awsAccounts, enrollmentTokens, type Db } from '@fleet/db';
import { KUBERNETES_INSTALL } from '@fleet/protocol';
import { eq } from 'drizzle-orm';
import { z } from 'zod';
import { loadPublishedPipelines } from '../agents/effective-config.js';
import { AppError } from '../errors.js';
import { selectorMatches } from '../pipelines/document.js';
import { policiesForPipeline, templateOverrides } from '../policies/policies.js';
import { associateInstanceStep, helmCommand, helmValues, oidcProviderStep, podIdentitySteps, roleSteps, stepsScript, type EksTarget } from './install-commands.js';

const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const k8sName = (what: string, max: number) => z.string().trim().max(max, `at most ${max} characters`).regex(K8S_NAME, `not a Kubernetes ${what}: lowercase letters, digits and -, starting and ending with a letter or digit`);

/** Where the agents' own role lives: a registered account, or the (unregistered) account the agents run in. */
const accountSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('registered'), id: z.uuid('not an account id') }).strict(),
  z.object({ kind: z.literal('self'), accountId: z.string().trim().regex(/^\d{12}$/, 'the 12-digit id of the account the agents run in') }).strict(),
]);

const ec2TargetSchema = z
  .object({
    kind: z.literal('ec2'),
    /** Optional: also give this instance the instance profile. */
    instanceId: z.string().trim().regex(/^i-[0-9a-f]{8,17}$/, 'an EC2 instance id: i- and 8 or 17 hex digits').optional(),
  })
  .strict();

const eksTargetSchema = z
  .object({
    kind: z.literal('eks'),
    clusterName: z.string().trim().regex(/^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$/, 'an EKS cluster name: letters, digits, - and _, at most 100'),
    namespace: k8sName('namespace', 63).default(KUBERNETES_INSTALL.namespace),
    serviceAccount: k8sName('service account name', 253).default(KUBERNETES_INSTALL.serviceAccount),
    credentials: z.enum(['irsa', 'pod_identity']),
    /** IRSA: the cluster's OIDC issuer URL (`aws eks describe-cluster --query cluster.identity.oidc.issuer`). */
    oidcIssuer: z.string().trim().max(300).optional(),
    workload: z.enum(['daemonset', 'deployment']).default('daemonset'),
    /** PEM of a private CA the control plane's certificate chains to (empty: publicly trusted). */
    caBundle: z.string().max(64_000).default(''),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.credentials !== 'irsa') return;
    if (!t.oidcIssuer) return void ctx.addIssue({ code: 'custom', path: ['oidcIssuer'], message: 'required for IRSA: the cluster’s OIDC issuer URL' });
    try {
      oidcProviderFromIssuer(t.oidcIssuer);
    } catch (err) {
      ctx.addIssue({ code: 'custom', path: ['oidcIssuer'], message: (err as Error).message });
    }
  });

/** Input of {@link buildInstallPlan}, as the wizards send it. */
export const installPlanSchema = z
  .object({
    tokenId: z.uuid('not a token id'),
    /** The control plane's URL as agents reach it (the wizard's page origin). */
    server: z.url({ protocol: /^https?$/, error: 'an http(s) URL' }).max(2000),
    account: accountSchema,
    roleName: z.string().regex(/^[\w+=,.@-]{1,64}$/, 'an IAM role name: 1–64 letters, digits and + = , . @ _ -').default('fleet-agent'),
    /** Needed for EKS (cluster commands, `aws.region`); optional for EC2 (`--region` on the ec2 command). */
    region: awsRegionSchema.optional(),
    target: z.discriminatedUnion('kind', [ec2TargetSchema, eksTargetSchema]),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.target.kind === 'eks' && !v.region) ctx.addIssue({ code: 'custom', path: ['region'], message: 'required: the cluster’s region' });
  });

/** Options of {@link buildInstallPlan}: the wizard's input and the control plane's version (its chart's). */
export type InstallPlanOptions = z.input<typeof installPlanSchema> & { version: string };

/** A published pipeline the token's agents run. */
export interface PlannedPipeline {
  id: string;
  name: string;
  version: number;
}

/** A writer role in a registered account that the agents assume (its documents merged over the pipelines). */
export interface PlannedWriterRole {
  account: string;
  accountId: string;
  roleArn: string;
  trustJson: string | null;
  permissionsJson: string | null;
}

/** What a wizard shows: the documents, the commands, and what to check. */
export interface InstallPlan {
  token: { id: string; name: string; labels: Record<string, string>; state: 'active' | 'expired' | 'used_up' | 'revoked'; platform: string };
  /** Every published pipeline whose selector matches the token's labels (the agent runs their merge). */
  pipelines: PlannedPipeline[];
  role: { name: string; arn: string; accountId: string; partition: AwsPartition; trustKind: TrustKind };
  /** The agents' role's trust policy (JSON). */
  trustJson: string;
  /** The union of the pipelines' permissions for the agents' role; null when they write to no AWS destination. */
  permissions: { json: string; statements: number } | null;
  writerRoles: PlannedWriterRole[];
  /** Idempotent shell script for the agents' role (and the cluster side for EKS). */
  script: string;
  /** One script per destination account whose writer role the agents assume (run there). */
  writerScripts: Array<{ account: string; script: string }>;
  eks: { oidcProviderArn: string | null; helmValues: string; helmCommand: string; namespace: string; serviceAccount: string } | null;
  problems: string[];
}

const pretty = (doc: IamPolicyDocument) => JSON.stringify(doc, null, 2);

/** Sids made unique after merging statements of several documents (`AmpRemoteWrite`, `AmpRemoteWrite2`, …). */
function withUniqueSids(statements: IamStatement[]): IamPolicyDocument {
  const seen = new Set<string>();
  const out = statements.map((s) => {
    if (!s.Sid) return s;
    let sid = s.Sid;
    for (let n = 2; seen.has(sid); n++) sid = `${s.Sid}${n}`;
    seen.add(sid);
    return sid === s.Sid ? s : { ...s, Sid: sid };
  });
  return { Version: '2012-10-17', Statement: out };
}

/** The union of several documents (null ones skipped); null when none has a statement. */
function union(jsons: ReadonlyArray<string | null>): IamPolicyDocument | null {
  const statements = jsons.flatMap((j) => (j ? (JSON.parse(j) as IamPolicyDocument).Statement : []));
  return statements.length ? withUniqueSids(mergeStatements(statements)) : null;
}

const FIELD_OF_PARAM: Record<string, string> = { 'params.oidcIssuer': 'target.oidcIssuer', 'params.namespace': 'target.namespace', 'params.serviceAccount': 'target.serviceAccount' };

async function tokenOf(db: Db, id: string): Promise<InstallPlan['token']> {
  const [t] = await db.select().from(enrollmentTokens).where(eq(enrollmentTokens.id, id));
  if (!t) throw new AppError('NOT_FOUND', 'no such enrollment token', { field: 'tokenId' });
  const now = new Date();
  const state = t.revokedAt ? 'revoked' : t.expiresAt <= now ? 'expired' : t.maxUses !== null && t.useCount >= t.maxUses ? 'used_up' : 'active';
  return { id: t.id, name: t.name, labels: t.labels, state, platform: t.platform };
}

async function agentAccount(db: Db, account: z.infer<typeof accountSchema>, region: string | undefined): Promise<{ accountId: string; partition: AwsPartition; region: string | undefined }> {
  if (account.kind === 'self') return { accountId: account.accountId, partition: (region && partitionOfRegion(region)) || 'aws', region };
  const [a] = await db.select().from(awsAccounts).where(eq(awsAccounts.id, account.id));
  if (!a) throw new AppError('NOT_FOUND', 'no such AWS account', { field: 'account.id' });
  return { accountId: a.accountId, partition: a.partition, region: region ?? a.defaultRegion };
}

/**
 * Everything one enrollment needs in AWS (and, for EKS, the cluster): the agents' role with its
 * trust (EC2 instance profile, IRSA or Pod Identity, for the entered namespace and service
 * account), the union of the permissions of every published pipeline whose selector matches the
 * token's labels (the agent runs their merge; each pipeline's documents come from
 * {@link policiesForPipeline}), the writer roles it assumes in registered accounts, idempotent
 * commands, and for EKS the Helm values and command of this control plane's chart.
 */
export async function buildInstallPlan(ctx: { db: Db }, options: InstallPlanOptions): Promise<InstallPlan> {
  const { version, ...input } = options;
  const req = installPlanSchema.parse(input);
  const token = await tokenOf(ctx.db, req.tokenId);
  const account = await agentAccount(ctx.db, req.account, req.region);
  const roleArn = `arn:${account.partition}:iam::${account.accountId}:role/${req.roleName}`;
  const problems: string[] = [];
  if (token.state !== 'active') problems.push(`the token ${token.name} is ${token.state.replace('_', ' ')}: no agent can enroll with it; create another`);
  if (req.region && partitionOfRegion(req.region) !== account.partition) problems.push(`region ${req.region} is not in partition ${account.partition} of the account ${account.accountId}`);

  // The pipelines the token's agents run: as core/agents/effective-config.ts selects them.
  const published = await loadPublishedPipelines(ctx.db);
  const selected = published.pipelines.filter((p) => selectorMatches(p.selector, token.labels));
  for (const b of published.broken.filter((x) => selectorMatches(x.selector, token.labels))) {
    problems.push(`pipeline ${b.name} v${b.version} no longer resolves (${b.problem}): these agents get no config until it is fixed or rolled back`);
  }
  const perPipeline = [];
  for (const p of selected) {
    const doc = await policiesForPipeline(ctx, { pipelineId: p.id, version: p.version, roleName: req.roleName, collectorRoleArn: roleArn });
    perPipeline.push(doc);
    problems.push(...doc.problems.map((x) => `${p.name} v${p.version}: ${x}`));
  }
  const permissions = union(perPipeline.map((d) => d.permissions?.json ?? null));

  const writers = new Map<string, { account: string; accountId: string; roleArn: string; trust: string | null; perms: Array<string | null> }>();
  for (const c of perPipeline.flatMap((d) => d.trust.crossAccount)) {
    const w = writers.get(c.roleArn) ?? { account: c.account, accountId: c.accountId, roleArn: c.roleArn, trust: c.json, perms: [] };
    w.perms.push(c.permissionsJson);
    writers.set(c.roleArn, w);
  }

  // The agents' role's trust: from the @fleet/aws templates (edited ones included).
  const templates = await templateOverrides(ctx);
  const base = { partition: account.partition, accountId: account.accountId, templates };
  const t = req.target;
  const trustKind: TrustKind = t.kind === 'ec2' ? 'ec2' : t.credentials;
  let trust: IamPolicyDocument;
  try {
    trust =
      t.kind === 'ec2'
        ? generateTrustPolicy('ec2', base)
        : t.credentials === 'irsa'
          ? generateTrustPolicy('irsa', { ...base, oidcIssuer: t.oidcIssuer!, namespace: t.namespace, serviceAccount: t.serviceAccount })
          : generateTrustPolicy('pod_identity', { ...base, namespace: t.namespace, serviceAccount: t.serviceAccount });
  } catch (err) {
    if (!(err instanceof IamGenerationError)) throw err;
    const first = err.issues[0]!;
    throw new AppError('BAD_INPUT', err.issues.map((i) => i.message).join('; '), { field: FIELD_OF_PARAM[first.path] ?? 'target' });
  }

  const steps: CliCommand[] = [];
  let eks: InstallPlan['eks'] = null;
  if (t.kind === 'eks') {
    const target: EksTarget = { clusterName: t.clusterName, namespace: t.namespace, serviceAccount: t.serviceAccount, region: req.region! };
    const oidcProviderArn = t.credentials === 'irsa' ? `arn:${account.partition}:iam::${account.accountId}:oidc-provider/${oidcProviderFromIssuer(t.oidcIssuer!)}` : null;
    if (t.credentials === 'irsa') steps.push(oidcProviderStep(target));
    steps.push(...roleSteps({ roleName: req.roleName, trustPolicy: trust, permissionsPolicy: permissions }));
    if (t.credentials === 'pod_identity') steps.push(...podIdentitySteps(target, roleArn));
    eks = {
      oidcProviderArn,
      namespace: t.namespace,
      serviceAccount: t.serviceAccount,
      helmValues: helmValues({
        server: req.server,
        caBundle: t.caBundle,
        labels: {},
        clusterName: t.clusterName,
        namespace: t.namespace,
        serviceAccount: t.serviceAccount,
        region: req.region!,
        roleArn: t.credentials === 'irsa' ? roleArn : undefined,
        workload: t.workload,
      }),
      helmCommand: helmCommand(req.server, version, t.namespace),
    };
  } else {
    steps.push(...roleSteps({ roleName: req.roleName, trustPolicy: trust, permissionsPolicy: permissions, instanceProfile: true }));
    if (t.instanceId) steps.push(associateInstanceStep(t.instanceId, req.roleName, account.region));
  }

  const writerRoles: PlannedWriterRole[] = [];
  const writerScripts: InstallPlan['writerScripts'] = [];
  for (const w of writers.values()) {
    const perms = union(w.perms);
    writerRoles.push({ account: w.account, accountId: w.accountId, roleArn: w.roleArn, trustJson: w.trust, permissionsJson: perms ? pretty(perms) : null });
    if (w.trust && perms) {
      const roleName = w.roleArn.split('/').at(-1)!;
      writerScripts.push({ account: w.account, script: stepsScript(roleSteps({ roleName, trustPolicy: JSON.parse(w.trust) as IamPolicyDocument, permissionsPolicy: perms })) });
    }
  }

  return {
    token,
    pipelines: selected.map((p) => ({ id: p.id, name: p.name, version: p.version })),
    role: { name: req.roleName, arn: roleArn, accountId: account.accountId, partition: account.partition, trustKind },
    trustJson: pretty(trust),
    permissions: permissions ? { json: pretty(permissions), statements: permissions.Statement.length } : null,
    writerRoles,
    script: stepsScript(steps),
    writerScripts,
    eks,
    problems,
  };
}

import type { z } from 'zod';
import { awsAccountIdSchema, dnsSuffix, isAwsPartition, parseRoleArn, partitionOfRegion, type AwsPartition, type ParsedRoleArn } from '../regions.js';
import { checkIamPolicy } from './check.js';
import { ampUrlProblem, IAM_DESTINATION_KINDS, iamDestinationSchema, type IamDestination } from './destinations.js';
import { BUILTIN_TEMPLATES, renderTemplate, TemplateError, validateTemplate, type PlaceholderName, type TemplateKey } from './templates.js';
import { formatJsonPath, IamGenerationError, type IamIssue, type IamPolicyDocument, type IamPolicyKind, type IamStatement } from './types.js';

/** Operator-edited template texts by key; keys not present use the built-in templates. */
export type TemplateOverrides = Readonly<Partial<Record<TemplateKey, string>>>;

/** The account a permissions policy is generated for. */
export interface PermissionsContext {
  /** Account of the role the policy is attached to; the default account of destinations. */
  accountId: string;
  partition: AwsPartition;
  /** Edited templates to use instead of the built-ins. */
  templates?: TemplateOverrides | undefined;
}

type Values = Partial<Record<PlaceholderName, string | readonly string[]>>;

interface Rendering {
  key: TemplateKey;
  values: Values;
  /** Input path for problems (`destinations[2]`). */
  source: string;
}

const zodIssues = (error: z.ZodError, prefix: readonly (string | number)[]): IamIssue[] =>
  error.issues.map((i) => ({ path: formatJsonPath([...prefix, ...(i.path as (string | number)[])]), message: i.message }));

function contextIssues(ctx: { accountId?: unknown; partition?: unknown }, path: string, needAccount = true): IamIssue[] {
  const issues: IamIssue[] = [];
  if (typeof ctx.partition !== 'string' || !isAwsPartition(ctx.partition)) issues.push({ path: `${path}.partition`, message: 'not an AWS partition; use aws, aws-cn or aws-us-gov' });
  if (needAccount) {
    const account = awsAccountIdSchema.safeParse(ctx.accountId);
    if (!account.success) issues.push({ path: `${path}.accountId`, message: account.error.issues[0]!.message });
  }
  return issues;
}

const base = (partition: AwsPartition, accountId: string): Values => ({ partition, dns_suffix: dnsSuffix(partition), account_id: accountId });

/** The template and values for one destination, or the reasons it cannot be written to from this account. */
function resolveDestination(d: IamDestination, ctx: PermissionsContext, path: string, issues: IamIssue[]): Rendering | undefined {
  const accountId = d.accountId ?? ctx.accountId;
  const regionOf = (region: string, field: string): string | undefined => {
    const partition = partitionOfRegion(region);
    if (partition !== ctx.partition) {
      issues.push({ path: `${path}.${field}`, message: `region ${region} is in partition ${partition}, but the account ${ctx.accountId} is in ${ctx.partition}; IAM policies cannot grant across partitions` });
      return undefined;
    }
    return region;
  };
  const values = base(ctx.partition, accountId);
  switch (d.kind) {
    case 'amp': {
      const result = ampUrlProblem(d.url);
      if ('problem' in result) {
        issues.push({ path: `${path}.url`, message: result.problem });
        return undefined;
      }
      const region = regionOf(result.workspace.region, 'url');
      return region ? { key: 'permissions.amp', values: { ...values, region, workspace_id: result.workspace.workspaceId }, source: path } : undefined;
    }
    case 'cloudwatch_logs': {
      const region = regionOf(d.region, 'region');
      return region ? { key: 'permissions.cloudwatch_logs', values: { ...values, region, log_group: d.logGroup, log_stream_prefix: d.logStreamPrefix ?? '' }, source: path } : undefined;
    }
    case 'cloudwatch_metrics': {
      const region = regionOf(d.region, 'region');
      return region ? { key: 'permissions.cloudwatch_metrics', values: { ...values, region, metric_namespace: d.namespace }, source: path } : undefined;
    }
    case 's3':
      return { key: 'permissions.s3', values: { ...values, bucket: d.bucket, key_prefix: d.prefix ?? '' }, source: path };
    case 'firehose': {
      const region = regionOf(d.region, 'region');
      return region ? { key: 'permissions.firehose', values: { ...values, region, delivery_stream: d.deliveryStream }, source: path } : undefined;
    }
    case 'kinesis': {
      const region = regionOf(d.region, 'region');
      return region ? { key: 'permissions.kinesis', values: { ...values, region, stream_name: d.stream }, source: path } : undefined;
    }
  }
}

/** Renders one template (edited or built-in) with values; checks the result as IAM. */
class Renderer {
  private readonly checked = new Map<TemplateKey, IamIssue[]>();
  constructor(private readonly templates: TemplateOverrides | undefined) {}

  /** Problems with the edited template of a key (empty for built-ins and valid edits). */
  templateIssues(key: TemplateKey): IamIssue[] {
    const text = this.templates?.[key];
    if (text === undefined) return [];
    let issues = this.checked.get(key);
    if (!issues) {
      const validation = validateTemplate(key, text);
      issues = validation.errors.map((e) => ({ path: `templates[${JSON.stringify(key)}]`, message: e.message }));
      this.checked.set(key, issues);
    }
    return issues;
  }

  render(r: Rendering, kind: IamPolicyKind): IamStatement[] {
    const text = this.templates?.[r.key] ?? BUILTIN_TEMPLATES[r.key].text;
    let doc: unknown;
    try {
      doc = renderTemplate(text, r.values as Record<string, string | readonly string[]>);
    } catch (e) {
      if (e instanceof TemplateError) throw new IamGenerationError(e.problems.map((p) => ({ path: `templates[${JSON.stringify(r.key)}]`, message: p.message })));
      throw e;
    }
    const problems = checkIamPolicy(doc, { kind });
    if (problems.length > 0) {
      throw new IamGenerationError(
        problems.map((p) => ({ path: r.source, message: `template ${r.key} rendered an invalid document: ${p.path ? `${p.path}: ` : ''}${p.message}` })),
      );
    }
    const statement = (doc as { Statement: unknown }).Statement;
    return (Array.isArray(statement) ? statement : [statement]) as IamStatement[];
  }
}

// ---------------------------------------------------------------------------
// Merging statements
// ---------------------------------------------------------------------------

const STATEMENT_KEY_ORDER = ['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'];

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? (v as string[]) : [v as string]);
const oneOrMany = (values: string[]): string | string[] => (values.length === 1 ? values[0]! : values);
const sortedUnique = (values: string[]): string[] => [...new Set(values)].sort();

/** A canonical string of a JSON value where string lists are order-free (for comparing statements). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string') ? JSON.stringify(sortedUnique(value as string[])) : `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(typeof v === 'string' ? [v] : v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function without(s: IamStatement, key: keyof IamStatement): string {
  const copy: Record<string, unknown> = { ...s };
  delete copy[key];
  return canonical(copy);
}

/** Condition operators for which `k ∈ A or k ∈ B` equals `k ∈ A ∪ B`, so two statements differing in one such key's values can become one. */
function unionSafe(operator: string): boolean {
  if (operator.startsWith('ForAllValues:')) return false;
  const bare = operator.replace(/^ForAnyValue:/, '').replace(/IfExists$/, '');
  return ['StringEquals', 'StringEqualsIgnoreCase', 'StringLike', 'ArnEquals', 'ArnLike', 'IpAddress', 'NumericEquals', 'DateEquals', 'BinaryEquals', 'Bool'].includes(bare);
}

/** One statement equivalent to `a or b`, when there is a simple one; else undefined. */
function mergeTwo(a: IamStatement, b: IamStatement): IamStatement | undefined {
  // Same everything but Resource: one statement over both resource lists.
  if (a.Resource !== undefined && b.Resource !== undefined && without(a, 'Resource') === without(b, 'Resource')) {
    return { ...a, Resource: oneOrMany(sortedUnique([...list(a.Resource), ...list(b.Resource)])) };
  }
  // Same everything but the values of one condition key: one statement with both values.
  if (a.Condition && b.Condition && without(a, 'Condition') === without(b, 'Condition')) {
    const ops = Object.keys(a.Condition);
    if (canonical(ops) !== canonical(Object.keys(b.Condition))) return undefined;
    let differing: [string, string] | undefined;
    for (const op of ops) {
      const ka = a.Condition[op]!;
      const kb = b.Condition[op]!;
      if (canonical(Object.keys(ka)) !== canonical(Object.keys(kb))) return undefined;
      for (const key of Object.keys(ka)) {
        if (canonical(list(ka[key])) === canonical(list(kb[key]))) continue;
        if (differing || !unionSafe(op)) return undefined;
        differing = [op, key];
      }
    }
    if (!differing) return a;
    const [op, key] = differing;
    const merged = sortedUnique([...list(a.Condition[op]![key]), ...list(b.Condition[op]![key])]);
    return { ...a, Condition: { ...a.Condition, [op]: { ...a.Condition[op], [key]: oneOrMany(merged) } } };
  }
  return undefined;
}

/**
 * Merges statements into as few as express the same grants: duplicates disappear, statements that
 * differ only in Resource share one (sorted) Resource list, and statements that differ only in the
 * values of one condition key (for "any of" operators such as StringEquals) share one value list.
 * Order follows the first statement of each group. Exported for tests and for callers that combine documents.
 */
export function mergeStatements(statements: readonly IamStatement[]): IamStatement[] {
  const out = statements.map((s) => ({ ...s }));
  let changed = true;
  while (changed) {
    changed = false;
    outer: for (let i = 0; i < out.length; i++) {
      for (let j = i + 1; j < out.length; j++) {
        const merged = mergeTwo(out[i]!, out[j]!);
        if (merged) {
          out[i] = merged;
          out.splice(j, 1);
          changed = true;
          break outer;
        }
      }
    }
  }
  return out;
}

/** Puts statement keys in IAM's conventional order and makes Sids unique (`AmpRemoteWrite`, `AmpRemoteWrite2`, …). */
function finish(statements: IamStatement[]): IamPolicyDocument {
  const taken = new Set(statements.map((s) => s.Sid).filter((s): s is string => !!s));
  const seen = new Set<string>();
  const out = statements.map((s) => {
    const ordered: Record<string, unknown> = {};
    for (const key of STATEMENT_KEY_ORDER) if (s[key as keyof IamStatement] !== undefined) ordered[key] = s[key as keyof IamStatement];
    if (typeof s.Sid === 'string' && s.Sid !== '') {
      if (seen.has(s.Sid)) {
        let n = 2;
        while (taken.has(`${s.Sid}${n}`)) n++;
        ordered.Sid = `${s.Sid}${n}`;
        taken.add(ordered.Sid as string);
      }
      seen.add(s.Sid);
    }
    return ordered as unknown as IamStatement;
  });
  return { Version: '2012-10-17', Statement: out };
}

function assertValid(doc: IamPolicyDocument, kind: IamPolicyKind): IamPolicyDocument {
  const problems = checkIamPolicy(doc, { kind });
  if (problems.length > 0) throw new IamGenerationError(problems.map((p) => ({ path: p.path, message: p.message })), `the generated ${kind} policy is invalid`);
  return doc;
}

/**
 * The least-privilege permissions policy for the role agents write with: for each destination, the
 * statements of its template (`permissions.<kind>`, edited or built-in) filled with the
 * destination's ARN parts, merged (see {@link mergeStatements}) into one document. Statements come in
 * a fixed order (by destination kind: amp, cloudwatch_logs, cloudwatch_metrics, s3, firehose,
 * kinesis; then by resource), whatever the order of `destinations`; Sids are made unique.
 *
 * Throws {@link IamGenerationError} listing every problem: no destinations, an invalid destination
 * (path `destinations[i].<field>`), a region outside the account's partition, or an edited template
 * that does not validate (path `templates["permissions.amp"]`). The result always passes
 * {@link checkIamPolicy}.
 */
export function generatePermissionsPolicy(destinations: readonly IamDestination[], ctx: PermissionsContext): IamPolicyDocument {
  const issues = contextIssues(ctx, 'ctx');
  if (!Array.isArray(destinations)) throw new IamGenerationError([{ path: 'destinations', message: 'must be an array of destinations' }]);
  if (destinations.length === 0) issues.push({ path: 'destinations', message: 'no destinations: a policy needs at least one thing to grant' });
  if (issues.length > 0) throw new IamGenerationError(issues);

  const renderer = new Renderer(ctx.templates);
  const renderings: Rendering[] = [];
  destinations.forEach((d, i) => {
    const path = `destinations[${i}]`;
    const parsed = iamDestinationSchema.safeParse(d);
    if (!parsed.success) {
      issues.push(...zodIssues(parsed.error, ['destinations', i]));
      return;
    }
    const r = resolveDestination(parsed.data, ctx, path, issues);
    if (r) {
      renderings.push(r);
      issues.push(...renderer.templateIssues(r.key).filter((t) => !issues.some((x) => x.path === t.path && x.message === t.message)));
    }
  });
  if (issues.length > 0) throw new IamGenerationError(issues);

  const order = (r: Rendering) => IAM_DESTINATION_KINDS.indexOf(r.key.slice('permissions.'.length) as IamDestination['kind']);
  const sortKey = (r: Rendering) => canonical(r.values);
  renderings.sort((a, b) => order(a) - order(b) || (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0));
  const statements = renderings.flatMap((r) => renderer.render(r, 'permissions'));
  return assertValid(finish(mergeStatements(statements)), 'permissions');
}

// ---------------------------------------------------------------------------
// Trust policies
// ---------------------------------------------------------------------------

/** How agents get the role: EC2 instance profile, EKS IRSA, EKS Pod Identity, or assumed cross-account from the agents' own role. */
export type TrustKind = 'ec2' | 'irsa' | 'pod_identity' | 'cross_account';

/** Every trust kind. */
export const TRUST_KINDS: readonly TrustKind[] = ['ec2', 'irsa', 'pod_identity', 'cross_account'];

/** What every trust policy needs: the role's account and partition, and optional edited templates. */
export interface TrustBaseParams {
  partition: AwsPartition;
  /** Account of the role the trust policy belongs to (for IRSA, where the OIDC provider is registered). */
  accountId: string;
  templates?: TemplateOverrides | undefined;
}

/** Parameters of each trust kind. */
export interface TrustParamsByKind {
  ec2: TrustBaseParams;
  irsa: TrustBaseParams & {
    /** The cluster's OIDC issuer URL (`https://oidc.eks.<region>.amazonaws.com/id/<id>`; the scheme is optional). */
    oidcIssuer: string;
    namespace: string;
    serviceAccount: string;
    /** Token audience; default `sts.amazonaws.com`. */
    audience?: string | undefined;
  };
  pod_identity: TrustBaseParams & { namespace: string; serviceAccount: string };
  cross_account: TrustBaseParams & {
    /** The role(s) agents run as in their own account(s), which may assume this role. */
    collectorRoleArns: string | readonly string[];
    /** The ExternalId generated for this account. */
    externalId: string;
  };
}

/** Why a string is not a role ARN of the partition, or undefined when it is one. */
function roleArnPartitionProblem(arn: unknown, partition: AwsPartition, why: string): string | undefined {
  let parsed: ParsedRoleArn;
  try {
    parsed = parseRoleArn(String(arn));
  } catch (e) {
    return (e as Error).message;
  }
  return parsed.partition === partition ? undefined : `the role ${parsed.arn} is in partition ${parsed.partition}, but ${why}`;
}

const K8S_NAMESPACE = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const K8S_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
/** STS ExternalId: 2–1224 of letters, digits and + = , . @ : / - _. */
export const EXTERNAL_ID_PATTERN = /^[\w+=,.@:/-]{2,1224}$/;

/**
 * The OIDC provider name of an issuer URL as IAM spells it: host and path without `https://` or a
 * trailing slash (`oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE`). Throws an
 * Error naming the problem for anything that is not an https URL with a host.
 */
export function oidcProviderFromIssuer(issuer: string): string {
  const trimmed = issuer.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed) ? trimmed : `https://${trimmed}`;
  if (!URL.canParse(withScheme)) throw new Error(`not an OIDC issuer URL: ${JSON.stringify(issuer)}; e.g. https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE`);
  const u = new URL(withScheme);
  if (u.protocol !== 'https:') throw new Error(`an OIDC issuer must be https, got ${u.protocol.replace(/:$/, '')}`);
  if (u.search || u.hash || u.username || u.password || u.port) throw new Error('an OIDC issuer URL has only a host and a path (no port, query, fragment or credentials)');
  return `${u.hostname}${u.pathname.replace(/\/+$/, '')}`;
}

function k8sIssues(params: { namespace?: unknown; serviceAccount?: unknown }, issues: IamIssue[]): void {
  if (typeof params.namespace !== 'string' || params.namespace.length > 63 || !K8S_NAMESPACE.test(params.namespace)) {
    issues.push({ path: 'params.namespace', message: 'not a Kubernetes namespace: lowercase letters, digits and -, at most 63 characters' });
  }
  if (typeof params.serviceAccount !== 'string' || params.serviceAccount.length > 253 || !K8S_NAME.test(params.serviceAccount)) {
    issues.push({ path: 'params.serviceAccount', message: 'not a Kubernetes service account name: lowercase letters, digits, - and ., at most 253 characters' });
  }
}

/**
 * The trust policy of the role agents use, from the template `trust.<kind>` (edited or built-in):
 * - `ec2`: EC2 (`ec2.amazonaws.com`, `ec2.amazonaws.com.cn` in aws-cn) may `sts:AssumeRole` (instance profile);
 * - `irsa`: the cluster's OIDC provider may `sts:AssumeRoleWithWebIdentity` for exactly
 *   `system:serviceaccount:<namespace>:<serviceAccount>` with audience `sts.amazonaws.com`;
 * - `pod_identity`: `pods.eks.amazonaws.com` may `sts:AssumeRole` and `sts:TagSession`, for sessions
 *   tagged with the namespace and service account;
 * - `cross_account`: the agents' role ARN(s) may `sts:AssumeRole` when passing the account's ExternalId.
 *
 * Throws {@link IamGenerationError} naming each invalid parameter (`params.oidcIssuer`, …), a
 * collector role in another partition, or an invalid edited template. The result passes {@link checkIamPolicy}.
 */
export function generateTrustPolicy<K extends TrustKind>(kind: K, params: TrustParamsByKind[K]): IamPolicyDocument {
  if (!TRUST_KINDS.includes(kind)) throw new IamGenerationError([{ path: 'kind', message: `unknown trust kind ${JSON.stringify(kind)}; use one of ${TRUST_KINDS.join(', ')}` }]);
  const issues = contextIssues(params, 'params');
  if (issues.length > 0) throw new IamGenerationError(issues);
  const values: Values = base(params.partition, params.accountId);
  switch (kind) {
    case 'ec2':
      break;
    case 'irsa': {
      const p = params as TrustParamsByKind['irsa'];
      try {
        values.oidc_provider = oidcProviderFromIssuer(String(p.oidcIssuer ?? ''));
        const eksRegion = /^oidc\.eks\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?\//.exec(values.oidc_provider)?.[1];
        const eksPartition = eksRegion ? partitionOfRegion(eksRegion) : undefined;
        if (eksPartition && eksPartition !== params.partition) {
          issues.push({ path: 'params.oidcIssuer', message: `the cluster is in ${eksRegion} (partition ${eksPartition}), but the account ${params.accountId} is in ${params.partition}` });
        }
      } catch (e) {
        issues.push({ path: 'params.oidcIssuer', message: (e as Error).message });
      }
      k8sIssues(p, issues);
      const audience = p.audience ?? 'sts.amazonaws.com';
      if (typeof audience !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(audience)) issues.push({ path: 'params.audience', message: 'an audience is 1 to 255 printable characters without spaces' });
      Object.assign(values, { oidc_audience: audience, namespace: p.namespace, service_account: p.serviceAccount });
      break;
    }
    case 'pod_identity': {
      const p = params as TrustParamsByKind['pod_identity'];
      k8sIssues(p, issues);
      Object.assign(values, { namespace: p.namespace, service_account: p.serviceAccount });
      break;
    }
    case 'cross_account': {
      const p = params as TrustParamsByKind['cross_account'];
      const arns = typeof p.collectorRoleArns === 'string' ? [p.collectorRoleArns] : [...(p.collectorRoleArns ?? [])];
      if (arns.length === 0) issues.push({ path: 'params.collectorRoleArns', message: 'name at least one role agents run as' });
      arns.forEach((arn, i) => {
        const problem = roleArnPartitionProblem(arn, params.partition, `the account ${params.accountId} is in ${params.partition}; roles cannot be trusted across partitions`);
        if (problem) issues.push({ path: typeof p.collectorRoleArns === 'string' ? 'params.collectorRoleArns' : `params.collectorRoleArns[${i}]`, message: problem });
      });
      if (typeof p.externalId !== 'string' || !EXTERNAL_ID_PATTERN.test(p.externalId)) {
        issues.push({ path: 'params.externalId', message: 'an ExternalId has 2 to 1224 letters, digits and + = , . @ : / - _' });
      }
      Object.assign(values, { collector_role_arn: sortedUnique(arns), external_id: p.externalId });
      break;
    }
  }
  const key = `trust.${kind}` as TemplateKey;
  const renderer = new Renderer(params.templates);
  issues.push(...renderer.templateIssues(key));
  if (issues.length > 0) throw new IamGenerationError(issues, `cannot generate the ${kind} trust policy`);
  return assertValid(finish(mergeStatements(renderer.render({ key, values, source: 'params' }, 'trust'))), 'trust');
}

/** Parameters of {@link generateAssumeRolePolicy}. */
export interface AssumeRolePolicyParams {
  partition: AwsPartition;
  /** The writer roles in destination accounts that agents assume. */
  targetRoleArns: readonly string[];
  templates?: TemplateOverrides | undefined;
}

/**
 * For cross-account writes: the permissions policy of the role agents run as, allowing
 * `sts:AssumeRole` on exactly the writer roles (template `permissions.assume_role`). Throws
 * {@link IamGenerationError} for an empty list, an invalid role ARN or one of another partition.
 */
export function generateAssumeRolePolicy(params: AssumeRolePolicyParams): IamPolicyDocument {
  const issues = contextIssues(params, 'params', false);
  const arns = [...(params.targetRoleArns ?? [])];
  if (arns.length === 0) issues.push({ path: 'params.targetRoleArns', message: 'name at least one role to assume' });
  arns.forEach((arn, i) => {
    const problem = roleArnPartitionProblem(arn, params.partition, `agents run in ${params.partition}`);
    if (problem) issues.push({ path: `params.targetRoleArns[${i}]`, message: problem });
  });
  const renderer = new Renderer(params.templates);
  issues.push(...renderer.templateIssues('permissions.assume_role'));
  if (issues.length > 0) throw new IamGenerationError(issues, 'cannot generate the assume-role policy');
  const values: Values = { partition: params.partition, dns_suffix: dnsSuffix(params.partition), target_role_arn: sortedUnique(arns) };
  return assertValid(finish(mergeStatements(renderer.render({ key: 'permissions.assume_role', values, source: 'params' }, 'permissions'))), 'permissions');
}

import { checkIamPolicy } from './check.js';
import { parseJsonStrict, scanPlaceholders, type PlaceholderOccurrence } from './json.js';
import type { IamPolicyKind } from './types.js';

/** The name of a `{{placeholder}}` a template may use. */
export type PlaceholderName =
  | 'partition'
  | 'dns_suffix'
  | 'region'
  | 'account_id'
  | 'workspace_id'
  | 'log_group'
  | 'log_stream_prefix'
  | 'bucket'
  | 'key_prefix'
  | 'delivery_stream'
  | 'stream_name'
  | 'metric_namespace'
  | 'oidc_provider'
  | 'oidc_audience'
  | 'namespace'
  | 'service_account'
  | 'external_id'
  | 'collector_role_arn'
  | 'target_role_arn';

/** What a placeholder stands for, with the example value template validation fills in. */
export interface PlaceholderInfo {
  readonly name: PlaceholderName;
  readonly description: string;
  /** Example value (a list for list placeholders). */
  readonly example: string | readonly string[];
  /** Stands for one or more values: it must be a whole JSON string (`"{{collector_role_arn}}"`), which renders as a string (one value) or an array. */
  readonly list: boolean;
}

const p = (name: PlaceholderName, description: string, example: string | readonly string[]): PlaceholderInfo =>
  Object.freeze({ name, description, example, list: Array.isArray(example) });

/** Every placeholder templates can use, by name. */
export const PLACEHOLDERS: Readonly<Record<PlaceholderName, PlaceholderInfo>> = Object.freeze({
  partition: p('partition', 'AWS partition of the account: aws, aws-cn or aws-us-gov', 'aws'),
  dns_suffix: p('dns_suffix', 'DNS suffix of the partition: amazonaws.com, or amazonaws.com.cn in China', 'amazonaws.com'),
  region: p('region', 'Region of the destination, e.g. eu-west-1', 'us-east-1'),
  account_id: p('account_id', '12-digit id of the AWS account the destination (or the role) is in', '123456789012'),
  workspace_id: p('workspace_id', 'Amazon Managed Service for Prometheus workspace id, from the remote-write URL', 'ws-12345678-abcd-4ef0-9a1b-1234567890ab'),
  log_group: p('log_group', 'CloudWatch Logs log group name', '/fleet/agents'),
  log_stream_prefix: p('log_stream_prefix', 'Prefix of the log streams agents create (may be empty: any stream of the group)', 'agent-'),
  bucket: p('bucket', 'S3 bucket name', 'example-telemetry-bucket'),
  key_prefix: p('key_prefix', 'S3 key prefix agents write under (may be empty: the whole bucket)', 'logs/'),
  delivery_stream: p('delivery_stream', 'Amazon Data Firehose delivery stream name', 'fleet-logs'),
  stream_name: p('stream_name', 'Kinesis data stream name', 'fleet-logs'),
  metric_namespace: p('metric_namespace', 'CloudWatch metrics namespace agents publish to', 'Fleet/Agents'),
  oidc_provider: p('oidc_provider', "The cluster's OIDC issuer without https:// (host and path)", 'oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE'),
  oidc_audience: p('oidc_audience', 'Audience of the projected service account token (sts.amazonaws.com)', 'sts.amazonaws.com'),
  namespace: p('namespace', 'Kubernetes namespace of the agent service account', 'fleet'),
  service_account: p('service_account', 'Kubernetes service account name of the agents', 'fleet-agent'),
  external_id: p('external_id', 'ExternalId the control plane generated for the account; agents pass it to sts:AssumeRole', 'fleet-7c1e0b5a2f9d4e8b'),
  collector_role_arn: p('collector_role_arn', 'ARN(s) of the role(s) agents run as in their own account (the principals allowed to assume this role)', [
    'arn:aws:iam::111122223333:role/fleet-agent-node',
    'arn:aws:iam::111122223333:role/fleet-agent-eks',
  ]),
  target_role_arn: p('target_role_arn', 'ARN(s) of the role(s) agents assume in destination accounts', [
    'arn:aws:iam::123456789012:role/fleet-writer',
    'arn:aws:iam::444455556666:role/fleet-writer',
  ]),
});

/** The key of a built-in template: `permissions.<destination kind>`, `permissions.assume_role` or `trust.<trust kind>`. */
export type TemplateKey =
  | 'permissions.amp'
  | 'permissions.cloudwatch_logs'
  | 'permissions.cloudwatch_metrics'
  | 'permissions.s3'
  | 'permissions.firehose'
  | 'permissions.kinesis'
  | 'permissions.assume_role'
  | 'trust.ec2'
  | 'trust.irsa'
  | 'trust.pod_identity'
  | 'trust.cross_account';

/** A policy template: the JSON text with `{{placeholder}}` slots and what it is for. */
export interface PolicyTemplate {
  readonly key: TemplateKey;
  readonly kind: IamPolicyKind;
  /** Short title for the UI. */
  readonly name: string;
  /** What it grants and why these actions (and not more). */
  readonly description: string;
  /** The placeholders the generator fills in for this template (only these may be used). */
  readonly placeholders: readonly PlaceholderName[];
  /** Placeholders an edited template must keep (security-relevant: ExternalId, principals). */
  readonly required: readonly PlaceholderName[];
  /** Placeholders that scope the grant to the destination; an edit dropping one gets a warning. */
  readonly scoping: readonly PlaceholderName[];
  /** The JSON text (2-space indented). */
  readonly text: string;
}

const VERSION = '2012-10-17';
const common: PlaceholderName[] = ['partition', 'dns_suffix', 'account_id'];

function template(
  key: TemplateKey,
  spec: { name: string; description: string; placeholders: PlaceholderName[]; required?: PlaceholderName[]; scoping?: PlaceholderName[]; statements: object[] },
): PolicyTemplate {
  return Object.freeze({
    key,
    kind: key.startsWith('trust.') ? 'trust' : 'permissions',
    name: spec.name,
    description: spec.description,
    placeholders: Object.freeze([...spec.placeholders]),
    required: Object.freeze([...(spec.required ?? [])]),
    scoping: Object.freeze([...(spec.scoping ?? [])]),
    text: `${JSON.stringify({ Version: VERSION, Statement: spec.statements }, null, 2)}\n`,
  });
}

/**
 * The built-in templates, by key. Permissions templates grant only the write actions an agent
 * needs on exactly the destination; trust templates admit exactly the agents' identity.
 */
export const BUILTIN_TEMPLATES: Readonly<Record<TemplateKey, PolicyTemplate>> = Object.freeze({
  'permissions.amp': template('permissions.amp', {
    name: 'Amazon Managed Service for Prometheus: remote write',
    description: 'aps:RemoteWrite on the one workspace of the remote-write URL. Agents only write: no query actions (aps:QueryMetrics, GetSeries, GetLabels, GetMetricMetadata).',
    placeholders: [...common, 'region', 'workspace_id'],
    scoping: ['workspace_id'],
    statements: [{ Sid: 'AmpRemoteWrite', Effect: 'Allow', Action: 'aps:RemoteWrite', Resource: 'arn:{{partition}}:aps:{{region}}:{{account_id}}:workspace/{{workspace_id}}' }],
  }),
  'permissions.cloudwatch_logs': template('permissions.cloudwatch_logs', {
    name: 'CloudWatch Logs: ship logs to a log group',
    description:
      'Create the log group if missing, create log streams under the prefix and put log events into them. ' +
      'CreateLogGroup is allowed on the group in both ARN forms IAM evaluates it with (…:log-group:NAME and …:log-group:NAME:*). ' +
      'CreateLogStream is authorised on the log group (and on the stream ARN by older evaluations), PutLogEvents on the stream. ' +
      'No DescribeLogStreams/DescribeLogGroups: PutLogEvents no longer needs sequence tokens, so shippers need not read streams.',
    placeholders: [...common, 'region', 'log_group', 'log_stream_prefix'],
    scoping: ['log_group'],
    statements: [
      {
        Sid: 'CloudWatchLogsCreateLogGroup',
        Effect: 'Allow',
        Action: 'logs:CreateLogGroup',
        Resource: ['arn:{{partition}}:logs:{{region}}:{{account_id}}:log-group:{{log_group}}', 'arn:{{partition}}:logs:{{region}}:{{account_id}}:log-group:{{log_group}}:*'],
      },
      {
        Sid: 'CloudWatchLogsPutLogEvents',
        Effect: 'Allow',
        Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
        Resource: [
          'arn:{{partition}}:logs:{{region}}:{{account_id}}:log-group:{{log_group}}',
          'arn:{{partition}}:logs:{{region}}:{{account_id}}:log-group:{{log_group}}:log-stream:{{log_stream_prefix}}*',
        ],
      },
    ],
  }),
  'permissions.cloudwatch_metrics': template('permissions.cloudwatch_metrics', {
    name: 'CloudWatch metrics: PutMetricData into one namespace',
    description:
      'cloudwatch:PutMetricData has no resource-level permissions (Resource must be "*"), so the grant is limited by the cloudwatch:namespace condition key to the one namespace, and by aws:RequestedRegion to the region.',
    placeholders: [...common, 'region', 'metric_namespace'],
    scoping: ['metric_namespace'],
    statements: [
      {
        Sid: 'CloudWatchPutMetricData',
        Effect: 'Allow',
        Action: 'cloudwatch:PutMetricData',
        Resource: '*',
        Condition: { StringEquals: { 'cloudwatch:namespace': '{{metric_namespace}}', 'aws:RequestedRegion': '{{region}}' } },
      },
    ],
  }),
  'permissions.s3': template('permissions.s3', {
    name: 'Amazon S3: write objects under a prefix',
    description:
      's3:PutObject (which also covers multipart uploads) on keys under the prefix only; no reads, lists or deletes. ' +
      's3:ResourceAccount pins the bucket owner, so a same-named bucket in another account is never written to. ' +
      'With SSE-KMS default encryption, also allow kms:GenerateDataKey on the bucket key.',
    placeholders: [...common, 'bucket', 'key_prefix'],
    scoping: ['bucket'],
    statements: [
      {
        Sid: 'S3PutObject',
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: 'arn:{{partition}}:s3:::{{bucket}}/{{key_prefix}}*',
        Condition: { StringEquals: { 's3:ResourceAccount': '{{account_id}}' } },
      },
    ],
  }),
  'permissions.firehose': template('permissions.firehose', {
    name: 'Amazon Data Firehose: put records',
    description: 'firehose:PutRecord and PutRecordBatch on the one delivery stream; no Describe/List actions are needed to put records.',
    placeholders: [...common, 'region', 'delivery_stream'],
    scoping: ['delivery_stream'],
    statements: [
      {
        Sid: 'FirehosePutRecords',
        Effect: 'Allow',
        Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
        Resource: 'arn:{{partition}}:firehose:{{region}}:{{account_id}}:deliverystream/{{delivery_stream}}',
      },
    ],
  }),
  'permissions.kinesis': template('permissions.kinesis', {
    name: 'Amazon Kinesis Data Streams: put records',
    description:
      'kinesis:PutRecord and PutRecords on the one stream: producers that call the API (the fleet agent, Fluent Bit, Vector) let Kinesis route records by partition key and need nothing else. ' +
      'A KPL-style producer that maps shards itself would also need kinesis:ListShards and DescribeStreamSummary (reads): add them by editing this template. ' +
      'For streams encrypted with a customer managed key, also allow kms:GenerateDataKey on that key.',
    placeholders: [...common, 'region', 'stream_name'],
    scoping: ['stream_name'],
    statements: [
      {
        Sid: 'KinesisPutRecords',
        Effect: 'Allow',
        Action: ['kinesis:PutRecord', 'kinesis:PutRecords'],
        Resource: 'arn:{{partition}}:kinesis:{{region}}:{{account_id}}:stream/{{stream_name}}',
      },
    ],
  }),
  'permissions.assume_role': template('permissions.assume_role', {
    name: "Agents' role: assume the writer roles of destination accounts",
    description: 'For cross-account writes: lets the role agents run as call sts:AssumeRole on exactly the registered writer roles (their trust policies must also admit it, with the ExternalId).',
    placeholders: ['partition', 'dns_suffix', 'target_role_arn'],
    required: ['target_role_arn'],
    statements: [{ Sid: 'AssumeWriterRoles', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: '{{target_role_arn}}' }],
  }),
  'trust.ec2': template('trust.ec2', {
    name: 'EC2 instance profile',
    description: 'Lets EC2 assume the role for the instances it is attached to through an instance profile (ec2.amazonaws.com.cn in the China partition).',
    placeholders: [...common],
    statements: [{ Sid: 'Ec2AssumeRole', Effect: 'Allow', Principal: { Service: 'ec2.{{dns_suffix}}' }, Action: 'sts:AssumeRole' }],
  }),
  'trust.irsa': template('trust.irsa', {
    name: 'EKS IAM roles for service accounts (IRSA)',
    description:
      "Lets pods with the cluster's projected service account token assume the role through the cluster's OIDC provider, only for the agents' service account (sub) and only with tokens meant for STS (aud).",
    placeholders: [...common, 'oidc_provider', 'oidc_audience', 'namespace', 'service_account'],
    required: ['oidc_provider'],
    scoping: ['namespace', 'service_account'],
    statements: [
      {
        Sid: 'IrsaAssumeRoleWithWebIdentity',
        Effect: 'Allow',
        Principal: { Federated: 'arn:{{partition}}:iam::{{account_id}}:oidc-provider/{{oidc_provider}}' },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: {
            '{{oidc_provider}}:aud': '{{oidc_audience}}',
            '{{oidc_provider}}:sub': 'system:serviceaccount:{{namespace}}:{{service_account}}',
          },
        },
      },
    ],
  }),
  'trust.pod_identity': template('trust.pod_identity', {
    name: 'EKS Pod Identity',
    description:
      'Lets the EKS Pod Identity agent assume the role (sts:AssumeRole) and tag the session (sts:TagSession). The session tags EKS sets limit it to the agents’ namespace and service account; the Pod Identity association names the cluster.',
    placeholders: [...common, 'namespace', 'service_account'],
    scoping: ['namespace', 'service_account'],
    statements: [
      {
        Sid: 'EksPodIdentityAssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Condition: {
          StringEquals: {
            'aws:RequestTag/kubernetes-namespace': '{{namespace}}',
            'aws:RequestTag/kubernetes-service-account': '{{service_account}}',
          },
        },
      },
    ],
  }),
  'trust.cross_account': template('trust.cross_account', {
    name: 'Cross-account writer role',
    description:
      'Lets the role(s) agents run as in their own account assume this writer role, only when they pass the ExternalId the control plane generated for this account (sts:ExternalId), which protects against the confused-deputy problem.',
    placeholders: [...common, 'collector_role_arn', 'external_id'],
    required: ['collector_role_arn', 'external_id'],
    statements: [
      {
        Sid: 'CrossAccountAssumeRole',
        Effect: 'Allow',
        Principal: { AWS: '{{collector_role_arn}}' },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { 'sts:ExternalId': '{{external_id}}' } },
      },
    ],
  }),
});

/** Every template key, in display order. */
export const TEMPLATE_KEYS: readonly TemplateKey[] = Object.freeze(Object.keys(BUILTIN_TEMPLATES) as TemplateKey[]);

/** True for a built-in template key. */
export function isTemplateKey(key: string): key is TemplateKey {
  return Object.hasOwn(BUILTIN_TEMPLATES, key);
}

/** Values for a template's placeholders: a string, or for list placeholders one or more strings. */
export type TemplateValues = Readonly<Partial<Record<string, string | readonly string[]>>>;

/** What kind of problem a template has. */
export type TemplateProblemCode =
  | 'unknown_template'
  | 'too_long'
  | 'invalid_json'
  | 'malformed_placeholder'
  | 'placeholder_outside_string'
  | 'unknown_placeholder'
  | 'unavailable_placeholder'
  | 'list_placeholder_in_text'
  | 'missing_value'
  | 'missing_required_placeholder'
  | 'unsubstituted_placeholder'
  | 'iam_structure'
  | 'unscoped'
  | 'broad_grant';

/** One problem with a template: a message naming what is wrong, and where when known. */
export interface TemplateProblem {
  code: TemplateProblemCode;
  message: string;
  /** The placeholder concerned, e.g. `bucket`. */
  placeholder?: string;
  /** JSON path in the document (structural problems). */
  path?: string;
  /** Position in the template text (1-based). */
  line?: number;
  column?: number;
}

/** Thrown by {@link renderTemplate}; `problems` lists each reason, the message joins them. */
export class TemplateError extends Error {
  override readonly name = 'TemplateError';
  constructor(readonly problems: TemplateProblem[]) {
    super(problems.map((p) => p.message).join('; '));
  }
}

/** The longest template text accepted (IAM's own limits on policies are far smaller). */
export const TEMPLATE_MAX_LENGTH = 32_768;

const at = (o: PlaceholderOccurrence) => ({ line: o.line, column: o.column });

function placeholderProblems(occurrences: PlaceholderOccurrence[]): TemplateProblem[] {
  const problems: TemplateProblem[] = [];
  for (const o of occurrences) {
    if (o.name === undefined) {
      const inner = o.raw.slice(2).replace(/\}\}$/, '');
      const closed = o.raw.endsWith('}}');
      const fix = inner.trim().toLowerCase().replace(/[^a-z0-9_]/g, '_');
      problems.push({
        code: 'malformed_placeholder',
        message: closed
          ? `malformed placeholder ${o.raw} at line ${o.line}, column ${o.column}: names are lowercase letters, digits and _ with no spaces, e.g. {{${fix || 'region'}}}`
          : `unclosed placeholder ${o.raw} at line ${o.line}, column ${o.column}: close it with }}`,
        ...at(o),
      });
    } else if (!o.inString) {
      problems.push({
        code: 'placeholder_outside_string',
        message: `placeholder {{${o.name}}} at line ${o.line}, column ${o.column} is outside a JSON string; put it inside quotes ("{{${o.name}}}")`,
        placeholder: o.name,
        ...at(o),
      });
    }
  }
  return problems;
}

/**
 * Fills a template text's `{{placeholder}}` slots and parses the result. A value is inserted with
 * JSON string escaping, so quotes, backslashes and control characters in values stay inside their
 * string. A list value (placeholders like `collector_role_arn`) must fill a whole string
 * (`"{{collector_role_arn}}"`): one value renders as that string, several as an array of strings.
 * Throws {@link TemplateError} for invalid JSON, placeholders outside strings, malformed
 * placeholders, or placeholders without a value (naming each). The result is not checked as IAM
 * (see {@link checkIamPolicy}).
 */
export function renderTemplate(text: string, values: TemplateValues): unknown {
  const occurrences = scanPlaceholders(text);
  const problems = placeholderProblems(occurrences);
  if (problems.length === 0) {
    const raw = parseJsonStrict(text);
    if (!raw.ok) problems.push({ code: 'invalid_json', message: `not valid JSON: ${raw.error.message}`, line: raw.error.line, column: raw.error.column });
  }
  let out = '';
  let last = 0;
  for (const o of occurrences) {
    if (o.name === undefined || !o.inString) continue;
    const value = values[o.name];
    if (value === undefined) {
      problems.push({ code: 'missing_value', message: `no value for {{${o.name}}} (line ${o.line}, column ${o.column})`, placeholder: o.name, ...at(o) });
      continue;
    }
    if (typeof value !== 'string' && value.length === 0) {
      problems.push({ code: 'missing_value', message: `no value for {{${o.name}}}: the list is empty (line ${o.line}, column ${o.column})`, placeholder: o.name, ...at(o) });
      continue;
    }
    if (typeof value === 'string' || value.length === 1) {
      const one = typeof value === 'string' ? value : value[0]!;
      out += text.slice(last, o.start) + JSON.stringify(one).slice(1, -1);
      last = o.end;
    } else if (o.wholeString) {
      out += text.slice(last, o.stringStart) + JSON.stringify(value);
      last = o.stringEnd;
    } else {
      problems.push({
        code: 'list_placeholder_in_text',
        message: `{{${o.name}}} has ${value.length} values, so it must be a whole JSON string ("{{${o.name}}}"), not part of one (line ${o.line}, column ${o.column})`,
        placeholder: o.name,
        ...at(o),
      });
    }
  }
  if (problems.length > 0) throw new TemplateError(problems);
  out += text.slice(last);
  const parsed = parseJsonStrict(out);
  if (!parsed.ok) throw new TemplateError([{ code: 'invalid_json', message: `not valid JSON after filling in the placeholders: ${parsed.error.message}` }]);
  return parsed.value;
}

/** The example values of every placeholder, as template validation fills them in. */
export function exampleValues(): Record<PlaceholderName, string | readonly string[]> {
  const out = {} as Record<PlaceholderName, string | readonly string[]>;
  for (const info of Object.values(PLACEHOLDERS)) out[info.name] = info.example;
  return out;
}

/** The result of {@link validateTemplate}: errors make the template unusable; warnings are for the operator to judge. */
export interface TemplateValidation {
  ok: boolean;
  errors: TemplateProblem[];
  warnings: TemplateProblem[];
}

function collectStrings(value: unknown, out: string[] = []): string[] {
  if (typeof value === 'string') out.push(value);
  else if (Array.isArray(value)) for (const v of value) collectStrings(v, out);
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      out.push(k);
      collectStrings(v, out);
    }
  }
  return out;
}

function grantWarnings(key: TemplateKey, doc: unknown): TemplateProblem[] {
  const warnings: TemplateProblem[] = [];
  const statements = (doc as { Statement?: unknown }).Statement;
  const list = Array.isArray(statements) ? statements : [statements];
  list.forEach((s, i) => {
    if (!s || typeof s !== 'object') return;
    const st = s as Record<string, unknown>;
    if (st.Effect !== 'Allow') return;
    const path = Array.isArray(statements) ? `Statement[${i}]` : 'Statement';
    const asList = (v: unknown): string[] => (typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
    for (const action of asList(st.Action)) {
      if (action.includes('*') || action.includes('?')) {
        warnings.push({ code: 'broad_grant', message: `${path}.Action: ${JSON.stringify(action)} is a wildcard; agents need only specific write actions`, path: `${path}.Action` });
      }
    }
    if (st.NotAction !== undefined) warnings.push({ code: 'broad_grant', message: `${path}.NotAction: Allow with NotAction grants every other action`, path: `${path}.NotAction` });
    if (st.NotResource !== undefined) warnings.push({ code: 'broad_grant', message: `${path}.NotResource: Allow with NotResource grants every other resource`, path: `${path}.NotResource` });
    if (key !== 'permissions.cloudwatch_metrics' && asList(st.Resource).includes('*')) {
      warnings.push({ code: 'broad_grant', message: `${path}.Resource: "*" grants the actions on every resource; name the destination's ARN`, path: `${path}.Resource` });
    }
  });
  return warnings;
}

/**
 * Validates an operator's edit of a template before it is saved or used. Errors: unknown key; text
 * too long; a placeholder that is malformed, outside a JSON string, unknown (naming it) or not
 * available for this template (naming the ones that are); a list placeholder that is not a whole
 * string; a required placeholder removed (`{{external_id}}` in `trust.cross_account`); text that is
 * not valid JSON (with line and column; duplicate keys included); and, after filling in example values,
 * any `{{…}}` left unsubstituted or any structural IAM problem from {@link checkIamPolicy} (with its
 * JSON path). Warnings: a scoping placeholder removed (the grant is no longer limited to the
 * destination), wildcard actions, NotAction/NotResource, or `Resource: "*"` where an ARN is possible.
 */
export function validateTemplate(key: string, text: string): TemplateValidation {
  const errors: TemplateProblem[] = [];
  const warnings: TemplateProblem[] = [];
  const done = () => ({ ok: errors.length === 0, errors, warnings });
  if (!isTemplateKey(key)) {
    errors.push({ code: 'unknown_template', message: `unknown template ${JSON.stringify(key)} (known: ${TEMPLATE_KEYS.join(', ')})` });
    return done();
  }
  const spec = BUILTIN_TEMPLATES[key];
  if (typeof text !== 'string' || text.trim() === '') {
    errors.push({ code: 'invalid_json', message: 'the template is empty' });
    return done();
  }
  if (text.length > TEMPLATE_MAX_LENGTH) {
    errors.push({ code: 'too_long', message: `the template is ${text.length} characters long; at most ${TEMPLATE_MAX_LENGTH} are accepted` });
    return done();
  }

  const occurrences = scanPlaceholders(text);
  errors.push(...placeholderProblems(occurrences));
  const used = new Set<string>();
  const reported = new Set<string>();
  for (const o of occurrences) {
    if (o.name === undefined) continue;
    used.add(o.name);
    const known = Object.hasOwn(PLACEHOLDERS, o.name);
    const available = (spec.placeholders as readonly string[]).includes(o.name);
    if (!available && !reported.has(o.name)) {
      reported.add(o.name);
      errors.push({
        code: known ? 'unavailable_placeholder' : 'unknown_placeholder',
        message: `${known ? 'placeholder' : 'unknown placeholder'} {{${o.name}}} (line ${o.line}, column ${o.column}) ${known ? `is not available in ${key}` : 'is not one the generator fills in'}; ${key} can use ${spec.placeholders.map((n) => `{{${n}}}`).join(', ')}`,
        placeholder: o.name,
        ...at(o),
      });
    }
    if (available && o.inString && !o.wholeString && PLACEHOLDERS[o.name as PlaceholderName].list) {
      errors.push({
        code: 'list_placeholder_in_text',
        message: `{{${o.name}}} (line ${o.line}, column ${o.column}) can stand for several values, so it must be a whole JSON string ("{{${o.name}}}"), not part of one`,
        placeholder: o.name,
        ...at(o),
      });
    }
  }
  for (const name of spec.required) {
    if (!used.has(name)) {
      errors.push({
        code: 'missing_required_placeholder',
        message: `${key} must use {{${name}}} (${PLACEHOLDERS[name].description})`,
        placeholder: name,
      });
    }
  }
  for (const name of spec.scoping) {
    if (!used.has(name)) {
      warnings.push({ code: 'unscoped', message: `${key} no longer uses {{${name}}}: the policy is not limited to the destination's ${PLACEHOLDERS[name].description}`, placeholder: name });
    }
  }

  // Placeholders outside strings are reported above; read them as null (same length, so positions hold) to find other JSON errors.
  let jsonText = text;
  for (const o of occurrences) {
    if (!o.inString && o.raw.length >= 4) jsonText = jsonText.slice(0, o.start) + 'null'.padEnd(o.raw.length) + jsonText.slice(o.end);
  }
  const raw = parseJsonStrict(jsonText);
  if (!raw.ok) {
    errors.push({ code: 'invalid_json', message: `not valid JSON: ${raw.error.message}`, line: raw.error.line, column: raw.error.column, ...(raw.error.path !== undefined ? { path: raw.error.path } : {}) });
  }
  if (errors.length > 0) return done();

  let doc: unknown;
  try {
    doc = renderTemplate(text, exampleValues());
  } catch (e) {
    if (e instanceof TemplateError) errors.push(...e.problems);
    else throw e;
    return done();
  }
  for (const s of collectStrings(doc)) {
    const left = /\{\{[^}]*\}\}?/.exec(s);
    if (left) errors.push({ code: 'unsubstituted_placeholder', message: `${left[0]} is left unsubstituted in ${JSON.stringify(s)}` });
  }
  for (const issue of checkIamPolicy(doc, { kind: spec.kind })) {
    errors.push({ code: 'iam_structure', message: `${issue.path ? `${issue.path}: ` : ''}${issue.message}`, path: issue.path });
  }
  if (spec.kind === 'permissions') warnings.push(...grantWarnings(key, doc));
  return done();
}

import { z } from 'zod';
import { awsAccountIdSchema, awsRegionSchema, dnsSuffix, isKnownRegion, notARegionMessage, partitionOfRegion, type AwsPartition } from '../regions.js';

/**
 * What agents write to, as far as IAM is concerned. Each destination may name the AWS account it
 * lives in (`accountId`); otherwise it is in the account the policy is generated for.
 */
export type IamDestination =
  /** Amazon Managed Service for Prometheus: the remote-write URL names the region and workspace. */
  | { kind: 'amp'; url: string; accountId?: string | undefined }
  /** CloudWatch Logs: a log group, and optionally the prefix of the streams agents create. */
  | { kind: 'cloudwatch_logs'; region: string; logGroup: string; logStreamPrefix?: string | undefined; accountId?: string | undefined }
  /** S3: a bucket, and optionally the key prefix agents write under. `accountId` is the bucket owner. */
  | { kind: 's3'; bucket: string; prefix?: string | undefined; accountId?: string | undefined }
  /** Amazon Data Firehose delivery stream. */
  | { kind: 'firehose'; region: string; deliveryStream: string; accountId?: string | undefined }
  /** Kinesis data stream. */
  | { kind: 'kinesis'; region: string; stream: string; accountId?: string | undefined }
  /** CloudWatch metrics (PutMetricData) into one namespace. */
  | { kind: 'cloudwatch_metrics'; region: string; namespace: string; accountId?: string | undefined };

/** The `kind` of a destination. */
export type IamDestinationKind = IamDestination['kind'];

/** Destination kinds in the order their statements appear in a generated policy. */
export const IAM_DESTINATION_KINDS: readonly IamDestinationKind[] = ['amp', 'cloudwatch_logs', 'cloudwatch_metrics', 's3', 'firehose', 'kinesis'];

/** An AMP workspace as named by a remote-write URL. */
export interface AmpWorkspaceRef {
  region: string;
  partition: AwsPartition;
  workspaceId: string;
}

const AMP_HOST = /^(?:vpce-[a-z0-9-]+\.)?aps-workspaces(?:-fips)?\.([a-z0-9-]+)\.(?:vpce\.)?(amazonaws\.com(?:\.cn)?)$/;
const WORKSPACE_ID = /^[0-9A-Za-z][-.0-9A-Z_a-z]{0,63}$/;

/** What is wrong with an AMP remote-write URL, or the workspace it names. */
export function ampUrlProblem(url: string): { problem: string } | { workspace: AmpWorkspaceRef } {
  const example = 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-…/api/v1/remote_write';
  if (!URL.canParse(url)) return { problem: `not a URL: ${JSON.stringify(url)}; e.g. ${example}` };
  const u = new URL(url);
  if (u.protocol !== 'https:') return { problem: `AMP accepts only https, got ${u.protocol.replace(/:$/, '')}` };
  const host = AMP_HOST.exec(u.hostname);
  if (!host) return { problem: `${u.hostname} is not an Amazon Managed Service for Prometheus endpoint (aps-workspaces.<region>.amazonaws.com); e.g. ${example}` };
  const [, region = '', suffix = ''] = host;
  if (!isKnownRegion(region)) return { problem: `the endpoint's region: ${notARegionMessage(region)}` };
  const partition = partitionOfRegion(region)!;
  if (suffix !== dnsSuffix(partition)) return { problem: `region ${region} is in partition ${partition}, whose endpoints end in ${dnsSuffix(partition)}, not ${suffix}` };
  const path = /^\/workspaces\/([^/]+)(\/.*)?$/.exec(u.pathname);
  if (!path) return { problem: `the path ${u.pathname} names no workspace; remote-write URLs end in /workspaces/<workspace id>/api/v1/remote_write` };
  const [, workspaceId = '', rest = ''] = path;
  if (!WORKSPACE_ID.test(workspaceId)) return { problem: `${JSON.stringify(workspaceId)} is not a workspace id (e.g. ws-12345678-abcd-4ef0-9a1b-1234567890ab)` };
  if (rest.replace(/\/$/, '') !== '/api/v1/remote_write') {
    return { problem: `${u.pathname} is not the remote-write path; agents write to /workspaces/${workspaceId}/api/v1/remote_write` };
  }
  return { workspace: { region, partition, workspaceId } };
}

/**
 * The workspace an AMP remote-write URL writes to: region (from the host
 * `aps-workspaces.<region>.amazonaws.com`, VPC endpoint and FIPS hosts included), its partition and
 * the workspace id (from `/workspaces/<id>/api/v1/remote_write`). Throws an Error naming the problem
 * for anything else (another host, a query path, an unknown region).
 */
export function parseAmpRemoteWriteUrl(url: string): AmpWorkspaceRef {
  const result = ampUrlProblem(url);
  if ('problem' in result) throw new Error(result.problem);
  return result.workspace;
}

/** Characters that act as wildcards or variables in an IAM ARN or condition, and so must not come from names. */
function noIamMetacharacters(value: string): boolean {
  return !/[*?]/.test(value) && !value.includes('${');
}

const iamSafe = (what: string) => [noIamMetacharacters, `${what} must not contain *, ? or \${ (they would act as IAM wildcards or policy variables)`] as const;

/** CloudWatch Logs log group name. */
export const logGroupNameSchema = z
  .string()
  .min(1, 'required')
  .max(512, 'at most 512 characters')
  .regex(/^[.\-_/#A-Za-z0-9]+$/, 'a log group name may contain only letters, digits and . - _ / #');

/** Prefix of CloudWatch Logs stream names (may be empty). */
export const logStreamPrefixSchema = z
  .string()
  .max(511, 'at most 511 characters')
  .regex(/^[^:*]*$/, 'log stream names cannot contain : or *')
  .refine(...iamSafe('the log stream prefix'));

/** S3 general purpose bucket name (3–63 lowercase letters, digits, dots and hyphens). */
export const s3BucketNameSchema = z
  .string()
  .min(3, 'an S3 bucket name has 3 to 63 characters')
  .max(63, 'an S3 bucket name has 3 to 63 characters')
  .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, 'an S3 bucket name has only lowercase letters, digits, dots and hyphens, and starts and ends with a letter or digit')
  .refine((b) => !b.includes('..'), 'an S3 bucket name cannot contain two adjacent dots')
  .refine((b) => !/^\d+\.\d+\.\d+\.\d+$/.test(b), 'an S3 bucket name cannot look like an IP address');

/** S3 key prefix (may be empty). */
export const s3KeyPrefixSchema = z
  .string()
  .max(1024, 'at most 1024 characters')
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u001f\u007f]*$/, 'control characters are not allowed in a key prefix')
  .refine(...iamSafe('the key prefix'));

/** Firehose delivery stream name. */
export const firehoseStreamNameSchema = z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'a delivery stream name has 1 to 64 letters, digits, _ . -');

/** Kinesis data stream name. */
export const kinesisStreamNameSchema = z.string().regex(/^[a-zA-Z0-9_.-]{1,128}$/, 'a stream name has 1 to 128 letters, digits, _ . -');

/** CloudWatch metrics namespace (custom; `AWS/` namespaces are reserved). */
export const metricNamespaceSchema = z
  .string()
  .max(255, 'at most 255 characters')
  .regex(/^[0-9A-Za-z.\-_/#: ]*[0-9A-Za-z.\-_/#:][0-9A-Za-z.\-_/#: ]*$/, 'a namespace has letters, digits, spaces and . - _ / # : (at least one non-space)')
  .refine((n) => !n.startsWith('AWS/'), 'namespaces starting with AWS/ are reserved for AWS services');

const accountId = awsAccountIdSchema.optional();

/** A destination as {@link IamDestination}, validated field by field (region known, names well-formed, no IAM wildcards in names). */
export const iamDestinationSchema = z.discriminatedUnion(
  'kind',
  [
    z
      .object({
        kind: z.literal('amp'),
        url: z.string().superRefine((url, ctx) => {
          const result = ampUrlProblem(url);
          if ('problem' in result) ctx.addIssue({ code: 'custom', message: result.problem });
        }),
        accountId,
      })
      .strict(),
    z.object({ kind: z.literal('cloudwatch_logs'), region: awsRegionSchema, logGroup: logGroupNameSchema, logStreamPrefix: logStreamPrefixSchema.optional(), accountId }).strict(),
    z.object({ kind: z.literal('s3'), bucket: s3BucketNameSchema, prefix: s3KeyPrefixSchema.optional(), accountId }).strict(),
    z.object({ kind: z.literal('firehose'), region: awsRegionSchema, deliveryStream: firehoseStreamNameSchema, accountId }).strict(),
    z.object({ kind: z.literal('kinesis'), region: awsRegionSchema, stream: kinesisStreamNameSchema, accountId }).strict(),
    z.object({ kind: z.literal('cloudwatch_metrics'), region: awsRegionSchema, namespace: metricNamespaceSchema, accountId }).strict(),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? `unknown destination kind; use one of ${IAM_DESTINATION_KINDS.join(', ')}` : undefined) },
);

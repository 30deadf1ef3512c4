import { z } from 'zod';
import { distance as levenshtein } from 'fastest-levenshtein';

/**
 * AWS regions by partition, AWS account ids and ARNs: the facts the control plane validates
 * operator input against (registered accounts, role ARNs, destinations) and builds IAM documents from.
 */

/** The AWS partitions the control plane supports: commercial, China and GovCloud (US). */
export type AwsPartition = 'aws' | 'aws-cn' | 'aws-us-gov';

/** Every supported partition, commercial first. */
export const AWS_PARTITIONS: readonly AwsPartition[] = ['aws', 'aws-cn', 'aws-us-gov'];

/** One AWS region: its code (`eu-west-1`), the console's name (`Europe (Ireland)`) and its partition. */
export interface AwsRegionInfo {
  readonly code: string;
  readonly name: string;
  readonly partition: AwsPartition;
}

const PARTITION_INFO: Readonly<Record<AwsPartition, { name: string; dnsSuffix: string }>> = {
  aws: { name: 'AWS (commercial)', dnsSuffix: 'amazonaws.com' },
  'aws-cn': { name: 'AWS China', dnsSuffix: 'amazonaws.com.cn' },
  'aws-us-gov': { name: 'AWS GovCloud (US)', dnsSuffix: 'amazonaws.com' },
};

// The region list follows the partition metadata that ships with the AWS SDK (partitions.json,
// the same data botocore and @aws-sdk/core carry), without the pseudo-regions (`aws-global`) and
// the isolated partitions. regions.test.ts compares it with the SDK installed in this repository.
const REGION_TABLE: ReadonlyArray<readonly [string, string, AwsPartition]> = [
  ['us-east-1', 'US East (N. Virginia)', 'aws'],
  ['us-east-2', 'US East (Ohio)', 'aws'],
  ['us-west-1', 'US West (N. California)', 'aws'],
  ['us-west-2', 'US West (Oregon)', 'aws'],
  ['af-south-1', 'Africa (Cape Town)', 'aws'],
  ['ap-east-1', 'Asia Pacific (Hong Kong)', 'aws'],
  ['ap-east-2', 'Asia Pacific (Taipei)', 'aws'],
  ['ap-south-1', 'Asia Pacific (Mumbai)', 'aws'],
  ['ap-south-2', 'Asia Pacific (Hyderabad)', 'aws'],
  ['ap-southeast-1', 'Asia Pacific (Singapore)', 'aws'],
  ['ap-southeast-2', 'Asia Pacific (Sydney)', 'aws'],
  ['ap-southeast-3', 'Asia Pacific (Jakarta)', 'aws'],
  ['ap-southeast-4', 'Asia Pacific (Melbourne)', 'aws'],
  ['ap-southeast-5', 'Asia Pacific (Malaysia)', 'aws'],
  ['ap-southeast-6', 'Asia Pacific (New Zealand)', 'aws'],
  ['ap-southeast-7', 'Asia Pacific (Thailand)', 'aws'],
  ['ap-northeast-1', 'Asia Pacific (Tokyo)', 'aws'],
  ['ap-northeast-2', 'Asia Pacific (Seoul)', 'aws'],
  ['ap-northeast-3', 'Asia Pacific (Osaka)', 'aws'],
  ['ca-central-1', 'Canada (Central)', 'aws'],
  ['ca-west-1', 'Canada West (Calgary)', 'aws'],
  ['eu-central-1', 'Europe (Frankfurt)', 'aws'],
  ['eu-central-2', 'Europe (Zurich)', 'aws'],
  ['eu-west-1', 'Europe (Ireland)', 'aws'],
  ['eu-west-2', 'Europe (London)', 'aws'],
  ['eu-west-3', 'Europe (Paris)', 'aws'],
  ['eu-south-1', 'Europe (Milan)', 'aws'],
  ['eu-south-2', 'Europe (Spain)', 'aws'],
  ['eu-north-1', 'Europe (Stockholm)', 'aws'],
  ['il-central-1', 'Israel (Tel Aviv)', 'aws'],
  ['me-south-1', 'Middle East (Bahrain)', 'aws'],
  ['me-central-1', 'Middle East (UAE)', 'aws'],
  ['me-west-1', 'Middle East (Saudi Arabia)', 'aws'],
  ['mx-central-1', 'Mexico (Central)', 'aws'],
  ['sa-east-1', 'South America (São Paulo)', 'aws'],
  ['sa-west-1', 'South America (Chile)', 'aws'],
  ['cn-north-1', 'China (Beijing)', 'aws-cn'],
  ['cn-northwest-1', 'China (Ningxia)', 'aws-cn'],
  ['us-gov-west-1', 'AWS GovCloud (US-West)', 'aws-us-gov'],
  ['us-gov-east-1', 'AWS GovCloud (US-East)', 'aws-us-gov'],
];

/** Every known region of the supported partitions, grouped by partition (commercial, China, GovCloud). */
export const AWS_REGIONS: readonly AwsRegionInfo[] = REGION_TABLE.map(([code, name, partition]) => Object.freeze({ code, name, partition }));

const BY_CODE = new Map(AWS_REGIONS.map((r) => [r.code, r]));

/** True for the code of a known region of a supported partition (`us-east-1`, `cn-north-1`, `us-gov-west-1`); exact, lowercase. */
export function isKnownRegion(region: string): boolean {
  return BY_CODE.has(region);
}

/** The partition a known region belongs to; undefined for anything else. */
export function partitionOfRegion(region: string): AwsPartition | undefined {
  return BY_CODE.get(region)?.partition;
}

/** The display name of a known region (`Europe (Ireland)`); undefined for anything else. */
export function regionName(region: string): string | undefined {
  return BY_CODE.get(region)?.name;
}

/** The known regions of a partition, in display order. */
export function regionsOfPartition(partition: AwsPartition): AwsRegionInfo[] {
  return AWS_REGIONS.filter((r) => r.partition === partition);
}

/** True for a supported partition id (`aws`, `aws-cn`, `aws-us-gov`). */
export function isAwsPartition(value: string): value is AwsPartition {
  return (AWS_PARTITIONS as readonly string[]).includes(value);
}

/** The DNS suffix of a partition's service endpoints: `amazonaws.com`, or `amazonaws.com.cn` in China. */
export function dnsSuffix(partition: AwsPartition): string {
  return PARTITION_INFO[partition].dnsSuffix;
}

/** The display name of a partition (`AWS China`). */
export function partitionName(partition: AwsPartition): string {
  return PARTITION_INFO[partition].name;
}


/** The known region closest to a mistyped one (`us-east1` → `us-east-1`), when one is close enough to be the likely intent. */
export function suggestRegion(input: string): string | undefined {
  const lower = input.trim().toLowerCase();
  if (BY_CODE.has(lower)) return lower;
  let best: string | undefined;
  let bestDistance = 3;
  for (const { code } of AWS_REGIONS) {
    const d = levenshtein(lower, code);
    if (d < bestDistance) [best, bestDistance] = [code, d];
  }
  return best;
}

/** The message for a value that is not a known region: `not an AWS region: xx-foo-1; e.g. us-east-1` (naming the likely intended region when one is close). */
export function notARegionMessage(value: string): string {
  const suggestion = suggestRegion(value);
  return `not an AWS region: ${value}; ${suggestion && suggestion !== value ? `did you mean ${suggestion}?` : 'e.g. us-east-1'}`;
}

/** A known AWS region code of any supported partition; rejects anything else with {@link notARegionMessage}. */
export const awsRegionSchema = z.string().refine(isKnownRegion, { error: (issue) => notARegionMessage(String(issue.input)) });

/** A supported partition id. */
export const awsPartitionSchema = z.enum(['aws', 'aws-cn', 'aws-us-gov'], { error: 'not an AWS partition; use aws, aws-cn or aws-us-gov' });

/** A 12-digit AWS account id (leading zeros kept: it is a string). */
export const awsAccountIdSchema = z.string().regex(/^\d{12}$/, 'not an AWS account id: must be 12 digits, e.g. 123456789012');

// ---------------------------------------------------------------------------
// ARNs
// ---------------------------------------------------------------------------

/** The parts of an ARN: `arn:<partition>:<service>:<region>:<account>:<resource>`. */
export interface ParsedArn {
  partition: AwsPartition;
  /** Service namespace, e.g. `iam`, `aps`, `logs`. */
  service: string;
  /** Empty for global resources (IAM, S3 buckets). */
  region: string;
  /** 12-digit account id; empty for S3 buckets; `aws` for AWS-managed resources (managed policies). */
  account: string;
  /** Everything after the fifth colon, e.g. `role/path/name`, `log-group:/x:log-stream:y`. */
  resource: string;
}

/** Thrown by {@link parseArn} and {@link parseRoleArn}: the message says what is wrong with the ARN. */
export class InvalidArnError extends Error {
  override readonly name = 'InvalidArnError';
}

const REGION_SHAPE = /^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/;

/** What is wrong with an ARN (a phrase without a prefix), or its parts. */
function arnProblem(arn: string): { problem: string } | { parsed: ParsedArn } {
  if (typeof arn !== 'string' || arn.length === 0) return { problem: 'empty' };
  if (arn !== arn.trim()) return { problem: 'remove the spaces around it' };
  const parts = arn.split(':');
  if (parts[0] !== 'arn' || parts.length < 6) return { problem: `${arn} does not look like arn:<partition>:<service>:<region>:<account>:<resource>` };
  const [, partition = '', service = '', region = '', account = ''] = parts;
  const resource = parts.slice(5).join(':');
  if (!isAwsPartition(partition)) return { problem: `the partition ${JSON.stringify(partition)} is not aws, aws-cn or aws-us-gov` };
  if (!/^[a-z0-9][a-z0-9-]*$/.test(service)) return { problem: `the service ${JSON.stringify(service)} must be a lowercase service namespace such as iam or logs` };
  if (region !== '') {
    if (!REGION_SHAPE.test(region)) return { problem: `${JSON.stringify(region)} is not a region` };
    const regionPartition = partitionOfRegion(region);
    if (regionPartition && regionPartition !== partition) return { problem: `region ${region} belongs to partition ${regionPartition}, not ${partition}` };
  }
  if (account !== '' && account !== 'aws' && !/^\d{12}$/.test(account)) return { problem: `the account ${JSON.stringify(account)} must be 12 digits` };
  if (resource === '') return { problem: 'the resource part is empty' };
  return { parsed: { partition, service, region, account, resource } };
}

/**
 * Splits and validates an ARN. The partition must be a supported one, the service a lowercase
 * namespace, the region empty or region-shaped (and of the same partition when known), the
 * account empty, 12 digits or `aws`, and the resource non-empty. Throws {@link InvalidArnError} otherwise.
 */
export function parseArn(arn: string): ParsedArn {
  const result = arnProblem(arn);
  if ('problem' in result) throw new InvalidArnError(`not an ARN: ${result.problem}`);
  return result.parsed;
}

/** {@link parseArn} without throwing: the parts, or undefined for anything that is not a valid ARN. */
export function tryParseArn(arn: string): ParsedArn | undefined {
  const result = arnProblem(arn);
  return 'parsed' in result ? result.parsed : undefined;
}

/** An IAM role ARN's parts: `arn:<partition>:iam::<account>:role<path><name>`. */
export interface ParsedRoleArn {
  partition: AwsPartition;
  account: string;
  /** `/` or `/a/b/`. */
  path: string;
  name: string;
  arn: string;
}

/** The longest IAM role name AWS accepts. */
export const ROLE_NAME_MAX_LENGTH = 64;
const ROLE_NAME = /^[\w+=,.@-]+$/;
/** IAM path: `/` or `/segment/…/`, printable ASCII without spaces, at most 512 characters. */
const ROLE_PATH = /^\/(?:[\x21-\x7e]*\/)?$/;

function roleArnProblem(arn: string): { problem: string } | { parsed: ParsedRoleArn } {
  const base = arnProblem(arn);
  const bad = (detail: string) => ({ problem: `not an IAM role ARN: ${detail}; e.g. arn:aws:iam::123456789012:role/fleet-writer` });
  if ('problem' in base) return bad(base.problem);
  const { partition, service, region, account, resource } = base.parsed;
  if (service !== 'iam') return bad(`the service is ${service}, not iam`);
  if (region !== '') return bad(`IAM ARNs have no region (found ${region})`);
  if (!/^\d{12}$/.test(account)) return bad('the account must be 12 digits');
  if (!resource.startsWith('role/')) return bad(`the resource must start with role/ (found ${JSON.stringify(resource.split('/')[0])})`);
  const rest = resource.slice('role'.length); // "/path/name" or "/name"
  const lastSlash = rest.lastIndexOf('/');
  const path = rest.slice(0, lastSlash + 1);
  const name = rest.slice(lastSlash + 1);
  if (name === '') return bad('the role name is empty');
  if (!ROLE_NAME.test(name)) return bad(`the role name ${JSON.stringify(name)} may contain only letters, digits and + = , . @ _ -`);
  if (name.length > ROLE_NAME_MAX_LENGTH) return bad(`the role name is ${name.length} characters long; IAM allows at most ${ROLE_NAME_MAX_LENGTH}`);
  if (path.length > 512 || !ROLE_PATH.test(path)) return bad(`the path ${JSON.stringify(path)} must be / or /segments/ of printable characters without spaces`);
  return { parsed: { partition, account, path, name, arn } };
}

/**
 * Validates an IAM role ARN (`arn:<partition>:iam::<12 digits>:role/<path/>name`, name of
 * `[\w+=,.@-]`, at most 64 characters) and returns its parts; throws {@link InvalidArnError} with
 * a message naming the problem otherwise.
 */
export function parseRoleArn(arn: string): ParsedRoleArn {
  const result = roleArnProblem(arn);
  if ('problem' in result) throw new InvalidArnError(result.problem);
  return result.parsed;
}

/** An IAM role ARN, validated as {@link parseRoleArn} does; the issue message names the problem. */
export const roleArnSchema = z.string().superRefine((value, ctx) => {
  const result = roleArnProblem(value);
  if ('problem' in result) ctx.addIssue({ code: 'custom', message: result.problem });
});

/** The account a role ARN must belong to. */
export interface AccountRef {
  accountId: string;
  partition: AwsPartition;
}

/**
 * Checks that a role ARN is in the given account and partition ("partition and account must
 * match"). Returns undefined when they match, otherwise one sentence naming both sides, e.g.
 * `the role arn:aws:iam::111122223333:role/x is in account 111122223333 (partition aws), not in account 123456789012 (partition aws-cn)`.
 * An ARN that is not a valid role ARN yields the validation message.
 */
export function roleArnAccountMismatch(roleArn: string, account: AccountRef): string | undefined {
  const result = roleArnProblem(roleArn);
  if ('problem' in result) return result.problem;
  const { partition, account: arnAccount } = result.parsed;
  if (partition === account.partition && arnAccount === account.accountId) return undefined;
  const what = partition !== account.partition && arnAccount !== account.accountId ? 'partition and account' : partition !== account.partition ? 'partition' : 'account';
  return `the ${what} of the role ${roleArn} must match the AWS account: the role is in account ${arnAccount} (partition ${partition}), the account is ${account.accountId} (partition ${account.partition})`;
}

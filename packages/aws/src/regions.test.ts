import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  AWS_PARTITIONS,
  AWS_REGIONS,
  awsAccountIdSchema,
  awsPartitionSchema,
  awsRegionSchema,
  dnsSuffix,
  InvalidArnError,
  isKnownRegion,
  parseArn,
  parseRoleArn,
  partitionOfRegion,
  regionName,
  regionsOfPartition,
  roleArnAccountMismatch,
  roleArnSchema,
  suggestRegion,
  tryParseArn,
} from './regions.js';

const COMMERCIAL = [
  'us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'af-south-1', 'ap-east-1', 'ap-east-2', 'ap-south-1', 'ap-south-2',
  'ap-southeast-1', 'ap-southeast-2', 'ap-southeast-3', 'ap-southeast-4', 'ap-southeast-5', 'ap-southeast-6', 'ap-southeast-7',
  'ap-northeast-1', 'ap-northeast-2', 'ap-northeast-3', 'ca-central-1', 'ca-west-1', 'eu-central-1', 'eu-central-2', 'eu-west-1',
  'eu-west-2', 'eu-west-3', 'eu-south-1', 'eu-south-2', 'eu-north-1', 'il-central-1', 'me-south-1', 'me-central-1', 'mx-central-1', 'sa-east-1',
];

describe('regions', () => {
  it('knows every commercial region, China and GovCloud, each with a display name', () => {
    for (const r of COMMERCIAL) {
      expect(isKnownRegion(r), r).toBe(true);
      expect(partitionOfRegion(r), r).toBe('aws');
    }
    expect(regionsOfPartition('aws-cn').map((r) => r.code)).toEqual(['cn-north-1', 'cn-northwest-1']);
    expect(regionsOfPartition('aws-us-gov').map((r) => r.code).sort()).toEqual(['us-gov-east-1', 'us-gov-west-1']);
    expect(regionName('eu-west-1')).toBe('Europe (Ireland)');
    expect(regionName('ap-east-2')).toBe('Asia Pacific (Taipei)');
    expect(regionName('cn-northwest-1')).toBe('China (Ningxia)');
    for (const r of AWS_REGIONS) expect(r.name.length, r.code).toBeGreaterThan(3);
    expect(new Set(AWS_REGIONS.map((r) => r.code)).size).toBe(AWS_REGIONS.length);
    expect(AWS_REGIONS.every((r) => AWS_PARTITIONS.includes(r.partition))).toBe(true);
  });

  it('rejects what is not a region code exactly', () => {
    for (const r of ['', 'US-EAST-1', 'us-east-1 ', 'us-east-9', 'aws-global', 'xx-foo-1', 'us-iso-east-1', 'eu-isoe-west-1']) {
      expect(isKnownRegion(r), r).toBe(false);
      expect(partitionOfRegion(r), r).toBeUndefined();
    }
  });

  it('names the DNS suffix of each partition', () => {
    expect(dnsSuffix('aws')).toBe('amazonaws.com');
    expect(dnsSuffix('aws-cn')).toBe('amazonaws.com.cn');
    expect(dnsSuffix('aws-us-gov')).toBe('amazonaws.com');
  });

  it('awsRegionSchema explains a wrong region and suggests a close one', () => {
    expect(awsRegionSchema.parse('eu-central-2')).toBe('eu-central-2');
    const unknown = awsRegionSchema.safeParse('xx-foo-1');
    expect(unknown.success).toBe(false);
    expect(unknown.error!.issues[0]!.message).toBe('not an AWS region: xx-foo-1; e.g. us-east-1');
    expect(awsRegionSchema.safeParse('us-east1').error!.issues[0]!.message).toBe('not an AWS region: us-east1; did you mean us-east-1?');
    expect(awsRegionSchema.safeParse('EU-WEST-1').error!.issues[0]!.message).toContain('did you mean eu-west-1?');
    expect(suggestRegion('cn-nrth-1')).toBe('cn-north-1');
    expect(suggestRegion('antarctica')).toBeUndefined();
  });

  it('validates partitions and account ids', () => {
    expect(awsPartitionSchema.parse('aws-us-gov')).toBe('aws-us-gov');
    expect(awsPartitionSchema.safeParse('aws-iso').error!.issues[0]!.message).toContain('use aws, aws-cn or aws-us-gov');
    expect(awsAccountIdSchema.parse('012345678901')).toBe('012345678901');
    for (const bad of ['12345678901', '1234567890123', '12345678901a', ' 123456789012']) {
      expect(awsAccountIdSchema.safeParse(bad).error!.issues[0]!.message, bad).toContain('12 digits');
    }
  });

  // When the AWS SDK in this repository learns a region, this list must learn it too.
  it('covers every region of the aws, aws-cn and aws-us-gov partitions the installed AWS SDK knows', async () => {
    const require = createRequire(import.meta.url);
    let file: string;
    try {
      file = join(dirname(require.resolve('@aws-sdk/core/package.json')), 'dist-es/submodules/client/util-endpoints/lib/aws/partitions.js');
    } catch {
      return; // SDK not installed where expected: nothing to compare with
    }
    if (!existsSync(file)) return;
    const { partitionsInfo } = (await import(pathToFileURL(file).href)) as { partitionsInfo: { partitions: Array<{ id: string; regions: Record<string, unknown> }> } };
    for (const p of partitionsInfo.partitions.filter((x) => (AWS_PARTITIONS as readonly string[]).includes(x.id))) {
      const sdk = Object.keys(p.regions).filter((r) => !r.endsWith('-global')).sort();
      expect(regionsOfPartition(p.id as 'aws').map((r) => r.code).sort(), p.id).toEqual(sdk);
    }
  });
});

describe('parseArn', () => {
  it('splits an ARN into its parts; the resource keeps its colons', () => {
    expect(parseArn('arn:aws:logs:eu-west-1:123456789012:log-group:/fleet:log-stream:a')).toEqual({
      partition: 'aws',
      service: 'logs',
      region: 'eu-west-1',
      account: '123456789012',
      resource: 'log-group:/fleet:log-stream:a',
    });
    expect(parseArn('arn:aws:s3:::bucket/key')).toEqual({ partition: 'aws', service: 's3', region: '', account: '', resource: 'bucket/key' });
    expect(parseArn('arn:aws:iam::aws:policy/ReadOnlyAccess').account).toBe('aws');
    expect(parseArn('arn:aws-cn:aps:cn-north-1:123456789012:workspace/ws-1').partition).toBe('aws-cn');
  });

  it('throws InvalidArnError naming the problem', () => {
    const cases: Array<[string, string]> = [
      ['', 'not an ARN: empty'],
      ['arn:aws:iam::123456789012', 'does not look like arn:<partition>:<service>:<region>:<account>:<resource>'],
      ['arn:aws-iso:iam::123456789012:role/x', 'the partition "aws-iso" is not aws, aws-cn or aws-us-gov'],
      ['arn:aws:IAM::123456789012:role/x', 'the service "IAM" must be a lowercase service namespace'],
      ['arn:aws:logs:moon-1:123456789012:log-group:x', '"moon-1" is not a region'],
      ['arn:aws:logs:cn-north-1:123456789012:log-group:x', 'region cn-north-1 belongs to partition aws-cn, not aws'],
      ['arn:aws:iam::1234:role/x', 'the account "1234" must be 12 digits'],
      ['arn:aws:iam::123456789012:', 'the resource part is empty'],
    ];
    for (const [arn, message] of cases) {
      expect(() => parseArn(arn), arn).toThrow(InvalidArnError);
      expect(() => parseArn(arn), arn).toThrow(message);
      expect(tryParseArn(arn), arn).toBeUndefined();
    }
  });
});

describe('role ARNs', () => {
  it('accepts role ARNs with and without a path, in every partition', () => {
    expect(parseRoleArn('arn:aws:iam::123456789012:role/fleet-writer')).toMatchObject({ partition: 'aws', account: '123456789012', path: '/', name: 'fleet-writer' });
    expect(parseRoleArn('arn:aws-us-gov:iam::123456789012:role/team/obs/fleet+w=1,a.b@c_d-e')).toMatchObject({ path: '/team/obs/', name: 'fleet+w=1,a.b@c_d-e' });
    expect(roleArnSchema.safeParse('arn:aws-cn:iam::123456789012:role/x').success).toBe(true);
    expect(roleArnSchema.safeParse(`arn:aws:iam::123456789012:role/${'a'.repeat(64)}`).success).toBe(true);
  });

  it('rejects other ARNs with a message that says why', () => {
    const cases: Array<[string, string]> = [
      ['arn:aws:iam::123456789012:user/x', 'the resource must start with role/ (found "user")'],
      ['arn:aws:sts::123456789012:assumed-role/x/i-1', 'the service is sts, not iam'],
      ['arn:aws:iam:us-east-1:123456789012:role/x', 'IAM ARNs have no region'],
      ['arn:aws:iam::aws:role/x', 'the account must be 12 digits'],
      ['arn:aws:iam::123456789012:role/', 'the role name is empty'],
      ['arn:aws:iam::123456789012:role/bad name', 'may contain only letters, digits and + = , . @ _ -'],
      ['arn:aws:iam::123456789012:role/a*', 'may contain only letters'],
      [`arn:aws:iam::123456789012:role/${'a'.repeat(65)}`, 'the role name is 65 characters long; IAM allows at most 64'],
      ['role/x', 'not an IAM role ARN'],
    ];
    for (const [arn, message] of cases) {
      const result = roleArnSchema.safeParse(arn);
      expect(result.success, arn).toBe(false);
      expect(result.error!.issues[0]!.message, arn).toContain(message);
      expect(result.error!.issues[0]!.message, arn).toContain('not an IAM role ARN');
      expect(() => parseRoleArn(arn)).toThrow(InvalidArnError);
    }
  });

  it('checks that a role ARN is in the registered account and partition, naming both', () => {
    const account = { accountId: '123456789012', partition: 'aws' as const };
    expect(roleArnAccountMismatch('arn:aws:iam::123456789012:role/fleet-writer', account)).toBeUndefined();
    expect(roleArnAccountMismatch('arn:aws:iam::111122223333:role/fleet-writer', account)).toBe(
      'the account of the role arn:aws:iam::111122223333:role/fleet-writer must match the AWS account: the role is in account 111122223333 (partition aws), the account is 123456789012 (partition aws)',
    );
    const both = roleArnAccountMismatch('arn:aws-cn:iam::111122223333:role/w', account)!;
    expect(both).toContain('partition and account');
    expect(both).toContain('account 111122223333 (partition aws-cn)');
    expect(both).toContain('123456789012 (partition aws)');
    expect(roleArnAccountMismatch('arn:aws-cn:iam::123456789012:role/w', account)).toMatch(/^the partition of the role/);
    expect(roleArnAccountMismatch('nonsense', account)).toContain('not an IAM role ARN');
  });
});

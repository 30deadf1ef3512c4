/**
 * Ec2Discoverer against the fake EC2 Query API of e2e/support/aws (real loopback sockets; every
 * request's SigV4 checked by the independent verifier), with credentials from the shared
 * authority and, for role_arn, the fake STS reached by the AWS SDK through AWS_ENDPOINT_URL_STS.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Ec2SdConfig } from '@fleet/pipeline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { envSandbox, isolatedAwsEnv, startFakeAws, startFakeEc2, type FakeAws, type FakeEc2, type FakeEc2Instance, type IssuedCredentials } from '../../../../e2e/support/aws/index.js';
import { eventually } from '../../../../e2e/support/wait.js';
import type { DiscoveryDeps, TargetGroup } from './discovery.js';
import { Ec2Discoverer, type Ec2DiscovererOptions } from './ec2-sd.js';

const REGION = 'us-east-1';
const ROLE = 'arn:aws:iam::444455556666:role/ec2-discovery';

let aws: FakeAws;
let ec2: FakeEc2;
let user: IssuedCredentials;

beforeAll(async () => {
  aws = await startFakeAws({ region: REGION });
  user = aws.authority.addLongTerm(aws.authority.userIdentity('prometheus'));
  aws.sts.addRole({ arn: ROLE, trustedPrincipals: [user.identity.arn] });
  ec2 = await startFakeEc2({ authority: aws.authority, region: [REGION, 'eu-west-1', 'ap-south-1'] });
});
afterAll(async () => {
  await ec2?.close();
  await aws?.close();
});

const sandbox = envSandbox();
const running: Ec2Discoverer[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) d.stop();
  await sandbox.restore();
  ec2.instances = [];
  ec2.calls.length = 0;
  ec2.faults.length = 0;
  ec2.pageSize = 1000;
  ec2.allow('DescribeInstances');
  ec2.allow('DescribeAvailabilityZones');
});

function config(overrides: Partial<Ec2SdConfig> = {}): Ec2SdConfig {
  return { region: REGION, endpoint: ec2.url, accessKey: user.accessKeyId, secretKey: user.secretAccessKey, refreshIntervalMs: 60_000, port: 9100, filters: [], ...overrides };
}

/** A started discoverer and everything it reported. */
function discover(cfg: Ec2SdConfig, env: NodeJS.ProcessEnv = isolatedAwsEnv() as NodeJS.ProcessEnv, options: Ec2DiscovererOptions = {}) {
  const updates: TargetGroup[][] = [];
  const errors: string[] = [];
  const logs: Array<{ level: string; message: string }> = [];
  const deps: DiscoveryDeps = { env, log: (level, message) => logs.push({ level, message }) };
  const d = new Ec2Discoverer(cfg, deps, options);
  running.push(d);
  d.start(
    (groups) => updates.push(groups),
    (message) => errors.push(message),
  );
  return { d, updates, errors, logs };
}

const byAddress = (groups: TargetGroup[]) => Object.fromEntries(groups.map((g) => [g.targets[0], g.labels]));
const describeCalls = () => ec2.calls.filter((c) => c.action === 'DescribeInstances');

function fleet(n: number): FakeEc2Instance[] {
  return Array.from({ length: n }, (_, k) => ({
    instanceId: `i-0000000000000${String(k).padStart(4, '0')}`,
    privateIpAddress: `10.0.${Math.floor(k / 200)}.${(k % 200) + 10}`,
    availabilityZone: `${REGION}a`,
    vpcId: 'vpc-1',
    subnetId: 'subnet-1',
  }));
}

describe('Ec2Discoverer', () => {
  it('pages with NextToken until there is none and collects every instance', async () => {
    ec2.instances = fleet(13);
    ec2.pageSize = 4; // 4 + 4 + 4 + 1
    const { updates, errors } = discover(config(), undefined, { pageSize: 5 });
    await eventually('first update', () => updates.length === 1 || errors.length > 0);
    expect(errors).toEqual([]);
    expect(updates[0]!.map((g) => g.targets[0]).sort()).toEqual(ec2.instances.map((i) => `${i.privateIpAddress}:9100`).sort());
    const calls = describeCalls();
    expect(calls.map((c) => c.returned)).toEqual([4, 4, 4, 1]);
    expect(calls[0]!.params.NextToken).toBeUndefined();
    expect(calls.slice(1).every((c) => typeof c.params.NextToken === 'string')).toBe(true);
    expect(calls.every((c) => c.params.MaxResults === '5' && c.params.Version === '2016-11-15' && c.status === 200)).toBe(true);
    expect(updates[0]!.every((g) => g.source === `${REGION}/${g.labels.__meta_ec2_instance_id}`)).toBe(true);
  });

  it('sends the filters as Filter.N.Name / Filter.N.Value.M and gets only what they select', async () => {
    const base = fleet(5);
    ec2.instances = [
      { ...base[0]!, instanceType: 'm5.large', tags: { team: 'payments' } },
      { ...base[1]!, instanceType: 'm5.xlarge', tags: { team: 'search' } },
      { ...base[2]!, instanceType: 'm5.large', tags: { team: 'payments' }, state: 'stopped' },
      { ...base[3]!, instanceType: 'c6g.large', tags: { team: 'payments' } },
      { ...base[4]!, instanceType: 'm5.2xlarge', tags: { team: 'payments', env: 'prod' }, vpcId: 'vpc-2' },
    ];
    const filters = [
      { name: 'instance-state-name', values: ['running', 'pending'] },
      { name: 'tag:team', values: ['payments'] },
      { name: 'instance-type', values: ['m5.*'] },
      { name: 'vpc-id', values: ['vpc-1', 'vpc-2'] },
    ];
    const { updates, errors } = discover(config({ filters }));
    await eventually('first update', () => updates.length === 1 || errors.length > 0);
    expect(errors).toEqual([]);
    expect(describeCalls()[0]!.params).toMatchObject({
      'Filter.1.Name': 'instance-state-name',
      'Filter.1.Value.1': 'running',
      'Filter.1.Value.2': 'pending',
      'Filter.2.Name': 'tag:team',
      'Filter.2.Value.1': 'payments',
      'Filter.3.Name': 'instance-type',
      'Filter.3.Value.1': 'm5.*',
      'Filter.4.Name': 'vpc-id',
      'Filter.4.Value.2': 'vpc-2',
    });
    expect(updates[0]!.map((g) => g.labels.__meta_ec2_instance_id)).toEqual([base[0]!.instanceId, base[4]!.instanceId]);

    const { updates: tagged } = discover(config({ filters: [{ name: 'tag-key', values: ['env'] }] }));
    await eventually('tag-key update', () => tagged.length === 1);
    expect(tagged[0]!.map((g) => g.labels.__meta_ec2_instance_id)).toEqual([base[4]!.instanceId]);
  });

  it('labels instances exactly as Prometheus documents, and skips one without a private IP', async () => {
    ec2.instances = [
      {
        instanceId: 'i-0a1b2c3d4e5f60001',
        reservationId: 'r-shared',
        ownerId: '111122223333',
        imageId: 'ami-0123456789abcdef0',
        instanceType: 'm6i.large',
        availabilityZone: 'us-east-1b',
        privateIpAddress: '10.1.2.3',
        privateDnsName: 'ip-10-1-2-3.ec2.internal',
        publicIpAddress: '203.0.113.7',
        publicDnsName: 'ec2-203-0-113-7.compute-1.amazonaws.com',
        vpcId: 'vpc-0abc',
        subnetId: 'subnet-0aaa',
        architecture: 'x86_64',
        instanceLifecycle: 'spot',
        platform: 'windows',
        tags: { Name: 'web 1', 'aws:autoscaling:groupName': 'web-asg', 'team-owner': ' payments & co ' },
        networkInterfaces: [
          { subnetId: 'subnet-0aaa', deviceIndex: 0, ipv6Addresses: [{ address: '2001:db8::1', primary: true }, { address: '2001:db8::2' }] },
          { subnetId: 'subnet-0bbb', deviceIndex: 2, ipv6Addresses: [{ address: '2001:db8:1::9', primary: true }] },
          { subnetId: 'subnet-0aaa', deviceIndex: 3 },
        ],
      },
      {
        instanceId: 'i-0a1b2c3d4e5f60002',
        reservationId: 'r-shared',
        ownerId: '111122223333',
        imageId: 'ami-0fedcba9876543210',
        instanceType: 't3.micro',
        state: 'stopped',
        availabilityZone: 'us-east-1c',
        privateIpAddress: '10.1.9.9',
        privateDnsName: 'ip-10-1-9-9.ec2.internal',
        vpcId: 'vpc-0abc',
        subnetId: 'subnet-0ccc',
        architecture: 'arm64',
        networkInterfaces: [{ subnetId: 'subnet-0ccc' }],
      },
      { instanceId: 'i-0a1b2c3d4e5f60003', instanceType: 't3.nano', state: 'terminated', availabilityZone: 'us-east-1a' },
    ];
    const { updates, errors } = discover(config());
    await eventually('first update', () => updates.length === 1 || errors.length > 0);
    expect(errors).toEqual([]);
    expect(updates[0]).toHaveLength(2);
    expect(byAddress(updates[0]!)).toEqual({
      '10.1.2.3:9100': {
        __meta_ec2_ami: 'ami-0123456789abcdef0',
        __meta_ec2_architecture: 'x86_64',
        __meta_ec2_availability_zone: 'us-east-1b',
        __meta_ec2_availability_zone_id: 'use1-az2',
        __meta_ec2_instance_id: 'i-0a1b2c3d4e5f60001',
        __meta_ec2_instance_lifecycle: 'spot',
        __meta_ec2_instance_state: 'running',
        __meta_ec2_instance_type: 'm6i.large',
        __meta_ec2_ipv6_addresses: ',2001:db8::1,2001:db8::2,2001:db8:1::9,',
        __meta_ec2_owner_id: '111122223333',
        __meta_ec2_platform: 'windows',
        __meta_ec2_primary_ipv6_addresses: ',2001:db8::1,,2001:db8:1::9,',
        __meta_ec2_primary_subnet_id: 'subnet-0aaa',
        __meta_ec2_private_dns_name: 'ip-10-1-2-3.ec2.internal',
        __meta_ec2_private_ip: '10.1.2.3',
        __meta_ec2_public_dns_name: 'ec2-203-0-113-7.compute-1.amazonaws.com',
        __meta_ec2_public_ip: '203.0.113.7',
        __meta_ec2_region: 'us-east-1',
        __meta_ec2_subnet_id: ',subnet-0aaa,subnet-0bbb,',
        __meta_ec2_tag_Name: 'web 1',
        __meta_ec2_tag_aws_autoscaling_groupName: 'web-asg',
        __meta_ec2_tag_team_owner: ' payments & co ',
        __meta_ec2_vpc_id: 'vpc-0abc',
      },
      '10.1.9.9:9100': {
        __meta_ec2_ami: 'ami-0fedcba9876543210',
        __meta_ec2_architecture: 'arm64',
        __meta_ec2_availability_zone: 'us-east-1c',
        __meta_ec2_availability_zone_id: 'use1-az3',
        __meta_ec2_instance_id: 'i-0a1b2c3d4e5f60002',
        __meta_ec2_instance_state: 'stopped',
        __meta_ec2_instance_type: 't3.micro',
        __meta_ec2_owner_id: '111122223333',
        __meta_ec2_primary_subnet_id: 'subnet-0ccc',
        __meta_ec2_private_dns_name: 'ip-10-1-9-9.ec2.internal',
        __meta_ec2_private_ip: '10.1.9.9',
        __meta_ec2_region: 'us-east-1',
        __meta_ec2_subnet_id: ',subnet-0ccc,',
        __meta_ec2_vpc_id: 'vpc-0abc',
      },
    });
    expect(ec2.calls.filter((c) => c.action === 'DescribeAvailabilityZones')).toHaveLength(1);
  });

  it('a wrong secret is refused by the verifier and reported with the signature error', async () => {
    ec2.instances = fleet(1);
    const { updates, errors } = discover(config({ secretKey: `${user.secretAccessKey.slice(0, -1)}X` }));
    await eventually('an error', () => errors.length > 0);
    expect(updates).toEqual([]);
    expect(ec2.calls.every((c) => c.status === 403 && c.code === 'SignatureDoesNotMatch')).toBe(true);
    expect(errors[0]).toContain('SignatureDoesNotMatch');
    expect(errors[0]).toContain('signature');
    expect(errors[0]).not.toContain(user.secretAccessKey);
  });

  it('access denied names the missing ec2:DescribeInstances permission; the last good targets stay', async () => {
    ec2.instances = fleet(2);
    const { updates, errors } = discover(config({ refreshIntervalMs: 100 }));
    await eventually('first update', () => updates.length === 1);
    ec2.deny('DescribeInstances');
    await eventually('the denial reported', () => errors.length > 0);
    expect(errors[0]).toMatch(/DescribeInstances failed: UnauthorizedOperation: You are not authorized to perform this operation\..*allow "ec2:DescribeInstances"/);
    expect(updates).toHaveLength(1);
    expect(updates[0]).toHaveLength(2);
  });

  it('a denied DescribeAvailabilityZones leaves the zone id out, reported once', async () => {
    ec2.instances = fleet(1);
    ec2.deny('DescribeAvailabilityZones');
    const { updates, errors, logs } = discover(config({ refreshIntervalMs: 100 }));
    await eventually('two refreshes', () => describeCalls().length >= 2);
    expect(errors).toEqual([]);
    expect(updates[0]![0]!.labels.__meta_ec2_availability_zone).toBe(`${REGION}a`);
    expect(updates[0]![0]!.labels).not.toHaveProperty('__meta_ec2_availability_zone_id');
    const warned = logs.filter((l) => l.message.includes('availability_zone_id'));
    expect(warned).toHaveLength(1);
    expect(warned[0]!.message).toContain('ec2:DescribeAvailabilityZones');
  });

  it('takes the region and endpoint from the environment when the config has none', async () => {
    ec2.instances = fleet(1);
    const env = { ...isolatedAwsEnv({ region: 'eu-west-1' }), AWS_ENDPOINT_URL_EC2: ec2.url } as NodeJS.ProcessEnv;
    const { updates, errors } = discover(config({ region: undefined, endpoint: undefined }), env);
    await eventually('first update', () => updates.length === 1 || errors.length > 0);
    expect(errors).toEqual([]);
    expect(updates[0]![0]!.labels.__meta_ec2_region).toBe('eu-west-1');
    expect(updates[0]![0]!.source).toMatch(/^eu-west-1\//);
  });

  it("falls back to the profile's region, then to IMDSv2, and says where it looked when neither has one", async () => {
    ec2.instances = fleet(1);
    const dir = await mkdtemp(path.join(tmpdir(), 'fleet-ec2-sd-'));
    try {
      const file = path.join(dir, 'config');
      await writeFile(file, '[default]\nregion = us-east-1\n\n[profile scanner]\n# comment\nregion = ap-south-1\n');
      const noRegion = { ...isolatedAwsEnv(), AWS_REGION: undefined, AWS_DEFAULT_REGION: undefined, AWS_ENDPOINT_URL: ec2.url };
      const fromProfile = discover(config({ region: undefined, endpoint: undefined }), { ...noRegion, AWS_CONFIG_FILE: file, AWS_PROFILE: 'scanner' } as NodeJS.ProcessEnv);
      await eventually('profile update', () => fromProfile.updates.length === 1 || fromProfile.errors.length > 0);
      expect(fromProfile.updates[0]![0]!.labels.__meta_ec2_region).toBe('ap-south-1');

      const imdsEnv = { ...noRegion, AWS_EC2_METADATA_DISABLED: 'false', AWS_EC2_METADATA_SERVICE_ENDPOINT: aws.imds.url } as NodeJS.ProcessEnv;
      const fromImds = discover(config({ region: undefined, endpoint: undefined }), imdsEnv);
      await eventually('imds update', () => fromImds.updates.length === 1 || fromImds.errors.length > 0);
      expect(fromImds.updates[0]![0]!.labels.__meta_ec2_region).toBe(aws.imds.region);

      const none = discover(config({ region: undefined }), noRegion as NodeJS.ProcessEnv);
      await eventually('no-region error', () => none.errors.length > 0);
      expect(none.errors[0]).toMatch(/no region: set region in the ec2_sd_config, or AWS_REGION.*AWS_EC2_METADATA_DISABLED/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('assumes role_arn through STS and signs with the role session', async () => {
    ec2.instances = fleet(1);
    sandbox.useEnv(isolatedAwsEnv({ sts: aws.sts }));
    const before = aws.sts.counts.AssumeRole ?? 0;
    const { updates, errors } = discover(config({ roleArn: ROLE }), process.env);
    await eventually('first update', () => updates.length === 1 || errors.length > 0);
    expect(errors).toEqual([]);
    expect(aws.sts.counts.AssumeRole).toBe(before + 1);
    const assumed = aws.sts.calls.filter((c) => c.action === 'AssumeRole').at(-1)!;
    expect(assumed.callerArn).toBe(user.identity.arn);
    expect(describeCalls()[0]!.accessKeyId).toBe(assumed.issuedAccessKeyId);
    expect(describeCalls()[0]!.callerArn).toMatch(/^arn:aws:sts::444455556666:assumed-role\/ec2-discovery\//);
  });

  it('a clock-skew rejection applies the offset from the Date header and succeeds on the retry', async () => {
    ec2.instances = fleet(1);
    ec2.clockOffsetMs = 10 * 60_000;
    try {
      const { updates, errors } = discover(config());
      await eventually('first update', () => updates.length === 1 || errors.length > 0);
      expect(errors).toEqual([]);
      const rejected = ec2.calls.filter((c) => c.status === 403);
      expect(rejected.length).toBeGreaterThan(0);
      expect(rejected.every((c) => /Signature expired/.test(c.message ?? ''))).toBe(true);
      expect(describeCalls().at(-1)!.status).toBe(200);
    } finally {
      ec2.clockOffsetMs = 0;
    }
  });

  it('stop() aborts the request in flight and reports nothing afterwards', async () => {
    ec2.instances = fleet(1);
    ec2.faults.push({ delayMs: 0 }, { delayMs: 30_000 });
    const { d, updates, errors } = discover(config());
    await eventually('DescribeInstances in flight', () => describeCalls().length === 1);
    d.stop();
    await eventually('the request aborted', () => describeCalls()[0]!.clientGone === true);
    expect(updates).toEqual([]);
    expect(errors).toEqual([]);
  });

  it('bounds the answer size and reports a network failure without crashing', async () => {
    ec2.instances = fleet(50);
    const big = discover(config(), undefined, { maxResponseBytes: 4096 });
    await eventually('size error', () => big.errors.length > 0);
    expect(big.errors[0]).toMatch(/DescribeInstances failed: the DescribeInstances answer is larger than 4096 bytes/);

    const down = discover(config({ endpoint: 'http://127.0.0.1:1/' }));
    await eventually('connect error', () => down.errors.length > 0);
    expect(down.errors[0]).toMatch(/ECONNREFUSED.*connect error reaching EC2/);
  });
});

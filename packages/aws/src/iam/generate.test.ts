import { describe, expect, it } from 'vitest';
import { checkIamPolicy } from './check.js';
import { iamDestinationSchema, parseAmpRemoteWriteUrl, type IamDestination } from './destinations.js';
import { generateAssumeRolePolicy, generatePermissionsPolicy, generateTrustPolicy, mergeStatements, oidcProviderFromIssuer } from './generate.js';
import { BUILTIN_TEMPLATES } from './templates.js';
import { IamGenerationError, type IamIssue, type IamStatement } from './types.js';

const ACCOUNT = '123456789012';
const WS = 'ws-12345678-abcd-4ef0-9a1b-1234567890ab';
const ampUrl = (region: string, ws = WS, suffix = 'amazonaws.com') => `https://aps-workspaces.${region}.${suffix}/workspaces/${ws}/api/v1/remote_write`;
const ctx = { accountId: ACCOUNT, partition: 'aws' as const };

/** The issues of the IamGenerationError `fn` throws. */
function issuesOf(fn: () => unknown): IamIssue[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof IamGenerationError) return e.issues;
    throw e;
  }
  throw new Error('expected an IamGenerationError');
}

describe('parseAmpRemoteWriteUrl', () => {
  it('reads region, partition and workspace from public, FIPS and VPC endpoint URLs', () => {
    expect(parseAmpRemoteWriteUrl(ampUrl('eu-west-1'))).toEqual({ region: 'eu-west-1', partition: 'aws', workspaceId: WS });
    expect(parseAmpRemoteWriteUrl(`${ampUrl('us-east-2')}/`).region).toBe('us-east-2');
    expect(parseAmpRemoteWriteUrl(`https://aps-workspaces-fips.us-gov-west-1.amazonaws.com/workspaces/${WS}/api/v1/remote_write`)).toMatchObject({ partition: 'aws-us-gov' });
    expect(parseAmpRemoteWriteUrl(`https://vpce-0abc-1234.aps-workspaces.ap-southeast-7.vpce.amazonaws.com/workspaces/${WS}/api/v1/remote_write`).region).toBe('ap-southeast-7');
    expect(parseAmpRemoteWriteUrl(ampUrl('cn-north-1', WS, 'amazonaws.com.cn'))).toMatchObject({ partition: 'aws-cn', region: 'cn-north-1' });
  });

  it('says what is wrong with anything else', () => {
    const cases: Array<[string, string]> = [
      ['not a url', 'not a URL'],
      [ampUrl('us-east-1').replace('https', 'http'), 'AMP accepts only https'],
      ['https://prometheus.example.com/api/v1/write', 'prometheus.example.com is not an Amazon Managed Service for Prometheus endpoint'],
      [ampUrl('us-east-9'), "the endpoint's region: not an AWS region: us-east-9; did you mean us-east-1?"],
      [ampUrl('cn-north-1'), 'region cn-north-1 is in partition aws-cn, whose endpoints end in amazonaws.com.cn, not amazonaws.com'],
      ['https://aps-workspaces.us-east-1.amazonaws.com/api/v1/remote_write', 'names no workspace'],
      [`https://aps-workspaces.us-east-1.amazonaws.com/workspaces/${WS}/api/v1/query`, `is not the remote-write path; agents write to /workspaces/${WS}/api/v1/remote_write`],
      ['https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-*/api/v1/remote_write', 'is not a workspace id'],
    ];
    for (const [url, message] of cases) expect(() => parseAmpRemoteWriteUrl(url), url).toThrow(message);
  });
});

describe('iamDestinationSchema', () => {
  it('accepts each kind and rejects bad fields with a path and a reason', () => {
    const good: IamDestination[] = [
      { kind: 'amp', url: ampUrl('us-east-1') },
      { kind: 'cloudwatch_logs', region: 'us-east-1', logGroup: '/aws/fleet#1', logStreamPrefix: '' },
      { kind: 's3', bucket: 'my.bucket-1', prefix: "it's/" },
      { kind: 'firehose', region: 'us-east-1', deliveryStream: 'a.b_c-d' },
      { kind: 'kinesis', region: 'us-east-1', stream: 's', accountId: '111122223333' },
      { kind: 'cloudwatch_metrics', region: 'us-east-1', namespace: 'Fleet/Agents 1' },
    ];
    for (const d of good) expect(iamDestinationSchema.safeParse(d).success, JSON.stringify(d)).toBe(true);
    const bad: Array<[unknown, string, string]> = [
      [{ kind: 'sqs', queue: 'x' }, 'kind', 'unknown destination kind; use one of amp, cloudwatch_logs'],
      [{ kind: 'cloudwatch_logs', region: 'us-east-1', logGroup: 'a:b' }, 'logGroup', 'may contain only letters, digits and . - _ / #'],
      [{ kind: 'cloudwatch_logs', region: 'us-east-1', logGroup: 'a', logStreamPrefix: 'x?' }, 'logStreamPrefix', 'would act as IAM wildcards'],
      [{ kind: 's3', bucket: 'My_Bucket' }, 'bucket', 'only lowercase letters'],
      [{ kind: 's3', bucket: 'b..b' }, 'bucket', 'two adjacent dots'],
      [{ kind: 's3', bucket: 'bucket', prefix: 'logs/*' }, 'prefix', 'must not contain *, ? or ${'],
      [{ kind: 's3', bucket: 'bucket', prefix: '${aws:username}/' }, 'prefix', 'policy variables'],
      [{ kind: 'firehose', region: 'eu-west-1', deliveryStream: 'a b' }, 'deliveryStream', 'a delivery stream name has 1 to 64'],
      [{ kind: 'kinesis', region: 'mars-1', stream: 's' }, 'region', 'not an AWS region: mars-1'],
      [{ kind: 'cloudwatch_metrics', region: 'us-east-1', namespace: 'AWS/EC2' }, 'namespace', 'reserved for AWS services'],
      [{ kind: 'cloudwatch_metrics', region: 'us-east-1', namespace: 'x', accountId: '12' }, 'accountId', '12 digits'],
      [{ kind: 'amp', url: 'https://example.com' }, 'url', 'is not an Amazon Managed Service for Prometheus endpoint'],
      [{ kind: 'amp', url: ampUrl('us-east-1'), region: 'us-east-1' }, '', 'region'],
    ];
    for (const [d, path, message] of bad) {
      const result = iamDestinationSchema.safeParse(d);
      expect(result.success, JSON.stringify(d)).toBe(false);
      expect(result.error!.issues[0]!.path.join('.'), JSON.stringify(d)).toBe(path);
      expect(JSON.stringify(result.error!.issues), JSON.stringify(d)).toContain(message);
    }
  });
});

describe('generatePermissionsPolicy', () => {
  const typical: IamDestination[] = [
    { kind: 'cloudwatch_logs', region: 'eu-west-1', logGroup: '/fleet/agents' },
    { kind: 'amp', url: ampUrl('eu-west-1') },
  ];

  it('orders statements by kind and resource whatever the input order, and deduplicates', () => {
    const a = generatePermissionsPolicy(typical, ctx);
    const b = generatePermissionsPolicy([...typical].reverse().concat(typical), ctx);
    expect(b).toEqual(a);
    expect(a.Statement.map((s) => s.Sid)).toEqual(['AmpRemoteWrite', 'CloudWatchLogsCreateLogGroup', 'CloudWatchLogsPutLogEvents']);
  });

  it('merges destinations of one kind into one statement with a sorted resource list', () => {
    const doc = generatePermissionsPolicy(
      [
        { kind: 'amp', url: ampUrl('us-east-1', 'ws-b') },
        { kind: 'amp', url: ampUrl('us-east-1', 'ws-a') },
        { kind: 'firehose', region: 'us-east-1', deliveryStream: 'f1', accountId: '111122223333' },
        { kind: 'firehose', region: 'us-east-1', deliveryStream: 'f1' },
      ],
      ctx,
    );
    expect(doc.Statement).toEqual([
      { Sid: 'AmpRemoteWrite', Effect: 'Allow', Action: 'aps:RemoteWrite', Resource: [`arn:aws:aps:us-east-1:${ACCOUNT}:workspace/ws-a`, `arn:aws:aps:us-east-1:${ACCOUNT}:workspace/ws-b`] },
      {
        Sid: 'FirehosePutRecords',
        Effect: 'Allow',
        Action: ['firehose:PutRecord', 'firehose:PutRecordBatch'],
        Resource: ['arn:aws:firehose:us-east-1:111122223333:deliverystream/f1', `arn:aws:firehose:us-east-1:${ACCOUNT}:deliverystream/f1`],
      },
    ]);
  });

  it('merges statements that differ in one condition key; others get their own statement with a unique Sid', () => {
    const doc = generatePermissionsPolicy(
      [
        { kind: 'cloudwatch_metrics', region: 'us-east-1', namespace: 'B' },
        { kind: 'cloudwatch_metrics', region: 'us-east-1', namespace: 'A' },
        { kind: 'cloudwatch_metrics', region: 'eu-west-1', namespace: 'A' },
      ],
      ctx,
    );
    expect(doc.Statement.map((s) => [s.Sid, s.Condition])).toEqual([
      ['CloudWatchPutMetricData', { StringEquals: { 'cloudwatch:namespace': 'A', 'aws:RequestedRegion': ['eu-west-1', 'us-east-1'] } }],
      ['CloudWatchPutMetricData2', { StringEquals: { 'cloudwatch:namespace': 'B', 'aws:RequestedRegion': 'us-east-1' } }],
    ]);
    expect(checkIamPolicy(doc, { kind: 'permissions' })).toEqual([]);
    const oneRegion = generatePermissionsPolicy(
      [
        { kind: 'cloudwatch_metrics', region: 'us-east-1', namespace: 'B' },
        { kind: 'cloudwatch_metrics', region: 'us-east-1', namespace: 'A' },
      ],
      ctx,
    );
    expect(oneRegion.Statement[0]!.Condition).toEqual({ StringEquals: { 'cloudwatch:namespace': ['A', 'B'], 'aws:RequestedRegion': 'us-east-1' } });
  });

  it('reports every invalid destination with its path, and partition mismatches', () => {
    const issues = issuesOf(() =>
      generatePermissionsPolicy(
        [
          { kind: 'amp', url: 'https://prometheus.example.com/api/v1/write' },
          { kind: 'cloudwatch_logs', region: 'cn-north-1', logGroup: 'g' },
          { kind: 's3', bucket: 'Bucket' },
          { kind: 'amp', url: ampUrl('us-gov-west-1') },
        ],
        ctx,
      ),
    );
    expect(issues.map((i) => i.path)).toEqual(['destinations[0].url', 'destinations[1].region', 'destinations[2].bucket', 'destinations[3].url']);
    expect(issues[1]!.message).toBe('region cn-north-1 is in partition aws-cn, but the account 123456789012 is in aws; IAM policies cannot grant across partitions');
    expect(issues[3]!.message).toContain('region us-gov-west-1 is in partition aws-us-gov');
    expect(issuesOf(() => generatePermissionsPolicy([], ctx))).toEqual([{ path: 'destinations', message: 'no destinations: a policy needs at least one thing to grant' }]);
    expect(issuesOf(() => generatePermissionsPolicy(typical, { accountId: '1', partition: 'aws' })).map((i) => i.path)).toEqual(['ctx.accountId']);
    expect(issuesOf(() => generatePermissionsPolicy(typical, { accountId: ACCOUNT, partition: 'aws-iso' as 'aws' })).map((i) => i.path)).toEqual(['ctx.partition']);
  });

  it('uses an edited template and rejects an invalid one, naming the template', () => {
    const edited = BUILTIN_TEMPLATES['permissions.amp'].text.replace('"Sid": "AmpRemoteWrite"', '"Sid": "WriteMetrics"');
    expect(generatePermissionsPolicy(typical, { ...ctx, templates: { 'permissions.amp': edited } }).Statement[0]!.Sid).toBe('WriteMetrics');
    const broken = BUILTIN_TEMPLATES['permissions.amp'].text.replace('{{workspace_id}}', '{{workspace}}');
    const issues = issuesOf(() => generatePermissionsPolicy(typical, { ...ctx, templates: { 'permissions.amp': broken } }));
    expect(issues).toEqual([{ path: 'templates["permissions.amp"]', message: expect.stringContaining('unknown placeholder {{workspace}}') }]);
    const error = (() => {
      try {
        generatePermissionsPolicy(typical, { ...ctx, templates: { 'permissions.amp': broken } });
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/^cannot generate the IAM policy:\n {2}templates\["permissions.amp"\]: unknown placeholder/);
    // An edited template of a kind not in use is not looked at.
    expect(() => generatePermissionsPolicy(typical, { ...ctx, templates: { 'permissions.s3': 'not json' } })).not.toThrow();
  });
});

describe('mergeStatements', () => {
  const s = (extra: Partial<IamStatement>): IamStatement => ({ Sid: 'S', Effect: 'Allow', Action: 'x:Y', Resource: 'arn:aws:x:::a', ...extra });

  it('does not merge what would change the meaning', () => {
    // Different actions
    expect(mergeStatements([s({}), s({ Action: 'x:Z', Resource: 'arn:aws:x:::b' })])).toHaveLength(2);
    // Different resources and conditions at once
    expect(mergeStatements([s({ Condition: { StringEquals: { 'k:a': '1' } } }), s({ Resource: 'arn:aws:x:::b', Condition: { StringEquals: { 'k:a': '2' } } })])).toHaveLength(2);
    // Two condition keys differ
    expect(mergeStatements([s({ Condition: { StringEquals: { 'k:a': '1', 'k:b': '1' } } }), s({ Condition: { StringEquals: { 'k:a': '2', 'k:b': '2' } } })])).toHaveLength(2);
    // Negated and all-values operators are not unions
    expect(mergeStatements([s({ Condition: { StringNotEquals: { 'k:a': '1' } } }), s({ Condition: { StringNotEquals: { 'k:a': '2' } } })])).toHaveLength(2);
    expect(mergeStatements([s({ Condition: { 'ForAllValues:StringEquals': { 'k:a': '1' } } }), s({ Condition: { 'ForAllValues:StringEquals': { 'k:a': '2' } } })])).toHaveLength(2);
    // Allow and Deny
    expect(mergeStatements([s({}), s({ Effect: 'Deny', Resource: 'arn:aws:x:::b' })])).toHaveLength(2);
  });

  it('merges equal statements, resource lists and single any-of condition keys', () => {
    expect(mergeStatements([s({}), s({})])).toEqual([s({})]);
    expect(mergeStatements([s({ Action: ['x:A', 'x:B'] }), s({ Action: ['x:B', 'x:A'], Resource: 'arn:aws:x:::0' })])).toEqual([s({ Action: ['x:A', 'x:B'], Resource: ['arn:aws:x:::0', 'arn:aws:x:::a'] })]);
    expect(mergeStatements([s({ Condition: { 'ForAnyValue:StringLikeIfExists': { 'k:a': '1' } } }), s({ Condition: { 'ForAnyValue:StringLikeIfExists': { 'k:a': ['2', '1'] } } })])).toEqual([
      s({ Condition: { 'ForAnyValue:StringLikeIfExists': { 'k:a': ['1', '2'] } } }),
    ]);
  });
});

describe('generateTrustPolicy', () => {
  it('IRSA: normalises the issuer and scopes to the service account', () => {
    expect(oidcProviderFromIssuer('https://oidc.eks.us-east-1.amazonaws.com/id/ABC/')).toBe('oidc.eks.us-east-1.amazonaws.com/id/ABC');
    expect(oidcProviderFromIssuer('oidc.eks.us-east-1.amazonaws.com/id/ABC')).toBe('oidc.eks.us-east-1.amazonaws.com/id/ABC');
    expect(() => oidcProviderFromIssuer('http://oidc.example.com')).toThrow('must be https');
    const doc = generateTrustPolicy('irsa', { ...ctx, oidcIssuer: 'oidc.eks.us-east-1.amazonaws.com/id/ABC', namespace: 'fleet', serviceAccount: 'agent', audience: 'custom-aud' });
    expect(doc.Statement[0]!.Condition).toEqual({
      StringEquals: { 'oidc.eks.us-east-1.amazonaws.com/id/ABC:aud': 'custom-aud', 'oidc.eks.us-east-1.amazonaws.com/id/ABC:sub': 'system:serviceaccount:fleet:agent' },
    });
  });

  it('rejects bad parameters with their paths', () => {
    expect(
      issuesOf(() => generateTrustPolicy('irsa', { ...ctx, oidcIssuer: 'https://oidc.eks.cn-north-1.amazonaws.com.cn/id/X', namespace: 'Fleet', serviceAccount: 'a b' })).map((i) => [i.path, i.message]),
    ).toEqual([
      ['params.oidcIssuer', 'the cluster is in cn-north-1 (partition aws-cn), but the account 123456789012 is in aws'],
      ['params.namespace', 'not a Kubernetes namespace: lowercase letters, digits and -, at most 63 characters'],
      ['params.serviceAccount', 'not a Kubernetes service account name: lowercase letters, digits, - and ., at most 253 characters'],
    ]);
    const cross = issuesOf(() =>
      generateTrustPolicy('cross_account', { ...ctx, collectorRoleArns: ['arn:aws-cn:iam::111122223333:role/agent', 'arn:aws:iam::111122223333:user/bob'], externalId: 'x' }),
    );
    expect(cross.map((i) => i.path)).toEqual(['params.collectorRoleArns[0]', 'params.collectorRoleArns[1]', 'params.externalId']);
    expect(cross[0]!.message).toBe('the role arn:aws-cn:iam::111122223333:role/agent is in partition aws-cn, but the account 123456789012 is in aws; roles cannot be trusted across partitions');
    expect(cross[1]!.message).toContain('not an IAM role ARN: the resource must start with role/');
    expect(issuesOf(() => generateTrustPolicy('cross_account', { ...ctx, collectorRoleArns: [], externalId: 'abc' }))[0]!.message).toBe('name at least one role agents run as');
    expect(issuesOf(() => generateTrustPolicy('nope' as 'ec2', ctx))[0]!.message).toContain('unknown trust kind "nope"');
  });

  it('uses an edited trust template, and refuses one that drops the ExternalId', () => {
    const params = { ...ctx, collectorRoleArns: 'arn:aws:iam::111122223333:role/agent', externalId: 'fleet-abc' };
    const text = BUILTIN_TEMPLATES['trust.cross_account'].text;
    const withSourceIp = text.replace('"StringEquals": {', '"IpAddress": { "aws:SourceIp": "10.0.0.0/8" },\n          "StringEquals": {');
    expect(generateTrustPolicy('cross_account', { ...params, templates: { 'trust.cross_account': withSourceIp } }).Statement[0]!.Condition).toEqual({
      IpAddress: { 'aws:SourceIp': '10.0.0.0/8' },
      StringEquals: { 'sts:ExternalId': 'fleet-abc' },
    });
    const noExternalId = text.replace('"sts:ExternalId": "{{external_id}}"', '"aws:PrincipalAccount": "{{account_id}}"');
    expect(issuesOf(() => generateTrustPolicy('cross_account', { ...params, templates: { 'trust.cross_account': noExternalId } }))).toEqual([
      { path: 'templates["trust.cross_account"]', message: expect.stringContaining('trust.cross_account must use {{external_id}}') },
    ]);
  });
});

describe('generateAssumeRolePolicy', () => {
  it('allows sts:AssumeRole on exactly the writer roles', () => {
    const doc = generateAssumeRolePolicy({ partition: 'aws', targetRoleArns: ['arn:aws:iam::444455556666:role/w', 'arn:aws:iam::123456789012:role/w', 'arn:aws:iam::444455556666:role/w'] });
    expect(doc.Statement).toEqual([{ Sid: 'AssumeWriterRoles', Effect: 'Allow', Action: 'sts:AssumeRole', Resource: ['arn:aws:iam::123456789012:role/w', 'arn:aws:iam::444455556666:role/w'] }]);
    expect(issuesOf(() => generateAssumeRolePolicy({ partition: 'aws', targetRoleArns: [] }))[0]!.message).toBe('name at least one role to assume');
    expect(issuesOf(() => generateAssumeRolePolicy({ partition: 'aws', targetRoleArns: ['arn:aws-us-gov:iam::123456789012:role/w'] }))[0]!.message).toBe(
      'the role arn:aws-us-gov:iam::123456789012:role/w is in partition aws-us-gov, but agents run in aws',
    );
  });
});

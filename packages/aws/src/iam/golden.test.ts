/**
 * Golden tests: the generated documents are compared with committed JSON files under ./golden/.
 * After an intended change, regenerate them with
 *   UPDATE_GOLDEN=1 npx vitest run packages/aws/src/iam
 * and review the diff before committing.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkIamPolicy } from './check.js';
import { generateCliCommands } from './cli.js';
import type { IamDestination } from './destinations.js';
import { generateAssumeRolePolicy, generatePermissionsPolicy, generateTrustPolicy, type TemplateOverrides } from './generate.js';
import { BUILTIN_TEMPLATES, validateTemplate } from './templates.js';
import { IamGenerationError, type IamPolicyDocument, type IamPolicyKind } from './types.js';

const GOLDEN_DIR = fileURLToPath(new URL('./golden/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';

/** Compares `value` (as 2-space JSON) with golden/<name>.json, or writes it with UPDATE_GOLDEN=1. */
function expectGolden(name: string, value: unknown): void {
  const file = join(GOLDEN_DIR, `${name}.json`);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (UPDATE) {
    mkdirSync(GOLDEN_DIR, { recursive: true });
    writeFileSync(file, text);
    return;
  }
  if (!existsSync(file)) throw new Error(`missing golden file golden/${name}.json; create it with UPDATE_GOLDEN=1 npx vitest run packages/aws/src/iam`);
  expect(text, `golden/${name}.json differs from the generated document; if the change is intended, run UPDATE_GOLDEN=1 npx vitest run packages/aws/src/iam and review the diff`).toBe(
    readFileSync(file, 'utf8'),
  );
}

/** Every generated document must pass the structural check. */
function valid(doc: IamPolicyDocument, kind: IamPolicyKind): IamPolicyDocument {
  expect(checkIamPolicy(doc, { kind })).toEqual([]);
  return doc;
}

const ACCOUNT = '123456789012';
const AGENTS_ACCOUNT = '111122223333';
const WS = 'ws-12345678-abcd-4ef0-9a1b-1234567890ab';
const EXTERNAL_ID = 'fleet-7c1e0b5a2f9d4e8b';
const ISSUER = 'https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE';
const aws = { accountId: ACCOUNT, partition: 'aws' as const };
const amp = (region: string, suffix = 'amazonaws.com'): IamDestination => ({ kind: 'amp', url: `https://aps-workspaces.${region}.${suffix}/workspaces/${WS}/api/v1/remote_write` });

describe('golden: one permissions policy per destination kind', () => {
  const cases: Array<[string, IamDestination]> = [
    ['permissions-amp', amp('us-east-1')],
    ['permissions-cloudwatch-logs', { kind: 'cloudwatch_logs', region: 'eu-west-1', logGroup: '/fleet/agents', logStreamPrefix: 'node-' }],
    ['permissions-s3', { kind: 's3', bucket: 'example-telemetry', prefix: 'agents/logs/' }],
    ['permissions-firehose', { kind: 'firehose', region: 'us-west-2', deliveryStream: 'fleet-logs' }],
    ['permissions-kinesis', { kind: 'kinesis', region: 'us-west-2', stream: 'fleet-events' }],
    ['permissions-cloudwatch-metrics', { kind: 'cloudwatch_metrics', region: 'us-east-1', namespace: 'Fleet/Agents' }],
  ];
  for (const [name, destination] of cases) {
    it(name, () => expectGolden(name, valid(generatePermissionsPolicy([destination], aws), 'permissions')));
  }
});

describe('golden: one trust policy per kind', () => {
  it('trust-ec2', () => expectGolden('trust-ec2', valid(generateTrustPolicy('ec2', aws), 'trust')));
  it('trust-irsa', () => expectGolden('trust-irsa', valid(generateTrustPolicy('irsa', { ...aws, oidcIssuer: ISSUER, namespace: 'fleet', serviceAccount: 'fleet-agent' }), 'trust')));
  it('trust-pod-identity', () => expectGolden('trust-pod-identity', valid(generateTrustPolicy('pod_identity', { ...aws, namespace: 'fleet', serviceAccount: 'fleet-agent' }), 'trust')));
  it('trust-cross-account', () =>
    expectGolden(
      'trust-cross-account',
      valid(generateTrustPolicy('cross_account', { ...aws, collectorRoleArns: [`arn:aws:iam::${AGENTS_ACCOUNT}:role/fleet-agent-node`, `arn:aws:iam::${AGENTS_ACCOUNT}:role/fleet-agent-eks`], externalId: EXTERNAL_ID }), 'trust'),
    ));
});

describe('golden: scenarios', () => {
  it('typical Grafana Agent setup on EKS with IRSA: AMP remote write + CloudWatch Logs in one policy', () => {
    const permissions = valid(generatePermissionsPolicy([amp('us-east-1'), { kind: 'cloudwatch_logs', region: 'us-east-1', logGroup: '/aws/grafana-agent', logStreamPrefix: '' }], aws), 'permissions');
    const trust = valid(generateTrustPolicy('irsa', { ...aws, oidcIssuer: ISSUER, namespace: 'grafana-agent', serviceAccount: 'grafana-agent' }), 'trust');
    const cli = generateCliCommands({ roleName: 'GrafanaAgentEKSRole', policyName: 'GrafanaAgentWrite', trustPolicy: trust, permissionsPolicy: permissions });
    expectGolden('scenario-grafana-agent-typical', { permissions, trust, cli });
  });

  it('EC2 instance profile with its CLI commands', () => {
    const permissions = valid(generatePermissionsPolicy([amp('eu-central-1'), { kind: 'cloudwatch_metrics', region: 'eu-central-1', namespace: 'Fleet/Agents' }], aws), 'permissions');
    const trust = valid(generateTrustPolicy('ec2', aws), 'trust');
    expectGolden('scenario-ec2-cli', generateCliCommands({ roleName: 'fleet-agent-node', policyName: 'fleet-agent-write', trustPolicy: trust, permissionsPolicy: permissions, instanceProfile: true }));
  });

  it('cross-account: agents in one account assume a writer role (ExternalId) in the destination account', () => {
    const writerRole = `arn:aws:iam::${ACCOUNT}:role/fleet-writer`;
    const agentRolePermissions = valid(generateAssumeRolePolicy({ partition: 'aws', targetRoleArns: [writerRole] }), 'permissions');
    const writerTrust = valid(generateTrustPolicy('cross_account', { ...aws, collectorRoleArns: `arn:aws:iam::${AGENTS_ACCOUNT}:role/fleet-agent-eks`, externalId: EXTERNAL_ID }), 'trust');
    const writerPermissions = valid(
      generatePermissionsPolicy(
        [
          amp('us-east-1'),
          { kind: 'cloudwatch_logs', region: 'us-east-1', logGroup: '/fleet/agents' },
          // A bucket owned by a third account (its bucket policy must also allow the writer role).
          { kind: 's3', bucket: 'central-archive', prefix: `fleet/${ACCOUNT}/`, accountId: '444455556666' },
        ],
        aws,
      ),
      'permissions',
    );
    expectGolden('scenario-cross-account', { agentRolePermissions, writerTrust, writerPermissions });
  });

  it('aws-cn partition: arn:aws-cn, amazonaws.com.cn endpoints, ec2.amazonaws.com.cn', () => {
    const cn = { accountId: ACCOUNT, partition: 'aws-cn' as const };
    const permissions = valid(
      generatePermissionsPolicy([amp('cn-north-1', 'amazonaws.com.cn'), { kind: 'cloudwatch_logs', region: 'cn-northwest-1', logGroup: '/fleet/agents' }, { kind: 's3', bucket: 'fleet-cn' }], cn),
      'permissions',
    );
    const ec2 = valid(generateTrustPolicy('ec2', cn), 'trust');
    const irsa = valid(generateTrustPolicy('irsa', { ...cn, oidcIssuer: 'https://oidc.eks.cn-north-1.amazonaws.com.cn/id/EXAMPLED539D4633E53DE1B71EXAMPLE', namespace: 'fleet', serviceAccount: 'fleet-agent' }), 'trust');
    const cli = generateCliCommands({ roleName: 'fleet-agent-node', policyName: 'fleet-agent-write', trustPolicy: ec2, permissionsPolicy: permissions, instanceProfile: true, region: 'cn-north-1' });
    expect((ec2.Statement[0]!.Principal as { Service: string }).Service).toBe('ec2.amazonaws.com.cn');
    expectGolden('scenario-aws-cn', { permissions, ec2, irsa, cli });
  });

  it('aws-us-gov partition', () => {
    const gov = { accountId: ACCOUNT, partition: 'aws-us-gov' as const };
    const permissions = valid(
      generatePermissionsPolicy([amp('us-gov-west-1'), { kind: 'firehose', region: 'us-gov-east-1', deliveryStream: 'fleet-logs' }, { kind: 'kinesis', region: 'us-gov-west-1', stream: 'fleet-events' }], gov),
      'permissions',
    );
    const ec2 = valid(generateTrustPolicy('ec2', gov), 'trust');
    const crossAccount = valid(generateTrustPolicy('cross_account', { ...gov, collectorRoleArns: `arn:aws-us-gov:iam::${AGENTS_ACCOUNT}:role/fleet-agent-node`, externalId: EXTERNAL_ID }), 'trust');
    expectGolden('scenario-aws-us-gov', { permissions, ec2, crossAccount });
  });
});

describe('golden: edited templates', () => {
  // A KPL-style producer needs to read the shard map; the operator adds the two read actions.
  const kinesis = BUILTIN_TEMPLATES['permissions.kinesis'].text.replace('"kinesis:PutRecords"', '"kinesis:PutRecords",\n        "kinesis:ListShards",\n        "kinesis:DescribeStreamSummary"');
  // Remote write only through the VPC endpoint.
  const ampVpce = BUILTIN_TEMPLATES['permissions.amp'].text.replace(
    '"Resource": "arn:{{partition}}:aps:{{region}}:{{account_id}}:workspace/{{workspace_id}}"',
    '"Resource": "arn:{{partition}}:aps:{{region}}:{{account_id}}:workspace/{{workspace_id}}",\n      "Condition": { "StringEquals": { "aws:SourceVpce": "vpce-0a1b2c3d4e5f60718" } }',
  );
  // Pod Identity also pinned to one cluster.
  const podIdentity = BUILTIN_TEMPLATES['trust.pod_identity'].text.replace(
    '"aws:RequestTag/kubernetes-namespace"',
    '"aws:RequestTag/eks-cluster-name": "prod-eu",\n            "aws:RequestTag/kubernetes-namespace"',
  );
  const templates: TemplateOverrides = { 'permissions.kinesis': kinesis, 'permissions.amp': ampVpce, 'trust.pod_identity': podIdentity };

  it('valid edits are used instead of the built-ins', () => {
    for (const [key, text] of Object.entries(templates)) expect(validateTemplate(key, text!), key).toEqual({ ok: true, errors: [], warnings: [] });
    const permissions = valid(generatePermissionsPolicy([amp('us-east-1'), { kind: 'kinesis', region: 'us-east-1', stream: 'fleet-events' }], { ...aws, templates }), 'permissions');
    const trust = valid(generateTrustPolicy('pod_identity', { ...aws, namespace: 'fleet', serviceAccount: 'fleet-agent', templates }), 'trust');
    expectGolden('edited-templates', { permissions, trust });
  });

  it('invalid edits are rejected with messages naming the problem', () => {
    const reject = (key: keyof TemplateOverrides, text: string) => {
      try {
        if (key.startsWith('trust.')) generateTrustPolicy('pod_identity', { ...aws, namespace: 'fleet', serviceAccount: 'fleet-agent', templates: { [key]: text } });
        else generatePermissionsPolicy([amp('us-east-1')], { ...aws, templates: { [key]: text } });
      } catch (e) {
        expect(e).toBeInstanceOf(IamGenerationError);
        return (e as Error).message;
      }
      throw new Error('expected the edit to be rejected');
    };
    expect(reject('permissions.amp', ampVpce.replace('"aws:SourceVpce"', '"SourceVpce"'))).toContain(
      'templates["permissions.amp"]: Statement[0].Condition.StringEquals.SourceVpce: not a condition key: "SourceVpce"; keys look like prefix:name, e.g. sts:ExternalId',
    );
    expect(reject('permissions.amp', ampVpce.replace('{{workspace_id}}', '{{ws}}'))).toContain('unknown placeholder {{ws}} (line 8, column');
    expect(reject('permissions.amp', ampVpce.replace('"Effect": "Allow"', '"Effect": "Allow",'))).toMatch(/not valid JSON: expected a "quoted" key at line \d+, column \d+/);
    expect(reject('trust.pod_identity', podIdentity.replace('"pods.eks.amazonaws.com"', '"pods.eks"'))).toContain(
      'Statement[0].Principal.Service: not a service principal: "pods.eks"; e.g. ec2.amazonaws.com',
    );
  });
});

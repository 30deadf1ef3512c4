import { describe, expect, it } from 'vitest';
import { classifyResponse, type AwsErrorClass, type ClassifiedError } from './errors.js';
import { ampWorkspaceArn, imdsHopLimitCommand, remedyFor, type RemedyContext } from './remedies.js';

const ACCOUNT = '123456789012';
const WS = 'ws-12345678-abcd-4ef0-9a1b-1234567890ab';
const AMP_URL = `https://aps-workspaces.us-east-1.amazonaws.com/workspaces/${WS}/api/v1/remote_write`;
const WORKSPACE_ARN = `arn:aws:aps:us-east-1:${ACCOUNT}:workspace/${WS}`;
const CALLER = `arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-node/i-0123456789abcdef0`;
const CALLER_ROLE = `arn:aws:iam::${ACCOUNT}:role/fleet-agent-node`;

const amp: RemedyContext = { url: AMP_URL, service: 'aps', region: 'us-east-1', callerArn: CALLER };

function err(cls: AwsErrorClass, extra: Partial<ClassifiedError> = {}): ClassifiedError {
  return { class: cls, code: null, message: `a ${cls} message`, retryable: false, ...extra };
}

/** The policy statement a remedy spells out, parsed. */
function statementOf(remedy: string): { Effect: string; Action: string; Resource: string } {
  const m = /\{"Effect".*\}/.exec(remedy);
  expect(m, remedy).not.toBeNull();
  return JSON.parse(m![0]) as { Effect: string; Action: string; Resource: string };
}

describe('ampWorkspaceArn', () => {
  it('derives the workspace ARN from a remote-write or query URL', () => {
    expect(ampWorkspaceArn(AMP_URL, 'us-east-1', ACCOUNT)).toBe(WORKSPACE_ARN);
    expect(ampWorkspaceArn(`https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/${WS}/api/v1/query?query=up`, 'eu-west-1', ACCOUNT)).toBe(
      `arn:aws:aps:eu-west-1:${ACCOUNT}:workspace/${WS}`,
    );
    // VPC endpoint host names do not matter, only the path.
    expect(ampWorkspaceArn(`https://vpce-0abc-1234.aps-workspaces.us-east-1.vpce.amazonaws.com/workspaces/${WS}/api/v1/remote_write`, 'us-east-1', ACCOUNT)).toBe(WORKSPACE_ARN);
  });

  it('uses the partition of the region', () => {
    expect(ampWorkspaceArn(`https://aps-workspaces.cn-north-1.amazonaws.com.cn/workspaces/${WS}/api/v1/remote_write`, 'cn-north-1', ACCOUNT)).toBe(`arn:aws-cn:aps:cn-north-1:${ACCOUNT}:workspace/${WS}`);
    expect(ampWorkspaceArn(`https://aps-workspaces.us-gov-west-1.amazonaws.com/workspaces/${WS}/api/v1/remote_write`, 'us-gov-west-1', ACCOUNT)).toBe(
      `arn:aws-us-gov:aps:us-gov-west-1:${ACCOUNT}:workspace/${WS}`,
    );
  });

  it('is undefined without an account or without a workspace in the path', () => {
    expect(ampWorkspaceArn(AMP_URL, 'us-east-1', undefined)).toBeUndefined();
    expect(ampWorkspaceArn('https://prometheus.example.com/api/v1/write', 'us-east-1', ACCOUNT)).toBeUndefined();
    expect(ampWorkspaceArn(`https://aps-workspaces.us-east-1.amazonaws.com/workspaces/${WS}`, 'us-east-1', ACCOUNT)).toBeUndefined();
  });
});

describe('remedyFor', () => {
  it('access_denied: allows exactly the action on exactly the resource of the message, for the caller’s role', () => {
    const message = `User: ${CALLER} is not authorized to perform: aps:RemoteWrite on resource: ${WORKSPACE_ARN} because no identity-based policy allows the aps:RemoteWrite action`;
    const classified = classifyResponse(403, { 'x-amzn-errortype': 'AccessDeniedException' }, JSON.stringify({ message }));
    expect(classified).toMatchObject({ class: 'access_denied', action: 'aps:RemoteWrite', resource: WORKSPACE_ARN });
    const remedy = remedyFor(classified, amp);
    expect(remedy).toContain('"aps:RemoteWrite"');
    expect(remedy).toContain(WORKSPACE_ARN);
    // The principal is the role, not the session.
    expect(remedy).toContain(CALLER_ROLE);
    expect(remedy).not.toContain('i-0123456789abcdef0');
    expect(statementOf(remedy)).toEqual({ Effect: 'Allow', Action: 'aps:RemoteWrite', Resource: WORKSPACE_ARN });
  });

  it('access_denied without a resource in the message: derives the AMP workspace ARN (account from callerArn or roleArn)', () => {
    const message = `User: ${CALLER} is not authorized to perform: aps:RemoteWrite because no identity-based policy allows the aps:RemoteWrite action`;
    const classified = classifyResponse(403, { 'x-amzn-errortype': 'AccessDeniedException' }, JSON.stringify({ message }));
    expect(classified.resource).toBeUndefined();
    const remedy = remedyFor(classified, amp);
    expect(statementOf(remedy)).toEqual({ Effect: 'Allow', Action: 'aps:RemoteWrite', Resource: WORKSPACE_ARN });
    expect(remedy).toContain(CALLER_ROLE);

    // Caller unknown, role configured: account and principal from the role.
    const role = `arn:aws:iam::${ACCOUNT}:role/amp-writer`;
    const viaRole = remedyFor(err('access_denied'), { url: AMP_URL, service: 'aps', region: 'us-east-1', callerArn: null, roleArn: role });
    expect(statementOf(viaRole)).toEqual({ Effect: 'Allow', Action: 'aps:RemoteWrite', Resource: WORKSPACE_ARN });
    expect(viaRole).toContain(role);
  });

  it('access_denied from a bare 403: the service’s write action; "the destination" when no ARN can be derived', () => {
    const bare = classifyResponse(403, {}, 'Forbidden');
    expect(bare.class).toBe('access_denied');
    const noFacts = remedyFor(bare, { url: AMP_URL, service: 'aps', region: 'us-east-1' });
    expect(noFacts).toContain('"aps:RemoteWrite"');
    expect(noFacts).toContain('the destination');
    expect(noFacts).toContain('the role the agent runs as');
    expect(remedyFor(bare, { url: 'https://logs.us-east-1.amazonaws.com/', service: 'logs', region: 'us-east-1', callerArn: CALLER })).toContain('"logs:PutLogEvents"');
    expect(remedyFor(bare, { url: 'https://example.com/', service: 'execute-api', region: 'us-east-1' })).toContain('"execute-api:*"');
    // An IAM user caller is named as is.
    const userArn = `arn:aws:iam::${ACCOUNT}:user/fleet`;
    expect(remedyFor(bare, { ...amp, callerArn: userArn })).toContain(`attached to ${userArn}`);
  });

  it('region_mismatch names the signing region', () => {
    const classified = classifyResponse(403, { 'x-amzn-errortype': 'InvalidSignatureException' }, JSON.stringify({ message: "Credential should be scoped to a valid region, not 'us-east-1'. " }));
    expect(classified.class).toBe('region_mismatch');
    const remedy = remedyFor(classified, { url: `https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/${WS}/api/v1/remote_write`, service: 'aps', region: 'us-east-1' });
    expect(remedy).toContain('us-east-1');
    expect(remedy).toContain('sigv4.region');
  });

  // Regression test for a fixed bug (packages/aws/src/remedies.ts, case 'region_mismatch'): the remedy names only the
  // signing region (ctx.region) and says "the endpoint is in another region" without naming it,
  // although it is in the URL (aps-workspaces.<region>.amazonaws.com / logs.<region>.amazonaws.com).
  // Expected: both regions, e.g. "signed for us-east-1 … the endpoint is in eu-west-1".
  it('region_mismatch names both regions (the signing one and the endpoint’s)', () => {
    const remedy = remedyFor(err('region_mismatch'), { url: `https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/${WS}/api/v1/remote_write`, service: 'aps', region: 'us-east-1' });
    expect(remedy).toContain('us-east-1');
    expect(remedy).toContain('eu-west-1');
  });

  it('clock_skew: time sync (chrony / Amazon Time Sync) and the offset gauge', () => {
    const remedy = remedyFor(err('clock_skew'), amp);
    expect(remedy).toMatch(/time sync/i);
    expect(remedy).toContain('chrony');
    expect(remedy).toContain('169.254.169.123');
    expect(remedy).toContain('fleet_agent_aws_clock_offset_seconds');
  });

  it('no_credentials: instance profile (IMDSv2 hop limit), IRSA annotation and Pod Identity', () => {
    const remedy = remedyFor(err('no_credentials'), amp);
    expect(remedy).toContain('instance profile');
    expect(remedy).toContain('IMDSv2');
    expect(remedy).toContain('hop limit');
    expect(remedy).toContain('eks.amazonaws.com/role-arn');
    expect(remedy).toContain('IRSA');
    expect(remedy).toContain('Pod Identity');
  });

  // Regression: the IMDS command lacked --instance-id, which the AWS CLI requires.
  it('no_credentials: the IMDS command names the instance when known, a placeholder otherwise', () => {
    expect(remedyFor(err('no_credentials'), { ...amp, instanceId: 'i-0123456789abcdef0' })).toContain(
      'aws ec2 modify-instance-metadata-options --instance-id i-0123456789abcdef0 --http-tokens required --http-put-response-hop-limit 2',
    );
    expect(remedyFor(err('no_credentials'), amp)).toContain('--instance-id <instance-id> ');
    expect(imdsHopLimitCommand('i-0abc; rm -rf /')).toContain('--instance-id <instance-id> ');
  });

  it('network classes name the URL', () => {
    for (const cls of ['dns', 'connect', 'tls', 'timeout', 'not_found'] as const) {
      expect(remedyFor(err(cls), amp), cls).toContain(AMP_URL);
    }
    expect(remedyFor(err('dns'), amp)).toMatch(/resolve/);
    expect(remedyFor(err('connect'), amp)).toMatch(/security groups/);
    expect(remedyFor(err('tls'), amp)).toMatch(/CA/);
    expect(remedyFor(err('timeout'), amp)).toMatch(/remote_timeout/);
  });

  it('the other classes', () => {
    expect(remedyFor(err('signature_mismatch'), amp)).toContain('"aps"');
    expect(remedyFor(err('signature_mismatch'), amp)).toContain('us-east-1');
    expect(remedyFor(err('expired_token'), amp)).toMatch(/expired/);
    expect(remedyFor(err('invalid_token'), amp)).toMatch(/IRSA|instance role/);
    expect(remedyFor(err('throttled'), amp)).toMatch(/throttling/);
    expect(remedyFor(err('server_error'), amp)).toMatch(/retried/);
    expect(remedyFor(err('bad_request', { message: 'out of order sample' }), amp)).toContain('(out of order sample)');
    expect(remedyFor(err('unknown', { message: 'weird failure' }), amp)).toBe('weird failure');
  });

  it('every class yields a non-empty, single-line remedy', () => {
    const classes: AwsErrorClass[] = [
      'access_denied',
      'signature_mismatch',
      'clock_skew',
      'expired_token',
      'invalid_token',
      'region_mismatch',
      'throttled',
      'server_error',
      'bad_request',
      'not_found',
      'no_credentials',
      'dns',
      'connect',
      'tls',
      'timeout',
      'unknown',
    ];
    for (const cls of classes) {
      const remedy = remedyFor(err(cls), amp);
      expect(remedy.length, cls).toBeGreaterThan(0);
      expect(remedy, cls).not.toContain('\n');
      expect(remedy, cls).not.toContain('undefined');
    }
  });
});

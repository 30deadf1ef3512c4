import { describe, expect, it } from 'vitest';
import { checkIamPolicy, isConditionOperator, policySize, policySizeProblem } from './check.js';
import type { IamIssue } from './types.js';

const permissions = (statement: unknown, extra: Record<string, unknown> = {}) => ({ Version: '2012-10-17', Statement: statement, ...extra });
const ok = { Effect: 'Allow', Action: 'aps:RemoteWrite', Resource: 'arn:aws:aps:us-east-1:123456789012:workspace/ws-1' };
const trustOk = { Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' };

const perm = (doc: unknown) => checkIamPolicy(doc, { kind: 'permissions' });
const trust = (doc: unknown) => checkIamPolicy(doc, { kind: 'trust' });

/** Asserts exactly one problem at `path` whose message contains `message`. */
function expectOne(issues: IamIssue[], path: string, message: string) {
  expect(issues, JSON.stringify(issues)).toHaveLength(1);
  expect(issues[0]!.path).toBe(path);
  expect(issues[0]!.message).toContain(message);
}

describe('checkIamPolicy: document', () => {
  it('accepts well-formed permissions and trust documents, Statement as array or object', () => {
    expect(perm(permissions([ok]))).toEqual([]);
    expect(perm(permissions(ok))).toEqual([]);
    expect(perm(permissions([{ ...ok, Sid: 'A1', Action: ['aps:RemoteWrite', 'logs:Put*'], Resource: ['*'] }], { Id: 'x' }))).toEqual([]);
    expect(trust(permissions([trustOk]))).toEqual([]);
  });

  it('requires Version 2012-10-17 and a non-empty Statement', () => {
    expectOne(perm({ Statement: [ok] }), 'Version', 'missing; set "Version": "2012-10-17"');
    expectOne(perm({ Version: '2008-10-17', Statement: [ok] }), 'Version', 'must be "2012-10-17", got string "2008-10-17"');
    expectOne(perm({ Version: '2012-10-17' }), 'Statement', 'missing');
    expectOne(perm({ Version: '2012-10-17', Statement: [] }), 'Statement', 'must not be empty');
    expectOne(perm({ Version: '2012-10-17', Statement: 'x' }), 'Statement', 'must be a statement object or an array');
    expectOne(perm([ok]), '', 'a policy document must be a JSON object, got an array');
    expectOne(perm(permissions([ok], { Statements: [] })), 'Statements', 'unknown top-level key');
    expectOne(perm(permissions([ok], { version: 'x' })), 'version', 'did you mean "Version"?');
  });
});

describe('checkIamPolicy: statements', () => {
  it('Effect, Sid and unknown keys', () => {
    expectOne(perm(permissions([{ ...ok, Effect: 'allow' }])), 'Statement[0].Effect', 'must be "Allow" or "Deny", got string "allow"');
    expectOne(perm(permissions([{ Action: ok.Action, Resource: ok.Resource }])), 'Statement[0].Effect', 'missing');
    expectOne(perm(permissions([{ ...ok, Sid: 'Amp-Write' }])), 'Statement[0].Sid', 'only letters and digits');
    expectOne(perm(permissions([{ ...ok, Sid: 'A' }, { ...ok, Sid: 'A' }])), 'Statement[1].Sid', 'duplicate Sid "A" (also at Statement[0])');
    expectOne(perm(permissions([{ ...ok, Resources: '*' }])), 'Statement[0].Resources', 'unknown statement key');
    expectOne(perm(permissions([{ ...ok, action: 'x' }])), 'Statement[0].action', 'did you mean "Action"?');
    expectOne(perm(permissions(['x'])), 'Statement[0]', 'a statement must be a JSON object');
  });

  it('Action / NotAction: service:Action with a lowercase prefix', () => {
    expectOne(perm(permissions([{ ...ok, Action: undefined }])), 'Statement[0].Action', 'missing');
    expectOne(perm(permissions([{ ...ok, NotAction: 's3:*' }])), 'Statement[0].NotAction', 'either Action or NotAction');
    expectOne(perm(permissions([{ ...ok, Action: 'RemoteWrite' }])), 'Statement[0].Action', 'actions look like service:Action');
    expectOne(perm(permissions([{ ...ok, Action: ['aps:RemoteWrite', 'APS:RemoteWrite'] }])), 'Statement[0].Action[1]', 'must be lowercase (aps:RemoteWrite)');
    expectOne(perm(permissions([{ ...ok, Action: 'aps:Remote Write' }])), 'Statement[0].Action', 'may contain only letters, digits and the wildcards');
    expectOne(perm(permissions([{ ...ok, Action: [] }])), 'Statement[0].Action', 'must not be an empty array');
    expectOne(perm(permissions([{ ...ok, Action: ['aps:RemoteWrite', 'aps:RemoteWrite'] }])), 'Statement[0].Action[1]', 'duplicate value');
    expectOne(perm(permissions([{ ...ok, Action: ['aps:RemoteWrite', 3] }])), 'Statement[0].Action[1]', 'must be a string, got number 3');
    expect(perm(permissions([{ ...ok, Action: ['logs:Put*', 'logs:?utLogEvents', '*'] }]))).toEqual([]);
  });

  it('permissions: Resource ARN-shaped or "*", no Principal', () => {
    expectOne(perm(permissions([{ ...ok, Resource: undefined }])), 'Statement[0].Resource', 'missing');
    expectOne(perm(permissions([{ ...ok, NotResource: '*' }])), 'Statement[0].NotResource', 'either Resource or NotResource');
    expectOne(perm(permissions([{ ...ok, Resource: 'my-bucket' }])), 'Statement[0].Resource', 'not an ARN');
    expectOne(perm(permissions([{ ...ok, Resource: ['*', 'arn:aws:s3::bucket'] }])), 'Statement[0].Resource[1]', 'has 5 colon-separated parts; ARNs have 6');
    expectOne(perm(permissions([{ ...ok, Resource: 'arn:aws:s3:::' }])), 'Statement[0].Resource', 'resource part');
    expectOne(perm(permissions([{ ...ok, Principal: { AWS: '123456789012' } }])), 'Statement[0].Principal', 'has no Principal');
    expect(perm(permissions([{ ...ok, Resource: 'arn:aws:logs:us-east-1:123456789012:log-group:/a:log-stream:b*' }]))).toEqual([]);
  });

  it('trust: Principal required, no Resource, only sts: actions', () => {
    expectOne(trust(permissions([{ ...trustOk, Principal: undefined }])), 'Statement[0].Principal', 'missing');
    expectOne(trust(permissions([{ ...trustOk, Resource: '*' }])), 'Statement[0].Resource', 'a trust policy has no Resource');
    expectOne(trust(permissions([{ ...trustOk, Action: 's3:PutObject' }])), 'Statement[0].Action', 'only sts: actions');
    expectOne(trust(permissions([{ ...trustOk, Principal: '*' }])), 'Statement[0].Principal', 'any AWS principal');
    expectOne(trust(permissions([{ ...trustOk, Principal: { Services: 'ec2.amazonaws.com' } }])), 'Statement[0].Principal.Services', 'did you mean "Service"?');
    expectOne(trust(permissions([{ ...trustOk, Principal: { Service: 'ec2' } }])), 'Statement[0].Principal.Service', 'not a service principal');
    expectOne(trust(permissions([{ ...trustOk, Principal: { AWS: 'fleet-agent' } }])), 'Statement[0].Principal.AWS', 'not an AWS principal');
    expectOne(trust(permissions([{ ...trustOk, NotPrincipal: { AWS: '123456789012' }, Principal: undefined }])).slice(0, 1), 'Statement[0].NotPrincipal', 'not allowed in a trust policy');
    expect(trust(permissions([{ ...trustOk, Principal: { AWS: ['123456789012', 'arn:aws:iam::123456789012:role/x'], Service: ['ec2.amazonaws.com.cn'] } }]))).toEqual([]);
    expect(trust(permissions([{ ...trustOk, Principal: { Federated: 'arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/X' }, Action: 'sts:AssumeRoleWithWebIdentity' }]))).toEqual([]);
  });
});

describe('checkIamPolicy: conditions', () => {
  const withCondition = (Condition: unknown) => perm(permissions([{ ...ok, Condition }]));

  it('accepts known operators with IfExists and set prefixes, mapping keys to strings', () => {
    expect(withCondition({ StringEquals: { 'sts:ExternalId': 'x' }, ArnLike: { 'aws:SourceArn': ['arn:aws:s3:::*'] } })).toEqual([]);
    expect(withCondition({ StringLikeIfExists: { 'aws:userid': 'A*' }, 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['a', 'b'] }, 'ForAllValues:StringLike': { 'aws:TagKeys': 'x*' } })).toEqual([]);
    expect(withCondition({ Bool: { 'aws:SecureTransport': 'true' }, IpAddress: { 'aws:SourceIp': '10.0.0.0/8' }, NumericLessThan: { 's3:max-keys': '10' }, Null: { 'aws:TokenIssueTime': 'false' } })).toEqual([]);
    for (const op of ['StringEquals', 'StringNotEqualsIfExists', 'ForAllValues:ArnLike', 'ForAnyValue:StringLikeIfExists', 'DateGreaterThan', 'Null']) expect(isConditionOperator(op), op).toBe(true);
    for (const op of ['StringEqual', 'stringequals', 'NullIfExists', 'ForAllValues:Null', 'ForSomeValues:StringEquals', 'IfExists']) expect(isConditionOperator(op), op).toBe(false);
  });

  it('rejects unknown operators (suggesting the right case), bad keys and non-string values', () => {
    expectOne(withCondition({ StringEqual: { 'sts:ExternalId': 'x' } }), 'Statement[0].Condition.StringEqual', 'unknown condition operator "StringEqual"; did you mean StringEquals?');
    expectOne(withCondition({ stringequals: { 'sts:ExternalId': 'x' } }), 'Statement[0].Condition.stringequals', 'did you mean StringEquals?');
    expectOne(withCondition({ StringEquals: { ExternalId: 'x' } }), 'Statement[0].Condition.StringEquals.ExternalId', 'not a condition key');
    expectOne(withCondition({ Bool: { 'aws:SecureTransport': true } }), 'Statement[0].Condition.Bool["aws:SecureTransport"]', 'must be a string or an array of strings, got boolean true');
    expectOne(withCondition({ StringEquals: { 'sts:ExternalId': [] } }), 'Statement[0].Condition.StringEquals["sts:ExternalId"]', 'must not be an empty array');
    expectOne(withCondition({ StringEquals: {} }), 'Statement[0].Condition.StringEquals', 'at least one condition key');
    expectOne(withCondition({}), 'Statement[0].Condition', 'must not be empty');
    expectOne(withCondition('x'), 'Statement[0].Condition', 'must be an object mapping operators');
  });

  it('reports every problem of a document at once', () => {
    const issues = perm({ Version: '2012-10-17', Statement: [{ Effect: 'Permit', Action: 'S3:PutObject', Resource: 'bucket', Principal: '*' }] });
    expect(issues.map((i) => i.path)).toEqual(['Statement[0].Effect', 'Statement[0].Action', 'Statement[0].Principal', 'Statement[0].Resource']);
  });
});

describe('policySizeProblem', () => {
  it('measures compact JSON and names the quota when a document is too large', () => {
    const doc = permissions([ok]);
    expect(policySize(doc)).toBe(JSON.stringify(doc).length);
    expect(policySizeProblem(doc, 'permissions')).toBeUndefined();
    const many = permissions([{ ...trustOk, Principal: { AWS: Array.from({ length: 60 }, (_, i) => `arn:aws:iam::123456789012:role/agent-${i}`) } }]);
    expect(policySizeProblem(many, 'trust')).toMatch(/^the trust policy has \d+ characters; IAM accepts 2048 by default/);
    const huge = permissions([{ ...ok, Resource: Array.from({ length: 200 }, (_, i) => `arn:aws:aps:us-east-1:123456789012:workspace/ws-${i}`) }]);
    expect(policySizeProblem(huge, 'permissions')).toContain('at most 10240 for all inline policies of a role together');
  });
});

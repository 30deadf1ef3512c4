import { formatJsonPath, type IamIssue, type IamPolicyKind } from './types.js';
import { distance as levenshtein } from 'fastest-levenshtein';

/** The condition operators IAM knows, without the `IfExists` suffix and set prefixes. */
export const IAM_CONDITION_OPERATORS: readonly string[] = [
  'StringEquals',
  'StringNotEquals',
  'StringEqualsIgnoreCase',
  'StringNotEqualsIgnoreCase',
  'StringLike',
  'StringNotLike',
  'NumericEquals',
  'NumericNotEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateNotEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'BinaryEquals',
  'IpAddress',
  'NotIpAddress',
  'ArnEquals',
  'ArnLike',
  'ArnNotEquals',
  'ArnNotLike',
  'Null',
];

const OPERATORS = new Set(IAM_CONDITION_OPERATORS);
const STATEMENT_KEYS = ['Sid', 'Effect', 'Principal', 'NotPrincipal', 'Action', 'NotAction', 'Resource', 'NotResource', 'Condition'];
const DOCUMENT_KEYS = ['Version', 'Id', 'Statement'];
const PRINCIPAL_KEYS = ['Service', 'AWS', 'Federated', 'CanonicalUser'];

/** True for a condition operator IAM accepts: a known one, optionally `…IfExists` and/or `ForAllValues:`/`ForAnyValue:` (not for `Null`). */
export function isConditionOperator(operator: string): boolean {
  const set = /^(ForAllValues|ForAnyValue):/.exec(operator);
  let base = set ? operator.slice(set[0].length) : operator;
  const ifExists = base.endsWith('IfExists');
  if (ifExists) base = base.slice(0, -'IfExists'.length);
  if (base === 'Null') return !set && !ifExists;
  return OPERATORS.has(base);
}

type Path = (string | number)[];

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const describe = (v: unknown): string => (v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`);


function suggestKey(key: string, allowed: readonly string[]): string {
  const lower = key.toLowerCase();
  const match = allowed.find((k) => k.toLowerCase() === lower) ?? allowed.find((k) => k.length > 3 && levenshtein(k.toLowerCase(), lower) <= 2);
  return match ? `; did you mean ${JSON.stringify(match)}?` : ` (allowed: ${allowed.join(', ')})`;
}

/**
 * Checks the structure of an IAM policy document the way IAM's parser would reject it, plus the rules
 * that keep generated documents unambiguous. Returns every problem, each with a JSON path
 * (`Statement[1].Condition.StringEquals`, empty for the whole document); an empty list means the
 * document is well-formed. It does not judge whether the grants are wise (see the template warnings).
 *
 * Rules: `Version` is `"2012-10-17"`; only `Version`, `Id`, `Statement` at the top; `Statement` is a
 * statement or a non-empty array of them; each statement has only the known keys, `Effect`
 * `Allow`/`Deny`, a `Sid` (optional) of letters and digits unique in the document, exactly one of
 * `Action`/`NotAction` with `service:Action` strings (lowercase service, `*`/`?` wildcards) or `*`;
 * permissions statements have exactly one of `Resource`/`NotResource` with ARN-shaped values
 * (`arn:` + 6 parts) or `*`, and no principal; trust statements have a `Principal` object
 * (`Service`/`AWS`/`Federated`/`CanonicalUser`), no `NotPrincipal`, no resource, and only `sts:` actions;
 * `Condition` maps known operators (with `IfExists` and `ForAllValues:`/`ForAnyValue:`) to objects
 * mapping `prefix:key` names to a string or a non-empty array of strings.
 */
export function checkIamPolicy(doc: unknown, options: { kind: IamPolicyKind }): IamIssue[] {
  const issues: IamIssue[] = [];
  const add = (path: Path, message: string) => issues.push({ path: formatJsonPath(path), message });
  if (!isObject(doc)) {
    add([], `a policy document must be a JSON object, got ${describe(doc)}`);
    return issues;
  }
  for (const key of Object.keys(doc)) if (!DOCUMENT_KEYS.includes(key)) add([key], `unknown top-level key${suggestKey(key, DOCUMENT_KEYS)}`);
  if (doc.Version === undefined) add(['Version'], 'missing; set "Version": "2012-10-17" (without it IAM uses 2008-10-17, which has no policy variables)');
  else if (doc.Version !== '2012-10-17') add(['Version'], `must be "2012-10-17", got ${describe(doc.Version)}`);
  if (doc.Id !== undefined && typeof doc.Id !== 'string') add(['Id'], `must be a string, got ${describe(doc.Id)}`);

  const statement = doc.Statement;
  let statements: Array<[Path, unknown]>;
  if (statement === undefined) {
    add(['Statement'], 'missing; a policy needs at least one statement');
    statements = [];
  } else if (Array.isArray(statement)) {
    if (statement.length === 0) add(['Statement'], 'must not be empty; a policy needs at least one statement');
    statements = statement.map((s, i) => [['Statement', i], s]);
  } else if (isObject(statement)) {
    statements = [[['Statement'], statement]];
  } else {
    add(['Statement'], `must be a statement object or an array of them, got ${describe(statement)}`);
    statements = [];
  }

  const sids = new Map<string, string>();
  for (const [path, s] of statements) {
    if (!isObject(s)) {
      add(path, `a statement must be a JSON object, got ${describe(s)}`);
      continue;
    }
    checkStatement(s, path, options.kind, add);
    if (typeof s.Sid === 'string' && s.Sid !== '') {
      const first = sids.get(s.Sid);
      if (first !== undefined) add([...path, 'Sid'], `duplicate Sid ${JSON.stringify(s.Sid)} (also at ${first}); Sids must be unique in a policy`);
      else sids.set(s.Sid, formatJsonPath(path));
    }
  }
  return issues;
}

function checkStatement(s: Record<string, unknown>, path: Path, kind: IamPolicyKind, add: (path: Path, message: string) => void): void {
  for (const key of Object.keys(s)) if (!STATEMENT_KEYS.includes(key)) add([...path, key], `unknown statement key${suggestKey(key, STATEMENT_KEYS)}`);

  if (s.Sid !== undefined && (typeof s.Sid !== 'string' || !/^[A-Za-z0-9]*$/.test(s.Sid))) {
    add([...path, 'Sid'], `must contain only letters and digits (A-Z, a-z, 0-9), got ${describe(s.Sid)}`);
  }
  if (s.Effect === undefined) add([...path, 'Effect'], 'missing; use "Allow" or "Deny"');
  else if (s.Effect !== 'Allow' && s.Effect !== 'Deny') add([...path, 'Effect'], `must be "Allow" or "Deny", got ${describe(s.Effect)}`);

  // Action / NotAction
  if (s.Action !== undefined && s.NotAction !== undefined) add([...path, 'NotAction'], 'use either Action or NotAction, not both');
  else if (s.Action === undefined && s.NotAction === undefined) add([...path, 'Action'], 'missing; a statement needs Action (or NotAction)');
  for (const key of ['Action', 'NotAction'] as const) {
    if (s[key] === undefined) continue;
    for (const [p, value] of stringList(s[key], [...path, key], add)) {
      const problem = actionProblem(value);
      if (problem) add(p, problem);
      else if (kind === 'trust' && value !== '*' && !value.startsWith('sts:')) add(p, `a trust policy allows only sts: actions (sts:AssumeRole, sts:AssumeRoleWithWebIdentity, sts:TagSession, …), got ${JSON.stringify(value)}`);
    }
  }

  if (kind === 'permissions') {
    for (const key of ['Principal', 'NotPrincipal'] as const) {
      if (s[key] !== undefined) add([...path, key], `a permissions (identity-based) policy has no ${key}; principals belong in the role's trust policy`);
    }
    if (s.Resource !== undefined && s.NotResource !== undefined) add([...path, 'NotResource'], 'use either Resource or NotResource, not both');
    else if (s.Resource === undefined && s.NotResource === undefined) add([...path, 'Resource'], 'missing; a permissions statement needs Resource (an ARN or "*")');
    for (const key of ['Resource', 'NotResource'] as const) {
      if (s[key] === undefined) continue;
      for (const [p, value] of stringList(s[key], [...path, key], add)) {
        const problem = resourceProblem(value);
        if (problem) add(p, problem);
      }
    }
  } else {
    for (const key of ['Resource', 'NotResource'] as const) {
      if (s[key] !== undefined) add([...path, key], `a trust policy has no ${key}: the resource is the role itself`);
    }
    if (s.NotPrincipal !== undefined) add([...path, 'NotPrincipal'], 'not allowed in a trust policy; name who may assume the role in Principal');
    if (s.Principal === undefined) add([...path, 'Principal'], 'missing; a trust policy statement names who may assume the role (Service, AWS or Federated)');
    else checkPrincipal(s.Principal, [...path, 'Principal'], add);
  }

  if (s.Condition !== undefined) checkCondition(s.Condition, [...path, 'Condition'], add);
}

/** The strings of a string-or-array value, each with its path; reports anything else. */
function stringList(value: unknown, path: Path, add: (path: Path, message: string) => void): Array<[Path, string]> {
  if (typeof value === 'string') return [[path, value]];
  if (!Array.isArray(value)) {
    add(path, `must be a string or an array of strings, got ${describe(value)}`);
    return [];
  }
  if (value.length === 0) add(path, 'must not be an empty array');
  const out: Array<[Path, string]> = [];
  const seen = new Set<string>();
  value.forEach((v, i) => {
    if (typeof v !== 'string') add([...path, i], `must be a string, got ${describe(v)}`);
    else if (seen.has(v)) add([...path, i], `duplicate value ${JSON.stringify(v)}`);
    else {
      seen.add(v);
      out.push([[...path, i], v]);
    }
  });
  return out;
}

function actionProblem(action: string): string | undefined {
  if (action === '*') return undefined;
  const m = /^([^:]*):(.*)$/.exec(action);
  if (!m) return `not an action: ${JSON.stringify(action)}; actions look like service:Action, e.g. aps:RemoteWrite`;
  const [, service = '', name = ''] = m;
  if (service === '') return `the service prefix of ${JSON.stringify(action)} is empty`;
  if (/[A-Z]/.test(service) && /^[A-Za-z0-9-]+$/.test(service)) return `the service prefix of ${JSON.stringify(action)} must be lowercase (${service.toLowerCase()}:${name})`;
  if (!/^[a-z0-9-]+$/.test(service)) return `the service prefix of ${JSON.stringify(action)} may contain only lowercase letters, digits and -`;
  if (!/^[A-Za-z0-9*?]+$/.test(name)) return `the action name of ${JSON.stringify(action)} may contain only letters, digits and the wildcards * and ?`;
  return undefined;
}

function resourceProblem(resource: string): string | undefined {
  if (resource === '*') return undefined;
  if (!resource.startsWith('arn:')) return `not an ARN: ${JSON.stringify(resource)}; use an ARN (arn:partition:service:region:account:resource) or "*"`;
  const parts = resource.split(':');
  if (parts.length < 6) return `not an ARN: ${JSON.stringify(resource)} has ${parts.length} colon-separated parts; ARNs have 6 (arn:partition:service:region:account:resource)`;
  if (parts[1] === '') return `the partition of ${JSON.stringify(resource)} is empty`;
  if (parts[2] === '') return `the service of ${JSON.stringify(resource)} is empty`;
  if (parts.slice(5).join(':') === '') return `the resource part of ${JSON.stringify(resource)} is empty`;
  if (resource !== resource.trim()) return `${JSON.stringify(resource)} has leading or trailing whitespace`;
  return undefined;
}

function checkPrincipal(principal: unknown, path: Path, add: (path: Path, message: string) => void): void {
  if (principal === '*') {
    add(path, '"*" lets any AWS principal assume the role; name the service, role or identity provider');
    return;
  }
  if (!isObject(principal)) {
    add(path, `must be an object with Service, AWS or Federated, got ${describe(principal)}`);
    return;
  }
  const keys = Object.keys(principal);
  if (keys.length === 0) add(path, 'must name at least one of Service, AWS or Federated');
  for (const key of keys) {
    if (!PRINCIPAL_KEYS.includes(key)) {
      add([...path, key], `unknown principal type${suggestKey(key, PRINCIPAL_KEYS)}`);
      continue;
    }
    for (const [p, value] of stringList(principal[key], [...path, key], add)) {
      if (value.trim() === '') add(p, 'must not be empty');
      else if (value === '*') add(p, '"*" lets anyone assume the role; name the principal');
      else if (key === 'Service' && !/^[a-z0-9.-]+\.amazonaws\.com(\.cn)?$/.test(value)) add(p, `not a service principal: ${JSON.stringify(value)}; e.g. ec2.amazonaws.com`);
      else if (key === 'AWS' && !/^\d{12}$/.test(value) && !/^arn:[a-z-]+:(iam|sts)::\d{12}:\S+$/.test(value)) add(p, `not an AWS principal: ${JSON.stringify(value)}; use a role ARN (arn:aws:iam::123456789012:role/name) or an account id`);
      else if (key === 'Federated' && /\s/.test(value)) add(p, `not a federated principal: ${JSON.stringify(value)} contains whitespace`);
    }
  }
}

function checkCondition(condition: unknown, path: Path, add: (path: Path, message: string) => void): void {
  if (!isObject(condition)) {
    add(path, `must be an object mapping operators (StringEquals, …) to keys, got ${describe(condition)}`);
    return;
  }
  if (Object.keys(condition).length === 0) add(path, 'must not be empty; remove Condition or add an operator');
  for (const [operator, block] of Object.entries(condition)) {
    const p = [...path, operator];
    if (!isConditionOperator(operator)) {
      const base = operator.replace(/^(ForAllValues|ForAnyValue):/, '').replace(/IfExists$/, '');
      const close = IAM_CONDITION_OPERATORS.find((o) => o.toLowerCase() === base.toLowerCase()) ?? IAM_CONDITION_OPERATORS.find((o) => levenshtein(o.toLowerCase(), base.toLowerCase()) <= 2);
      add(p, `unknown condition operator ${JSON.stringify(operator)}${close ? `; did you mean ${close}?` : ' (e.g. StringEquals, StringLike, ArnLike, Bool, IpAddress, NumericLessThan; with IfExists or ForAllValues:/ForAnyValue:)'}`);
      continue;
    }
    if (!isObject(block)) {
      add(p, `must be an object mapping condition keys to values, got ${describe(block)}`);
      continue;
    }
    if (Object.keys(block).length === 0) add(p, 'must name at least one condition key');
    for (const [key, value] of Object.entries(block)) {
      if (!/^[^\s:]+:\S+$/.test(key)) add([...p, key], `not a condition key: ${JSON.stringify(key)}; keys look like prefix:name, e.g. sts:ExternalId`);
      stringList(value, [...p, key], add);
    }
  }
}

/**
 * IAM's size quotas in characters (whitespace outside strings not counted): all inline policies of
 * a role together (10,240), and a role trust policy (2,048 by default; the quota can be raised to 4,096).
 */
export const IAM_POLICY_SIZE_LIMITS: Readonly<Record<IamPolicyKind, number>> = Object.freeze({ permissions: 10_240, trust: 2_048 });

/** The size IAM counts for a document: its compact JSON, without whitespace outside strings. */
export function policySize(doc: unknown): number {
  return JSON.stringify(doc).length;
}

/** A sentence when a document is larger than IAM accepts for its kind ({@link IAM_POLICY_SIZE_LIMITS}), else undefined. */
export function policySizeProblem(doc: unknown, kind: IamPolicyKind): string | undefined {
  const size = policySize(doc);
  const limit = IAM_POLICY_SIZE_LIMITS[kind];
  if (size <= limit) return undefined;
  return kind === 'permissions'
    ? `the policy has ${size} characters; IAM accepts at most ${limit} for all inline policies of a role together: split the destinations over several roles or use a managed policy (6,144 characters each)`
    : `the trust policy has ${size} characters; IAM accepts ${limit} by default (up to 4,096 after a quota increase): trust fewer principals`;
}

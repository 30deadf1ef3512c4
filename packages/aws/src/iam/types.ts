/** A value IAM accepts as one string or a list of them. */
export type OneOrMany<T> = T | T[];

/** `Condition`: operator (`StringEquals`) → condition key (`sts:ExternalId`) → value(s). */
export type IamCondition = Record<string, Record<string, OneOrMany<string>>>;

/** `Principal` of a trust policy statement. */
export interface IamPrincipal {
  Service?: OneOrMany<string>;
  AWS?: OneOrMany<string>;
  Federated?: OneOrMany<string>;
  CanonicalUser?: OneOrMany<string>;
}

/** One statement of an IAM policy document, as generated (keys in IAM's conventional order). */
export interface IamStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: IamPrincipal;
  Action?: OneOrMany<string>;
  NotAction?: OneOrMany<string>;
  Resource?: OneOrMany<string>;
  NotResource?: OneOrMany<string>;
  Condition?: IamCondition;
}

/** An IAM policy document (`{"Version":"2012-10-17","Statement":[…]}`), permissions or trust. */
export interface IamPolicyDocument {
  Version: '2012-10-17';
  Id?: string;
  Statement: IamStatement[];
}

/** Whether a document is an identity-based permissions policy or a role trust policy. */
export type IamPolicyKind = 'permissions' | 'trust';

/** One problem found in a document or in input: where (`Statement[0].Action[1]`, empty for the whole) and what. */
export interface IamIssue {
  path: string;
  message: string;
}

/** `['Statement', 0, 'Condition', 'StringEquals', 'sts:ExternalId']` → `Statement[0].Condition.StringEquals["sts:ExternalId"]`. */
export function formatJsonPath(path: readonly (string | number)[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/**
 * Input the generators cannot turn into a document (a destination that is not what it claims, a
 * region of another partition, an invalid edited template). `issues` has one entry per problem, with
 * the input path (`destinations[1].url`, `templates["trust.irsa"]`); the message lists them one per line.
 */
export class IamGenerationError extends Error {
  override readonly name = 'IamGenerationError';
  constructor(
    readonly issues: IamIssue[],
    headline = 'cannot generate the IAM policy',
  ) {
    super(`${headline}:\n${issues.map((i) => `  ${i.path ? `${i.path}: ` : ''}${i.message}`).join('\n')}`);
  }
}

import { isKnownRegion, notARegionMessage } from '../regions.js';
import { checkIamPolicy } from './check.js';
import { IamGenerationError, type IamIssue, type IamPolicyDocument } from './types.js';

/**
 * Quotes one argument for a POSIX shell (sh, bash, zsh): words of safe characters stay as they are,
 * anything else is wrapped in single quotes, a single quote inside becoming `'\''`. The shell
 * passes the exact string to the command, whatever it contains.
 */
export function shellQuote(value: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Input of {@link generateCliCommands}. */
export interface CliCommandsInput {
  /** Name of the role (letters, digits and + = , . @ _ -, at most 64). */
  roleName: string;
  trustPolicy: IamPolicyDocument;
  permissionsPolicy: IamPolicyDocument;
  /** Name of the inline policy (at most 128 of the same characters). */
  policyName: string;
  /** For EC2: also create an instance profile and add the role to it. */
  instanceProfile?: boolean | undefined;
  /** Instance profile name; default the role name. */
  instanceProfileName?: string | undefined;
  /** Role path, default `/`. */
  path?: string | undefined;
  /** Role description. */
  description?: string | undefined;
  /** `--region` for every command: needed to reach IAM in aws-cn (cn-north-1) and aws-us-gov. */
  region?: string | undefined;
  /** `update`: the role exists; replace its trust policy (update-assume-role-policy) and inline policy. Default `create`. */
  mode?: 'create' | 'update' | undefined;
}

/** One step of the setup: what it does, and the command line. */
export interface CliCommand {
  title: string;
  command: string;
}

const IAM_NAME = /^[\w+=,.@-]+$/;

/**
 * The `aws iam …` commands that create (or update) the role with its trust policy and inline
 * permissions policy: `create-role --role-name … --assume-role-policy-document '…'` (or
 * `update-assume-role-policy`), `put-role-policy`, and with `instanceProfile` (EC2)
 * `create-instance-profile` + `add-role-to-instance-profile`. Documents are inlined as compact JSON;
 * every argument is shell-quoted ({@link shellQuote}), so values with quotes or spaces are passed intact.
 * Throws {@link IamGenerationError} for invalid names or documents that fail {@link checkIamPolicy}.
 */
export function generateCliCommands(input: CliCommandsInput): CliCommand[] {
  const issues: IamIssue[] = [];
  const name = (field: keyof CliCommandsInput, value: unknown, max: number) => {
    if (typeof value !== 'string' || value.length === 0 || value.length > max || !IAM_NAME.test(value)) {
      issues.push({ path: field, message: `must be 1 to ${max} letters, digits and + = , . @ _ -` });
    }
  };
  name('roleName', input.roleName, 64);
  name('policyName', input.policyName, 128);
  const profileName = input.instanceProfileName ?? input.roleName;
  if (input.instanceProfile) name('instanceProfileName', profileName, 128);
  if (input.path !== undefined && (input.path.length > 512 || !/^\/(?:[\x21-\x7e]*\/)?$/.test(input.path))) issues.push({ path: 'path', message: 'must be / or /segments/ of printable characters' });
  if (input.description !== undefined && input.description.length > 1000) issues.push({ path: 'description', message: 'at most 1000 characters' });
  if (input.region !== undefined && !isKnownRegion(input.region)) issues.push({ path: 'region', message: notARegionMessage(input.region) });
  for (const [field, doc, kind] of [
    ['trustPolicy', input.trustPolicy, 'trust'],
    ['permissionsPolicy', input.permissionsPolicy, 'permissions'],
  ] as const) {
    for (const p of checkIamPolicy(doc, { kind })) issues.push({ path: `${field}${p.path ? `.${p.path}` : ''}`, message: p.message });
  }
  if (issues.length > 0) throw new IamGenerationError(issues, 'cannot generate the CLI commands');

  const region = input.region ? ['--region', input.region] : [];
  const line = (...args: string[]) => ['aws', 'iam', ...args, ...region].map(shellQuote).join(' ');
  const trust = JSON.stringify(input.trustPolicy);
  const permissions = JSON.stringify(input.permissionsPolicy);
  const commands: CliCommand[] = [];
  if (input.mode === 'update') {
    commands.push({ title: `Replace the trust policy of ${input.roleName}`, command: line('update-assume-role-policy', '--role-name', input.roleName, '--policy-document', trust) });
  } else {
    const extra = [...(input.path ? ['--path', input.path] : []), ...(input.description ? ['--description', input.description] : [])];
    commands.push({ title: `Create the role ${input.roleName} with its trust policy`, command: line('create-role', '--role-name', input.roleName, ...extra, '--assume-role-policy-document', trust) });
  }
  commands.push({
    title: `${input.mode === 'update' ? 'Replace' : 'Attach'} the inline permissions policy ${input.policyName}`,
    command: line('put-role-policy', '--role-name', input.roleName, '--policy-name', input.policyName, '--policy-document', permissions),
  });
  if (input.instanceProfile && input.mode !== 'update') {
    const extra = input.path ? ['--path', input.path] : [];
    commands.push({ title: `Create the instance profile ${profileName}`, command: line('create-instance-profile', '--instance-profile-name', profileName, ...extra) });
    commands.push({ title: `Add the role to the instance profile ${profileName}`, command: line('add-role-to-instance-profile', '--instance-profile-name', profileName, '--role-name', input.roleName) });
  }
  return commands;
}

/** The commands as one POSIX shell script (`set -eu`, each step preceded by a `# title` comment). */
export function cliScript(commands: readonly CliCommand[]): string {
  return `#!/bin/sh\nset -eu\n${commands.map((c) => `\n# ${c.title.replace(/[\r\n]+/g, ' ')}\n${c.command}\n`).join('')}`;
}

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { cliScript, generateCliCommands, shellQuote } from './cli.js';
import { generatePermissionsPolicy, generateTrustPolicy } from './generate.js';
import { IamGenerationError } from './types.js';

const ctx = { accountId: '123456789012', partition: 'aws' as const };
const trustPolicy = generateTrustPolicy('ec2', ctx);
// S3 keys may contain single quotes; the JSON carries it, the shell quoting must too.
const permissionsPolicy = generatePermissionsPolicy([{ kind: 's3', bucket: 'telemetry', prefix: "it's/\"logs\" $HOME `x` \\n/" }], ctx);

/** The arguments a POSIX shell passes for a command line (each printed NUL-terminated by printf). */
function shellArgs(commandLine: string): string[] {
  const out = execFileSync('/bin/sh', ['-c', `set -- ${commandLine}; printf '%s\\0' "$@"`], { encoding: 'utf8' });
  return out.split('\0').slice(0, -1);
}

describe('shellQuote', () => {
  it('leaves safe words alone and single-quotes the rest', () => {
    expect(shellQuote('fleet-writer')).toBe('fleet-writer');
    expect(shellQuote('a=b,c@d+e:f/g.h_i')).toBe('a=b,c@d+e:f/g.h_i');
    expect(shellQuote('')).toBe("''");
    expect(shellQuote('a b')).toBe("'a b'");
    expect(shellQuote("it's")).toBe("'it'\\''s'");
  });

  it('round-trips any string through a real shell', () => {
    for (const value of ["it's", "''", 'a"b', '$HOME `id` $(id)', 'back\\slash\nnew line', '*', '~', '!x', '{"a":"b\'c"}', 'é€']) {
      expect(shellArgs(shellQuote(value)), value).toEqual([value]);
    }
  });
});

describe('generateCliCommands', () => {
  it('creates the role, puts the inline policy and, for EC2, the instance profile', () => {
    const commands = generateCliCommands({ roleName: 'fleet-agent', trustPolicy, permissionsPolicy, policyName: 'fleet-agent-write', instanceProfile: true });
    expect(commands.map((c) => c.command.split(' ').slice(0, 3).join(' '))).toEqual([
      'aws iam create-role',
      'aws iam put-role-policy',
      'aws iam create-instance-profile',
      'aws iam add-role-to-instance-profile',
    ]);
    expect(commands[2]!.command).toBe('aws iam create-instance-profile --instance-profile-name fleet-agent');
    expect(commands[3]!.command).toBe('aws iam add-role-to-instance-profile --instance-profile-name fleet-agent --role-name fleet-agent');
    expect(commands.map((c) => c.title)).toEqual([
      'Create the role fleet-agent with its trust policy',
      'Attach the inline permissions policy fleet-agent-write',
      'Create the instance profile fleet-agent',
      'Add the role to the instance profile fleet-agent',
    ]);
  });

  it('passes the documents intact through the shell, single quotes included', () => {
    const [create, put] = generateCliCommands({ roleName: 'fleet-agent', trustPolicy, permissionsPolicy, policyName: 'write' });
    expect(put!.command).toContain("it'\\''s/");
    const createArgs = shellArgs(create!.command);
    expect(createArgs.slice(0, 4)).toEqual(['aws', 'iam', 'create-role', '--role-name']);
    expect(JSON.parse(createArgs[createArgs.indexOf('--assume-role-policy-document') + 1]!)).toEqual(trustPolicy);
    const putArgs = shellArgs(put!.command);
    expect(putArgs).toEqual(['aws', 'iam', 'put-role-policy', '--role-name', 'fleet-agent', '--policy-name', 'write', '--policy-document', JSON.stringify(permissionsPolicy)]);
    expect(JSON.parse(putArgs[8]!).Statement[0].Resource).toBe("arn:aws:s3:::telemetry/it's/\"logs\" $HOME `x` \\n/*");
  });

  it('update mode replaces the trust and inline policies of an existing role; region, path and description are passed on', () => {
    const update = generateCliCommands({ roleName: 'w', trustPolicy, permissionsPolicy, policyName: 'p', mode: 'update', instanceProfile: true, region: 'cn-north-1' });
    expect(update.map((c) => shellArgs(c.command).slice(2, 3)[0])).toEqual(['update-assume-role-policy', 'put-role-policy']);
    expect(update.every((c) => c.command.endsWith(' --region cn-north-1'))).toBe(true);
    const create = generateCliCommands({ roleName: 'w', trustPolicy, permissionsPolicy, policyName: 'p', path: '/fleet/', description: "Fleet agents' writer" });
    expect(shellArgs(create[0]!.command).slice(0, 9)).toEqual(['aws', 'iam', 'create-role', '--role-name', 'w', '--path', '/fleet/', '--description', "Fleet agents' writer"]);
  });

  it('rejects invalid names and documents', () => {
    try {
      generateCliCommands({ roleName: "fleet'agent", trustPolicy: permissionsPolicy, permissionsPolicy, policyName: 'x'.repeat(129), region: 'moon-1' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(IamGenerationError);
      expect((e as IamGenerationError).issues.map((i) => i.path)).toEqual(['roleName', 'policyName', 'region', 'trustPolicy.Statement[0].Action', 'trustPolicy.Statement[0].Resource', 'trustPolicy.Statement[0].Principal']);
    }
  });

  it('cliScript makes a runnable sh script', () => {
    const script = cliScript(generateCliCommands({ roleName: 'fleet-agent', trustPolicy, permissionsPolicy, policyName: 'write' }));
    expect(script.startsWith('#!/bin/sh\nset -eu\n\n# Create the role fleet-agent with its trust policy\naws iam create-role')).toBe(true);
    // Syntax check with the shell itself.
    expect(() => execFileSync('/bin/sh', ['-n', '-c', script])).not.toThrow();
  });
});

import { createHash } from 'node:crypto';
import { partitionOfRegion } from '@fleet/aws';
import { compileRe2, inferSigningFromHost, parseAgentConfig, PipelineConfigError, type AgentConfig, type ConfigIssue } from '@fleet/pipeline';
import { z } from 'zod';
import type { AwsAccount } from '../accounts/accounts.js';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * One matcher of a pipeline selector on agent labels, as in PromQL: `=~` / `!~` values are RE2
 * regexes anchored as Prometheus anchors them (`^(?s:<value>)$`, see `compileRe2`); an invalid one
 * is reported on `value` with Go's parse error.
 */
export const labelMatcherSchema = z
  .object({
    name: z.string().regex(LABEL_NAME, 'not a valid label name'),
    op: z.enum(['=', '!=', '=~', '!~']),
    value: z.string().max(1024),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.op === '=~' || m.op === '!~') {
      try {
        compileRe2(m.value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', path: ['value'], message: `invalid regex: ${(err as Error).message}` });
      }
    }
  });
export const selectorSchema = z.array(labelMatcherSchema).max(50);
export type Selector = z.infer<typeof selectorSchema>;

/**
 * Whether agent labels satisfy every matcher (an empty selector matches every agent). Regexes run
 * in linear time (`compileRe2`, compiled once per value). A regex RE2 cannot compile (stored
 * before selectors were validated as RE2) makes the selector match no agent, never throw.
 */
export function selectorMatches(selector: Selector, labels: Record<string, string>): boolean {
  return selector.every((m) => {
    const v = labels[m.name] ?? '';
    switch (m.op) {
      case '=':
        return v === m.value;
      case '!=':
        return v !== m.value;
      case '=~':
      case '!~': {
        let matched: boolean;
        try {
          matched = compileRe2(m.value).test(v);
        } catch {
          return false;
        }
        return m.op === '=~' ? matched : !matched;
      }
    }
  });
}

/** `{env="prod", team=~"sre|ops"}` */
export function formatSelector(selector: Selector): string {
  return `{${selector.map((m) => `${m.name}${m.op}${JSON.stringify(m.value)}`).join(', ')}}`;
}

/** Result of validating a pipeline document. */
export type DocumentValidation = { ok: true; config: AgentConfig; resolved: Record<string, unknown> } | { ok: false; issues: ConfigIssue[] };

/** The `aws_account` references of a document's remote_write entries, as written. */
export function accountReferences(document: unknown): string[] {
  const remote = (document as { remote_write?: unknown } | null)?.remote_write;
  if (!Array.isArray(remote)) return [];
  const refs = new Set<string>();
  for (const rw of remote) {
    if (typeof rw === 'object' && rw !== null && 'aws_account' in rw) refs.add(String((rw as Record<string, unknown>).aws_account));
  }
  return [...refs];
}

/**
 * Binds each `aws_account` reference of a document (a name or a 12-digit account id) to the
 * registered account it names now: reference → `aws_accounts.id`. Stored with the version, so
 * renaming an account later keeps the version pointing at the same account. Unknown references
 * are left out (validation reports them).
 */
export function bindAccountReferences(document: unknown, accounts: readonly AwsAccount[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const ref of accountReferences(document)) {
    const { account } = findReferencedAccount(ref, accounts);
    if (account) out[ref] = account.id;
  }
  return out;
}

/**
 * The account an `aws_account` reference means: the one it was bound to when the version was
 * saved (`bound`, by id — whatever it is called now), else the account with that name, else
 * the one with that 12-digit id. `boundButGone` when the bound account was deleted.
 */
export function findReferencedAccount(ref: string, accounts: readonly AwsAccount[], bound?: Readonly<Record<string, string>>): { account: AwsAccount | undefined; boundButGone: boolean } {
  const boundId = bound?.[ref];
  if (boundId !== undefined) {
    const account = accounts.find((a) => a.id === boundId);
    return { account, boundButGone: account === undefined };
  }
  return { account: accounts.find((a) => a.name === ref) ?? accounts.find((a) => a.accountId === ref), boundButGone: false };
}

/**
 * A pipeline's config document is a Prometheus configuration (`global`, `scrape_configs`,
 * `remote_write` — the format the agent runs) where a remote_write may name a registered AWS
 * account with `aws_account: <name or account id>`: its region (unless the URL or `sigv4.region`
 * says otherwise), role ARN and ExternalId are filled into `sigv4`. This resolves those
 * references and validates the result with the agent's own parser. With `bound` (the bindings
 * stored with a saved version, see {@link bindAccountReferences}) a reference resolves to the
 * account it was bound to, whatever that account is called now.
 */
export function resolveDocument(document: unknown, accounts: readonly AwsAccount[], bound?: Readonly<Record<string, string>>): DocumentValidation {
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    return { ok: false, issues: [{ path: '', message: 'expected a mapping with scrape_configs and remote_write' }] };
  }
  const issues: ConfigIssue[] = [];
  const resolved: Record<string, unknown> = structuredClone(document as Record<string, unknown>);
  const remote = resolved.remote_write;
  if (Array.isArray(remote)) {
    remote.forEach((rw: unknown, i) => {
      if (typeof rw !== 'object' || rw === null || !('aws_account' in rw)) return;
      const entry = rw as Record<string, unknown>;
      const ref = String(entry.aws_account);
      delete entry.aws_account;
      const { account, boundButGone } = findReferencedAccount(ref, accounts, bound);
      if (!account) {
        issues.push({
          path: `remote_write[${i}].aws_account`,
          message: boundButGone ? `the AWS account this version was saved with (${JSON.stringify(ref)}) was deleted` : `no registered AWS account ${JSON.stringify(ref)}`,
        });
        return;
      }
      const sigv4 = typeof entry.sigv4 === 'object' && entry.sigv4 !== null ? { ...(entry.sigv4 as Record<string, unknown>) } : {};
      let host = '';
      try {
        host = new URL(String(entry.url)).hostname;
      } catch {
        // the URL's own validation reports it
      }
      sigv4.region ??= inferSigningFromHost(host)?.region ?? account.defaultRegion;
      sigv4.role_arn ??= account.roleArn;
      if (sigv4.role_arn === account.roleArn) sigv4.external_id ??= account.externalId;
      entry.sigv4 = sigv4;
      // A role can only be assumed for signing in its own partition (aws, aws-cn, aws-us-gov).
      const rolePartition = /^arn:([\w-]+):iam::/.exec(String(sigv4.role_arn))?.[1];
      const regionPartition = typeof sigv4.region === 'string' ? partitionOfRegion(sigv4.region) : undefined;
      if (rolePartition && regionPartition && rolePartition !== regionPartition) {
        issues.push({ path: `remote_write[${i}].aws_account`, message: `account ${account.name}'s role ${String(sigv4.role_arn)} is in partition ${rolePartition}, but this destination signs for ${String(sigv4.region)} (${regionPartition})` });
      }
    });
  }
  try {
    const config = parseAgentConfig(resolved);
    if (issues.length) return { ok: false, issues };
    return { ok: true, config, resolved };
  } catch (err) {
    if (err instanceof PipelineConfigError) return { ok: false, issues: [...issues, ...err.issues] };
    throw err;
  }
}

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, canonical((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** JSON with keys sorted at every level (stable across key order). */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonical(value));
}

/** sha256 of the canonical JSON of selector + config: the version's identity. */
export function contentHash(selector: Selector, config: unknown): string {
  return createHash('sha256').update(canonicalJson({ selector, config })).digest('hex');
}

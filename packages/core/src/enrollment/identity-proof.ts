/**
 * AWS identity proof for enrollment tokens with an AWS binding (Vault's and Teleport's IAM join,
 * with the lessons of CVE-2020-16250 applied).
 *
 * The agent fetches a single-use challenge (`POST /agent/v1/enroll/challenge`), signs an
 * `sts:GetCallerIdentity` request with its own AWS credentials — the challenge travels in the
 * {@link IDENTITY_CHALLENGE_HEADER} header, which must be one of the signed headers — and sends
 * the signed request (method, URL, headers, body) with its enrollment. The control plane checks
 * the request, then sends it itself to the allow-listed STS endpoint the URL names (never to any
 * other host), and matches the identity STS answers against the token's binding:
 *
 * - an assumed-role session `arn:aws:sts::123456789012:assumed-role/Role/Session` counts as the
 *   role `arn:aws:iam::123456789012:role/Role` (partition kept). Assumed-role ARNs carry no role
 *   path, so role ARN patterns are matched against the path-less role ARN; the session name is
 *   never looked at (whoever can assume a role chooses its session name);
 * - an IAM user `arn:aws:iam::123456789012:user/name` passes only when a role ARN pattern equals
 *   its ARN literally; any other principal (root, federated users) is refused;
 * - the account must be one of `accountIds` (when any are given) and the ARN must match one of
 *   `roleArnGlobs` (when any are given; `*` is any run of characters, `?` exactly one).
 *
 * Every refusal is an {@link IdentityProofError} whose message names the failed check (it is shown
 * to operators in `fleet-agent enroll`) and whose `reason` is machine-readable.
 */
import { createHash, randomBytes } from 'node:crypto';
import { AWS_REGIONS, dnsSuffix } from '@fleet/aws/regions';
import { identityChallenges, type Db } from '@fleet/db';
import { eq, lt } from 'drizzle-orm';
import { XMLParser } from 'fast-xml-parser';
import { AppError, type AppErrorCode } from '../errors.js';

/**
 * Header that carries the challenge inside the signed GetCallerIdentity request. It must be listed
 * in the Authorization header's `SignedHeaders` (the same name is exported by @fleet/protocol).
 */
export const IDENTITY_CHALLENGE_HEADER = 'x-fleet-challenge';
/** The only body an identity proof may carry (form-encoded, exactly this). */
export const GET_CALLER_IDENTITY_BODY = 'Action=GetCallerIdentity&Version=2011-06-15';
/** How long a challenge may be used after it was issued. */
export const IDENTITY_CHALLENGE_TTL_MS = 5 * 60_000;
/** Largest accepted difference between the proof's X-Amz-Date and the control plane's clock. */
export const IDENTITY_PROOF_MAX_SKEW_MS = 5 * 60_000;
/** Headers sent on to STS (any other header of the proof is dropped; signing one is refused). */
export const IDENTITY_PROOF_FORWARDED_HEADERS: readonly string[] = ['authorization', 'x-amz-date', 'x-amz-security-token', 'content-type', IDENTITY_CHALLENGE_HEADER, 'host'];

/**
 * The real AWS STS endpoints: the global `https://sts.amazonaws.com` and the regional
 * `https://sts.<region>.amazonaws.com` (`.amazonaws.com.cn` in China) of every known region.
 */
export const DEFAULT_STS_ENDPOINTS: readonly string[] = Object.freeze([
  'https://sts.amazonaws.com',
  ...AWS_REGIONS.map((r) => `https://sts.${r.code}.${dnsSuffix(r.partition)}`),
]);

/** A signed `sts:GetCallerIdentity` request as the agent sends it (`identityProof` of the enroll request). */
export interface IdentityProof {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** The AWS binding of an enrollment token (see the token schema). */
export interface AwsIdentityBinding {
  accountIds: readonly string[];
  roleArnGlobs: readonly string[];
}

/** How the control plane verifies proofs (from its configuration). */
export interface IdentityProofSettings {
  /**
   * Origins of the STS endpoints proofs may be sent to (default {@link DEFAULT_STS_ENDPOINTS});
   * e.g. a fake STS on loopback in tests.
   */
  stsEndpoints?: readonly string[] | undefined;
  /** Timeout of the request to STS (default 10 s). */
  timeoutMs?: number | undefined;
  /** Allowed X-Amz-Date skew (default {@link IDENTITY_PROOF_MAX_SKEW_MS}). */
  maxSkewMs?: number | undefined;
}

/** An identity STS vouched for, matched against the binding. */
export interface ProvenAwsIdentity {
  /** The role ARN (assumed-role sessions normalised) or IAM user ARN the binding was matched with. */
  arn: string;
  account: string;
  /** The ARN exactly as STS answered it (for the audit log; never used to authorize). */
  callerArn: string;
}

/** Machine-readable reasons of {@link IdentityProofError}. */
export type IdentityProofRefusal =
  | 'identity_proof_required'
  | 'proof_method'
  | 'proof_url'
  | 'sts_endpoint_not_allowed'
  | 'proof_body'
  | 'proof_headers'
  | 'proof_signature'
  | 'challenge_missing'
  | 'challenge_unsigned'
  | 'challenge_unknown'
  | 'challenge_expired'
  | 'stale_signature'
  | 'sts_unreachable'
  | 'sts_refused'
  | 'sts_bad_response'
  | 'identity_kind'
  | 'account_not_allowed'
  | 'role_not_allowed';

/** A refused identity proof: `message` names the failed check, `reason` says it for machines. */
export class IdentityProofError extends AppError {
  constructor(
    code: AppErrorCode,
    readonly reason: IdentityProofRefusal,
    message: string,
  ) {
    super(code, message, { field: 'identityProof' });
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const CHALLENGE_FORMAT = /^[A-Za-z0-9_-]{43}$/;

/**
 * Issues a single-use challenge valid for 5 minutes: 32 random bytes (base64url); only its
 * sha256 is stored. Expired challenges are deleted on the way.
 */
export async function issueIdentityChallenge(db: Db, now: Date = new Date()): Promise<{ challenge: string; expiresAt: Date }> {
  await db.delete(identityChallenges).where(lt(identityChallenges.expiresAt, now));
  const challenge = randomBytes(32).toString('base64url');
  const expiresAt = new Date(now.getTime() + IDENTITY_CHALLENGE_TTL_MS);
  await db.insert(identityChallenges).values({ challengeHash: sha256(challenge), expiresAt, createdAt: now });
  return { challenge, expiresAt };
}

/**
 * Uses a challenge up: deleted in one statement (`DELETE … RETURNING`), so of two concurrent
 * proofs with the same challenge at most one sees it. Resolves to its expiry, or null when it
 * was never issued or is already used.
 */
async function consumeChallenge(db: Db, challenge: string): Promise<Date | null> {
  if (!CHALLENGE_FORMAT.test(challenge)) return null;
  const [row] = await db.delete(identityChallenges).where(eq(identityChallenges.challengeHash, sha256(challenge))).returning({ expiresAt: identityChallenges.expiresAt });
  return row?.expiresAt ?? null;
}

function isLoopbackHost(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Parses an allow-list of STS endpoints (comma-separated; e.g. the `FLEET_STS_ENDPOINTS`
 * setting): each an https URL without path, query or credentials (http only on loopback hosts),
 * or the word `aws` for {@link DEFAULT_STS_ENDPOINTS}. Returns the origins.
 * @throws Error naming the offending entry.
 */
export function parseStsEndpoints(value: string): string[] {
  const out = new Set<string>();
  const entries = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (entries.length === 0) throw new Error('must name at least one STS endpoint URL (or "aws" for the real AWS STS endpoints)');
  for (const entry of entries) {
    if (entry === 'aws') {
      for (const e of DEFAULT_STS_ENDPOINTS) out.add(e);
      continue;
    }
    if (!URL.canParse(entry)) throw new Error(`${JSON.stringify(entry)} is not a URL (expected e.g. https://sts.eu-west-1.amazonaws.com)`);
    const url = new URL(entry);
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${JSON.stringify(entry)} is not an http(s) URL`);
    if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) throw new Error(`${JSON.stringify(entry)}: http is allowed only for loopback hosts; use https`);
    if (url.username || url.password) throw new Error(`${JSON.stringify(entry)} must not contain credentials`);
    if ((url.pathname !== '/' && url.pathname !== '') || url.search || url.hash) throw new Error(`${JSON.stringify(entry)} must be an origin without a path or query`);
    out.add(url.origin);
  }
  return [...out];
}

/** `arn:aws:sts::123:assumed-role/Role/Session` → `arn:aws:iam::123:role/Role`; users as they are; anything else undefined. */
export function normaliseCallerArn(arn: string): { arn: string; account: string; kind: 'role' | 'user' } | undefined {
  const session = /^arn:(aws|aws-cn|aws-us-gov):sts::(\d{12}):assumed-role\/([\w+=,.@-]{1,64})\/[\w+=,.@-]{1,64}$/.exec(arn);
  if (session) return { arn: `arn:${session[1]}:iam::${session[2]}:role/${session[3]}`, account: session[2]!, kind: 'role' };
  const user = /^arn:(aws|aws-cn|aws-us-gov):iam::(\d{12}):user\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/.exec(arn);
  if (user) return { arn, account: user[2]!, kind: 'user' };
  return undefined;
}

/** Whether `arn` matches the glob (`*` any run of characters, `?` one character; case-sensitive, whole string). */
export function arnGlobMatches(glob: string, arn: string): boolean {
  // Wildcard matching without a regex (a backtracking `.*` per star is polynomial in the stars):
  // on a mismatch, let the last `*` absorb one more character. O(glob × arn) at worst.
  let g = 0;
  let a = 0;
  let star = -1;
  let resume = 0;
  while (a < arn.length) {
    if (g < glob.length && (glob[g] === '?' || glob[g] === arn[a])) {
      g++;
      a++;
    } else if (g < glob.length && glob[g] === '*') {
      star = g++;
      resume = a;
    } else if (star >= 0) {
      g = star + 1;
      a = ++resume;
    } else {
      return false;
    }
  }
  while (g < glob.length && glob[g] === '*') g++;
  return g === glob.length;
}

function refuse(code: AppErrorCode, reason: IdentityProofRefusal, message: string): never {
  throw new IdentityProofError(code, reason, `identity proof: ${message}`);
}

function describeEndpoints(endpoints: readonly string[]): string {
  if (endpoints === DEFAULT_STS_ENDPOINTS) return 'the AWS STS endpoints https://sts.amazonaws.com and https://sts.<region>.amazonaws.com(.cn)';
  const shown = endpoints.slice(0, 5).join(', ');
  return endpoints.length > 5 ? `${shown} and ${endpoints.length - 5} more` : shown;
}

function formatSkew(ms: number): string {
  const s = Math.round(Math.abs(ms) / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function parseAmzDate(value: string): Date | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

const AUTHORIZATION = /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{16,128})\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

const xml = new XMLParser({ ignoreAttributes: true, removeNSPrefix: true, parseTagValue: false, trimValues: true, processEntities: true });

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * Sends the checked request to the allow-listed endpoint and returns what STS answered.
 * Only {@link IDENTITY_PROOF_FORWARDED_HEADERS} travel; redirects are not followed.
 */
async function askSts(endpoint: string, headers: Record<string, string>, timeoutMs: number): Promise<{ arn: string; account: string }> {
  let res: Response;
  try {
    res = await fetch(`${endpoint}/`, { method: 'POST', headers, body: GET_CALLER_IDENTITY_BODY, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    const why = (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause?.code ?? cause?.message ?? (err as Error).message);
    refuse('UNAVAILABLE', 'sts_unreachable', `could not reach STS at ${endpoint}: ${why}`);
  }
  const body = await res.text().catch(() => '');
  let doc: Record<string, Record<string, Record<string, unknown> | undefined> | undefined> = {};
  try {
    doc = body.length <= 64 * 1024 ? (xml.parse(body) as typeof doc) : {};
  } catch {
    doc = {};
  }
  if (res.status !== 200) {
    const error = doc.ErrorResponse?.Error;
    const detail = error ? `${text(error.Code) ?? 'error'}: ${text(error.Message) ?? 'no message'}` : `HTTP ${res.status}`;
    if (res.status >= 500 || !error) refuse('UNAVAILABLE', 'sts_unreachable', `STS at ${endpoint} failed (HTTP ${res.status}): ${detail}`);
    refuse('UNAUTHENTICATED', 'sts_refused', `STS refused the signed request: ${detail}`);
  }
  const result = doc.GetCallerIdentityResponse?.GetCallerIdentityResult;
  const arn = text(result?.Arn);
  const account = text(result?.Account);
  if (!arn || !account) refuse('UNAVAILABLE', 'sts_bad_response', `STS at ${endpoint} answered without a GetCallerIdentityResult Arn and Account`);
  return { arn, account };
}

/**
 * Verifies an identity proof against a token's AWS binding. The challenge the proof carries is
 * used up first, in its own statement, so it counts as used even when a later check refuses the
 * proof (it can never be retried). Checks, in order: method POST; URL path `/` without query;
 * URL origin allow-listed; body exactly {@link GET_CALLER_IDENTITY_BODY}; SigV4 Authorization
 * for service `sts` that signs only forwarded headers; challenge header present, signed, issued
 * and unexpired; X-Amz-Date within ±5 minutes; host header equal to the URL host. Then STS
 * answers, and the normalised identity must match the binding.
 * @throws IdentityProofError UNAUTHENTICATED (bad or missing proof, STS refused it),
 *   FORBIDDEN (identity not allowed by the binding), UNAVAILABLE (STS unreachable)
 */
export async function verifyIdentityProof(
  ctx: { db: Db; settings?: IdentityProofSettings | undefined; now?: Date | undefined },
  proof: IdentityProof | undefined,
  binding: AwsIdentityBinding,
): Promise<ProvenAwsIdentity> {
  if (!proof) {
    refuse(
      'UNAUTHENTICATED',
      'identity_proof_required',
      'this token requires an AWS identity proof (a signed sts:GetCallerIdentity request); run fleet-agent enroll where the AWS credentials of an allowed role are available',
    );
  }
  const now = ctx.now ?? new Date();
  const endpoints = ctx.settings?.stsEndpoints ?? DEFAULT_STS_ENDPOINTS;
  const maxSkew = ctx.settings?.maxSkewMs ?? IDENTITY_PROOF_MAX_SKEW_MS;

  // Header names are case-insensitive: one value per name.
  const headers = new Map<string, string>();
  for (const [name, value] of Object.entries(proof.headers)) {
    const lower = name.toLowerCase();
    if (headers.has(lower)) refuse('UNAUTHENTICATED', 'proof_headers', `header ${lower} appears more than once`);
    headers.set(lower, value);
  }
  const challenge = headers.get(IDENTITY_CHALLENGE_HEADER)?.trim();
  const challengeExpiry = challenge ? await consumeChallenge(ctx.db, challenge) : null;

  if (proof.method !== 'POST') refuse('UNAUTHENTICATED', 'proof_method', `the method must be POST (got ${proof.method})`);
  if (!URL.canParse(proof.url)) refuse('UNAUTHENTICATED', 'proof_url', `the URL ${JSON.stringify(proof.url)} is not a URL`);
  const url = new URL(proof.url);
  if (url.username || url.password || url.pathname !== '/' || url.search || url.hash) {
    refuse('UNAUTHENTICATED', 'proof_url', `the request must go to path / with no query or credentials (got ${url.pathname}${url.search})`);
  }
  const endpoint = endpoints.find((e) => URL.canParse(e) && new URL(e).origin === url.origin);
  if (!endpoint) refuse('UNAUTHENTICATED', 'sts_endpoint_not_allowed', `${url.origin} is not an allow-listed STS endpoint (allowed: ${describeEndpoints(endpoints)})`);
  if (proof.body !== GET_CALLER_IDENTITY_BODY) refuse('UNAUTHENTICATED', 'proof_body', `the body must be exactly ${GET_CALLER_IDENTITY_BODY}`);

  const authorization = headers.get('authorization');
  const auth = authorization ? AUTHORIZATION.exec(authorization) : null;
  if (!auth) refuse('UNAUTHENTICATED', 'proof_signature', 'the Authorization header is missing or not an AWS SigV4 (AWS4-HMAC-SHA256) signature');
  const [, , scopeDate, , service, signedList] = auth;
  if (service !== 'sts') refuse('UNAUTHENTICATED', 'proof_signature', `the request is signed for service ${service}, not sts`);
  const signed = signedList!.split(';');
  for (const name of signed) {
    if (!IDENTITY_PROOF_FORWARDED_HEADERS.includes(name) || name === 'authorization') {
      refuse('UNAUTHENTICATED', 'proof_signature', `the signature covers header ${name}, which is not sent to STS; sign only ${IDENTITY_PROOF_FORWARDED_HEADERS.filter((h) => h !== 'authorization').join(', ')}`);
    }
    if (!headers.has(name)) refuse('UNAUTHENTICATED', 'proof_signature', `the signed header ${name} is missing`);
  }
  if (!signed.includes('host')) refuse('UNAUTHENTICATED', 'proof_signature', 'the host header is not signed');

  if (!challenge) refuse('UNAUTHENTICATED', 'challenge_missing', `the ${IDENTITY_CHALLENGE_HEADER} header is missing (fetch a challenge from POST /agent/v1/enroll/challenge)`);
  if (!signed.includes(IDENTITY_CHALLENGE_HEADER)) {
    refuse('UNAUTHENTICATED', 'challenge_unsigned', `the ${IDENTITY_CHALLENGE_HEADER} header is not signed (it must be listed in the Authorization header's SignedHeaders)`);
  }
  if (!challengeExpiry) refuse('UNAUTHENTICATED', 'challenge_unknown', 'the challenge is unknown or already used (challenges are single-use; fetch a new one)');
  if (challengeExpiry <= now) refuse('UNAUTHENTICATED', 'challenge_expired', `the challenge expired at ${challengeExpiry.toISOString()}; fetch a new one`);

  const amzDate = headers.get('x-amz-date');
  if (!amzDate || !signed.includes('x-amz-date')) refuse('UNAUTHENTICATED', 'proof_signature', 'the X-Amz-Date header is missing or not signed');
  const signedAt = parseAmzDate(amzDate);
  if (!signedAt) refuse('UNAUTHENTICATED', 'proof_signature', `X-Amz-Date ${JSON.stringify(amzDate)} is not a date like 20260102T030405Z`);
  const skew = signedAt.getTime() - now.getTime();
  if (Math.abs(skew) > maxSkew) {
    refuse(
      'UNAUTHENTICATED',
      'stale_signature',
      `stale signature: X-Amz-Date ${amzDate} is ${formatSkew(skew)} ${skew < 0 ? 'behind' : 'ahead of'} the control plane's clock (allowed ±${formatSkew(maxSkew)}); check the agent's clock`,
    );
  }
  if (scopeDate !== amzDate.slice(0, 8)) refuse('UNAUTHENTICATED', 'proof_signature', `the credential scope date ${scopeDate} does not match X-Amz-Date ${amzDate}`);
  const host = headers.get('host');
  if (host !== undefined && host.toLowerCase() !== url.host) refuse('UNAUTHENTICATED', 'proof_headers', `the host header ${host} does not match the URL host ${url.host}`);
  const contentType = headers.get('content-type');
  if (contentType !== undefined && !/^application\/x-www-form-urlencoded(\s*;\s*charset=utf-8)?$/i.test(contentType)) {
    refuse('UNAUTHENTICATED', 'proof_headers', `the content-type must be application/x-www-form-urlencoded (got ${contentType})`);
  }

  const forwarded: Record<string, string> = {};
  for (const name of IDENTITY_PROOF_FORWARDED_HEADERS) {
    const value = headers.get(name);
    // The host is the allow-listed endpoint's (fetch derives it from the URL).
    if (value !== undefined && name !== 'host') forwarded[name] = value;
  }
  const answer = await askSts(new URL(endpoint).origin, forwarded, ctx.settings?.timeoutMs ?? 10_000);

  const identity = normaliseCallerArn(answer.arn);
  if (!identity) refuse('FORBIDDEN', 'identity_kind', `the AWS identity ${answer.arn} is neither a role session nor an IAM user; bind tokens to roles`);
  if (identity.account !== answer.account) refuse('UNAUTHENTICATED', 'sts_bad_response', `STS answered ARN ${identity.arn} in account ${answer.account}`);
  if (binding.accountIds.length > 0 && !binding.accountIds.includes(identity.account)) {
    refuse('FORBIDDEN', 'account_not_allowed', `the AWS identity ${identity.arn} is in account ${identity.account}, which this token does not allow (allowed: ${binding.accountIds.join(', ')})`);
  }
  if (identity.kind === 'user') {
    if (!binding.roleArnGlobs.includes(identity.arn)) {
      refuse('FORBIDDEN', 'role_not_allowed', `the AWS identity ${identity.arn} is an IAM user; users are allowed only when the token lists their ARN literally`);
    }
  } else if (binding.roleArnGlobs.length > 0 && !binding.roleArnGlobs.some((g) => arnGlobMatches(g, identity.arn))) {
    const pathHint = binding.roleArnGlobs.some((g) => /:role\/.*\//.test(g)) ? ' (patterns are matched against the role ARN without its path, which role sessions do not reveal)' : '';
    refuse('FORBIDDEN', 'role_not_allowed', `the AWS identity ${identity.arn} matches none of this token's role ARN patterns (${binding.roleArnGlobs.join(', ')})${pathHint}`);
  }
  return { arn: identity.arn, account: identity.account, callerArn: answer.arn };
}

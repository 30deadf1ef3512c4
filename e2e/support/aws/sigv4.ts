/**
 * An independent AWS Signature Version 4 verifier, written from the AWS specification with
 * `node:crypto` only (deliberately NOT @smithy/signature-v4, so the agent's signing is checked by
 * different code than the one that produced it).
 *
 * It rebuilds the canonical request from what arrived on the wire, derives the signing key from
 * the secret the {@link CredentialLookup} knows, and answers like AWS does: with the real error
 * codes and messages, in the JSON-service flavour (`InvalidSignatureException`, used by AMP) or
 * the query-service flavour (`SignatureDoesNotMatch`, used by STS).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { CredentialLookup, IssuedCredentials } from './credentials.js';

/** Error vocabulary: `json` for JSON/REST-JSON services such as AMP, `query` for STS. */
export type SigV4Flavor = 'json' | 'query';

/** What the verifier needs of a received request. */
export interface SignedRequestData {
  method: string;
  /** The request target as received (`IncomingMessage.url`): raw path plus optional `?query`. */
  url: string;
  /** `IncomingMessage.rawHeaders` (flat name/value list, keeps repeated headers) or a header record. */
  headers: readonly string[] | Readonly<Record<string, string | readonly string[] | undefined>>;
  body: Uint8Array;
}

/** What the receiving service expects of the signature. */
export interface SigV4VerifyOptions {
  /** Where keys are looked up (normally the shared {@link CredentialAuthority}). */
  credentials: CredentialLookup;
  /** Region(s) the credential scope may name. */
  region: string | readonly string[];
  /** Signing name of the service (`aps`, `sts`). */
  service: string;
  /** Error vocabulary (default `json`). */
  flavor?: SigV4Flavor;
  /** The receiver's clock (default `Date.now`); inject it to simulate clock skew. */
  now?: () => number;
  /** Allowed |now - x-amz-date| in ms (default 5 minutes, as AWS). */
  maxSkewMs?: number;
  /** Accept `x-amz-content-sha256: UNSIGNED-PAYLOAD` (default false: AMP/STS sign the payload). */
  allowUnsignedPayload?: boolean;
}

/** Machine-readable cause of a rejection, for counters and assertions. */
export type SigV4FailureReason =
  | 'missing-authorization'
  | 'malformed-authorization'
  | 'missing-date'
  | 'host-not-signed'
  | 'date-not-signed'
  | 'token-not-signed'
  | 'scope-date-mismatch'
  | 'wrong-region'
  | 'wrong-service'
  | 'clock-skew'
  | 'unknown-key'
  | 'revoked-key'
  | 'missing-token'
  | 'token-mismatch'
  | 'unexpected-token'
  | 'expired-credentials'
  | 'payload-hash-mismatch'
  | 'signature-mismatch';

/** A request whose signature checks out, with who signed it. */
export interface SigV4Success {
  ok: true;
  accessKeyId: string;
  credentials: IssuedCredentials;
  region: string;
  service: string;
  /** Lowercase names from `SignedHeaders`. */
  signedHeaders: string[];
  /** The `x-amz-date` of the request. */
  signedAt: Date;
}

/** A rejection, with the status, error code and message the real service would send. */
export interface SigV4Failure {
  ok: false;
  status: number;
  /** AWS error code, e.g. `InvalidSignatureException` (json) or `SignatureDoesNotMatch` (query). */
  code: string;
  message: string;
  reason: SigV4FailureReason;
  accessKeyId?: string;
  /** Set when the signature itself was compared: what the verifier signed, to debug mismatches. */
  canonicalRequest?: string;
  stringToSign?: string;
}

/** Outcome of {@link verifySigV4}. */
export type SigV4Result = SigV4Success | SigV4Failure;

/** The parts of an `Authorization: AWS4-HMAC-SHA256 …` header. */
export interface ParsedAuthorization {
  algorithm: string;
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  terminator: string;
  signedHeaders: string[];
  signature: string;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const SIGNATURE_MISMATCH_MESSAGE =
  'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.';
const INVALID_TOKEN_MESSAGE = 'The security token included in the request is invalid.';
const EXPIRED_TOKEN_MESSAGE = 'The security token included in the request is expired';

type ErrorKind = 'incomplete' | 'signature' | 'invalid-token' | 'expired-token' | 'missing-auth';

const CODES: Record<SigV4Flavor, Record<ErrorKind, { code: string; status: number }>> = {
  json: {
    incomplete: { code: 'IncompleteSignatureException', status: 403 },
    signature: { code: 'InvalidSignatureException', status: 403 },
    'invalid-token': { code: 'UnrecognizedClientException', status: 403 },
    'expired-token': { code: 'ExpiredTokenException', status: 403 },
    'missing-auth': { code: 'MissingAuthenticationTokenException', status: 403 },
  },
  query: {
    incomplete: { code: 'IncompleteSignature', status: 400 },
    signature: { code: 'SignatureDoesNotMatch', status: 403 },
    'invalid-token': { code: 'InvalidClientTokenId', status: 403 },
    'expired-token': { code: 'ExpiredToken', status: 403 },
    'missing-auth': { code: 'MissingAuthenticationToken', status: 403 },
  },
};

/** sha256 of `data`, lowercase hex. */
export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: Uint8Array | string, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

/** RFC 3986 encoding as SigV4 wants it: everything but `A-Za-z0-9-_.~` is `%XX` (uppercase). */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * Canonical URI of a path as received, for every service but S3: dot segments and empty segments
 * are removed, then the (already once-encoded) path is URI-encoded again, keeping the slashes.
 */
export function canonicalUri(rawPath: string): string {
  if (rawPath === '' || rawPath === '/') return '/';
  const segments: string[] = [];
  for (const segment of rawPath.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') segments.pop();
    else segments.push(segment);
  }
  const normalized = `${rawPath.startsWith('/') ? '/' : ''}${segments.join('/')}${segments.length > 0 && rawPath.endsWith('/') ? '/' : ''}`;
  return uriEncode(normalized).replace(/%2F/g, '/');
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

/** Canonical query string: every parameter decoded, re-encoded strictly, sorted by name then value. */
export function canonicalQuery(rawQuery: string): string {
  const pairs: Array<[string, string]> = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const name = uriEncode(safeDecode(eq < 0 ? part : part.slice(0, eq)));
    const value = uriEncode(safeDecode(eq < 0 ? '' : part.slice(eq + 1)));
    if (name === 'X-Amz-Signature') continue;
    pairs.push([name, value]);
  }
  pairs.sort(([an, av], [bn, bv]) => (an < bn ? -1 : an > bn ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([n, v]) => `${n}=${v}`).join('&');
}

/** Received headers as lowercase name → values in arrival order. */
export function headerMap(headers: SignedRequestData['headers']): Map<string, string[]> {
  const map = new Map<string, string[]>();
  const add = (name: string, value: string): void => {
    const key = name.toLowerCase();
    const list = map.get(key);
    if (list) list.push(value);
    else map.set(key, [value]);
  };
  if (Array.isArray(headers)) {
    const flat = headers as readonly string[];
    for (let i = 0; i + 1 < flat.length; i += 2) add(flat[i]!, flat[i + 1]!);
  } else {
    for (const [name, value] of Object.entries(headers as Record<string, string | readonly string[] | undefined>)) {
      if (value === undefined) continue;
      if (typeof value === 'string') add(name, value);
      else for (const v of value) add(name, v);
    }
  }
  return map;
}

function canonicalHeaderValue(values: readonly string[]): string {
  return values.map((v) => v.trim().replace(/\s+/g, ' ')).join(',');
}

/** Parses an `Authorization` header; null if it is not a complete `AWS4-HMAC-SHA256` one. */
export function parseAuthorizationHeader(value: string): ParsedAuthorization | null {
  const space = value.indexOf(' ');
  if (space < 0) return null;
  const algorithm = value.slice(0, space);
  const params = new Map<string, string>();
  for (const part of value.slice(space + 1).split(',')) {
    const trimmed = part.trim();
    const eq = trimmed.indexOf('=');
    if (eq < 0) return null;
    params.set(trimmed.slice(0, eq), trimmed.slice(eq + 1));
  }
  const credential = params.get('Credential');
  const signedHeaders = params.get('SignedHeaders');
  const signature = params.get('Signature');
  if (!credential || !signedHeaders || !signature) return null;
  const scope = credential.split('/');
  if (scope.length !== 5) return null;
  const [accessKeyId, date, region, service, terminator] = scope as [string, string, string, string, string];
  return { algorithm, accessKeyId, date, region, service, terminator, signedHeaders: signedHeaders.split(';'), signature };
}

/** The four-step SigV4 computation, exposed so tests can print what the verifier signed. */
export function computeSignature(input: {
  method: string;
  rawPath: string;
  rawQuery: string;
  headers: Map<string, string[]>;
  signedHeaders: readonly string[];
  payloadHash: string;
  amzDate: string;
  scopeDate: string;
  region: string;
  service: string;
  secretAccessKey: string;
}): { canonicalRequest: string; stringToSign: string; signature: string } {
  const canonicalHeaders = input.signedHeaders.map((name) => `${name}:${canonicalHeaderValue(input.headers.get(name) ?? [])}\n`).join('');
  const canonicalRequest = [
    input.method.toUpperCase(),
    canonicalUri(input.rawPath),
    canonicalQuery(input.rawQuery),
    canonicalHeaders,
    input.signedHeaders.join(';'),
    input.payloadHash,
  ].join('\n');
  const scope = `${input.scopeDate}/${input.region}/${input.service}/aws4_request`;
  const stringToSign = [ALGORITHM, input.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const kDate = hmac(`AWS4${input.secretAccessKey}`, input.scopeDate);
  const kRegion = hmac(kDate, input.region);
  const kService = hmac(kRegion, input.service);
  const kSigning = hmac(kService, 'aws4_request');
  const signature = createHmac('sha256', kSigning).update(stringToSign, 'utf8').digest('hex');
  return { canonicalRequest, stringToSign, signature };
}

/** `20260101T000000Z` → Date, or null if not in that exact form. */
export function parseAmzDate(value: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return null;
  const d = new Date(Date.UTC(+m[1]!, +m[2]! - 1, +m[3]!, +m[4]!, +m[5]!, +m[6]!));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Date → `20260101T000000Z`. */
export function formatAmzDate(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z').replace(/[-:]/g, '');
}

/**
 * Verifies the SigV4 `Authorization` header of a received request. Checks, in the order AWS
 * reports them: header present and complete, `host` and `x-amz-date` signed, scope date equal to
 * the x-amz-date day, scope region and service expected, clock skew within 5 minutes, key known
 * (and not revoked), session token present/signed/equal for temporary keys (absent for long-term
 * ones), credentials not expired, `x-amz-content-sha256` equal to the body's hash, and finally the
 * signature itself (constant-time comparison).
 */
export function verifySigV4(request: SignedRequestData, options: SigV4VerifyOptions): SigV4Result {
  const flavor = options.flavor ?? 'json';
  const fail = (kind: ErrorKind, reason: SigV4FailureReason, message: string, extra: Partial<SigV4Failure> = {}): SigV4Failure => ({
    ok: false,
    ...CODES[flavor][kind],
    message,
    reason,
    ...extra,
  });
  const headers = headerMap(request.headers);
  const authValues = headers.get('authorization');
  if (!authValues || authValues.length === 0) {
    return fail('missing-auth', 'missing-authorization', flavor === 'json' ? 'Missing Authentication Token' : 'Request is missing Authentication Token');
  }
  const authorization = authValues.join(',');
  const parsed = parseAuthorizationHeader(authorization);
  const amzDateValue = headers.get('x-amz-date')?.[0];
  if (!parsed) {
    const missing: string[] = [];
    if (!/Credential=/.test(authorization)) missing.push("Authorization header requires 'Credential' parameter.");
    if (!/Signature=/.test(authorization)) missing.push("Authorization header requires 'Signature' parameter.");
    if (!/SignedHeaders=/.test(authorization)) missing.push("Authorization header requires 'SignedHeaders' parameter.");
    if (!amzDateValue && !headers.has('date')) missing.push("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.");
    const message = missing.length > 0 ? missing.join(' ') : `Credential in Authorization header is malformed: '${authorization}'`;
    return fail('incomplete', 'malformed-authorization', `${message} Authorization=${authorization}`);
  }
  if (parsed.algorithm !== ALGORITHM) {
    return fail('incomplete', 'malformed-authorization', `Unsupported AWS 'algorithm': '${parsed.algorithm}'`);
  }
  if (parsed.terminator !== 'aws4_request') {
    return fail('signature', 'malformed-authorization', `Credential should be scoped with a valid terminator: 'aws4_request', not '${parsed.terminator}'.`);
  }
  const { accessKeyId } = parsed;
  const withKey = { accessKeyId };
  if (!amzDateValue) {
    return fail('incomplete', 'missing-date', "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.", withKey);
  }
  if (!parsed.signedHeaders.includes('host')) {
    return fail('incomplete', 'host-not-signed', "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.", withKey);
  }
  if (!parsed.signedHeaders.includes('x-amz-date')) {
    return fail('incomplete', 'date-not-signed', "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.", withKey);
  }
  const signedAt = parseAmzDate(amzDateValue);
  if (!signedAt) {
    return fail('incomplete', 'missing-date', `Date must be in ISO-8601 'basic format'. Got '${amzDateValue}'. See http://en.wikipedia.org/wiki/ISO_8601`, withKey);
  }
  if (parsed.date !== amzDateValue.slice(0, 8)) {
    return fail(
      'signature',
      'scope-date-mismatch',
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${parsed.date}' != '${amzDateValue.slice(0, 8)}', from '${amzDateValue}'.`,
      withKey,
    );
  }
  const regions = typeof options.region === 'string' ? [options.region] : options.region;
  if (!regions.includes(parsed.region)) {
    return fail('signature', 'wrong-region', `Credential should be scoped to a valid region, not '${parsed.region}'. `, withKey);
  }
  if (parsed.service !== options.service) {
    return fail('signature', 'wrong-service', `Credential should be scoped to correct service: '${options.service}'. `, withKey);
  }
  const now = (options.now ?? Date.now)();
  const maxSkew = options.maxSkewMs ?? 5 * 60_000;
  const minutes = `${Math.round(maxSkew / 60_000)} min.`;
  if (signedAt.getTime() < now - maxSkew) {
    return fail(
      'signature',
      'clock-skew',
      `Signature expired: ${amzDateValue} is now earlier than ${formatAmzDate(new Date(now - maxSkew))} (${formatAmzDate(new Date(now))} - ${minutes})`,
      withKey,
    );
  }
  if (signedAt.getTime() > now + maxSkew) {
    return fail(
      'signature',
      'clock-skew',
      `Signature not yet current: ${amzDateValue} is still later than ${formatAmzDate(new Date(now + maxSkew))} (${formatAmzDate(new Date(now))} + ${minutes})`,
      withKey,
    );
  }
  const creds = options.credentials.lookup(accessKeyId);
  if (!creds) return fail('invalid-token', 'unknown-key', INVALID_TOKEN_MESSAGE, withKey);
  if (creds.revoked) return fail('invalid-token', 'revoked-key', INVALID_TOKEN_MESSAGE, withKey);
  const tokenValues = headers.get('x-amz-security-token');
  if (creds.sessionToken !== undefined) {
    if (!tokenValues) return fail('invalid-token', 'missing-token', INVALID_TOKEN_MESSAGE, withKey);
    if (!parsed.signedHeaders.includes('x-amz-security-token')) {
      return fail('incomplete', 'token-not-signed', "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization.", withKey);
    }
    if (tokenValues.length !== 1 || tokenValues[0] !== creds.sessionToken) {
      return fail('invalid-token', 'token-mismatch', INVALID_TOKEN_MESSAGE, withKey);
    }
    if (creds.expiration && creds.expiration.getTime() <= now) {
      return fail('expired-token', 'expired-credentials', EXPIRED_TOKEN_MESSAGE, withKey);
    }
  } else if (tokenValues) {
    return fail('invalid-token', 'unexpected-token', INVALID_TOKEN_MESSAGE, withKey);
  }

  const bodyHash = sha256Hex(request.body);
  const declared = headers.get('x-amz-content-sha256')?.[0];
  let payloadHash = bodyHash;
  if (declared !== undefined) {
    if (declared === 'UNSIGNED-PAYLOAD' && options.allowUnsignedPayload) payloadHash = declared;
    else if (declared !== bodyHash) {
      // Non-S3 services hash the body they received, so a declared hash that lies (or a body changed
      // in transit) ends as a signature mismatch; `reason` tells which.
      return fail('signature', 'payload-hash-mismatch', SIGNATURE_MISMATCH_MESSAGE, withKey);
    } else payloadHash = declared;
  }

  const q = request.url.indexOf('?');
  const rawPath = q < 0 ? request.url : request.url.slice(0, q);
  const rawQuery = q < 0 ? '' : request.url.slice(q + 1);
  const computed = computeSignature({
    method: request.method,
    rawPath,
    rawQuery,
    headers,
    signedHeaders: parsed.signedHeaders,
    payloadHash,
    amzDate: amzDateValue,
    scopeDate: parsed.date,
    region: parsed.region,
    service: parsed.service,
    secretAccessKey: creds.secretAccessKey,
  });
  const expected = Buffer.from(computed.signature, 'utf8');
  const given = Buffer.from(parsed.signature, 'utf8');
  const matches = expected.length === given.length && timingSafeEqual(expected, given);
  if (!matches) {
    let message = SIGNATURE_MISMATCH_MESSAGE;
    if (flavor === 'query') {
      // Query services spell out what they signed, which is what makes these errors debuggable.
      message += `\n\nThe Canonical String for this request should have been\n'${computed.canonicalRequest}'\n\nThe String-to-Sign should have been\n'${computed.stringToSign}'\n`;
    }
    return fail('signature', 'signature-mismatch', message, { ...withKey, canonicalRequest: computed.canonicalRequest, stringToSign: computed.stringToSign });
  }
  return {
    ok: true,
    accessKeyId,
    credentials: creds,
    region: parsed.region,
    service: parsed.service,
    signedHeaders: parsed.signedHeaders,
    signedAt,
  };
}

/**
 * Requests signed by createRequestSigner are checked by the independent SigV4 verifier of
 * e2e/support/aws (written from the AWS specification with node:crypto, not @smithy), both
 * in memory and after travelling over a real HTTP connection to a loopback server.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  applyEnv,
  CredentialAuthority,
  formatAmzDate,
  isolatedAwsEnv,
  parseAuthorizationHeader,
  verifySigV4,
  type IssuedCredentials,
  type SigV4Result,
  type SigV4VerifyOptions,
} from '../../../e2e/support/aws/index.js';
import { listenLoopback, readBody, type Listening } from '../../../e2e/support/aws/http.js';
import { ClockOffset } from './clock.js';
import { ManagedCredentials } from './credentials.js';
import { createRequestSigner, type RequestSigner, type RequestToSign } from './sign.js';

const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/amp-writer`;
const AMP_URL = `https://aps-workspaces.${REGION}.amazonaws.com/workspaces/ws-0a1b2c3d-4e5f-6789-abcd-ef0123456789/api/v1/remote_write`;
const MIN = 60_000;

const authority = new CredentialAuthority({ accountId: ACCOUNT });
const user = authority.addLongTerm(authority.userIdentity('fleet-agent'));
const temp = authority.issueTemporary(authority.assumedRoleIdentity(ROLE, 'fleet-agent-sign-test'));

const RW_HEADERS: Record<string, string> = {
  'Content-Type': 'application/x-protobuf',
  'Content-Encoding': 'snappy',
  'X-Prometheus-Remote-Write-Version': '0.1.0',
  'User-Agent': 'fleet-agent/0.1.0',
};

/** Every byte value, then random bytes: a body that is not valid UTF-8. */
function binaryBody(extra = 1024): Uint8Array {
  const all = Uint8Array.from({ length: 256 }, (_, i) => i);
  return Uint8Array.from([...all, ...randomBytes(extra)]);
}

function staticCredentials(c: IssuedCredentials = user): ManagedCredentials {
  return new ManagedCredentials({ region: REGION, accessKey: c.accessKeyId, secretKey: c.secretAccessKey }, { resolveCallerIdentity: false });
}

/** Temporary credentials (with a session token) through the SDK chain's environment provider. */
async function envCredentials(c: IssuedCredentials): Promise<ManagedCredentials> {
  const restore = applyEnv({ ...isolatedAwsEnv(), AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_SESSION_TOKEN: c.sessionToken });
  try {
    const creds = new ManagedCredentials({ region: REGION }, { resolveCallerIdentity: false });
    await creds.get();
    return creds;
  } finally {
    restore();
  }
}

function signer(service: string, credentials: ManagedCredentials, clock = new ClockOffset()): RequestSigner {
  return createRequestSigner({ service, region: REGION, credentials, clock });
}

/** Verifies signed headers as if they had arrived with the request at `url`. */
function verify(req: RequestToSign, headers: Record<string, string>, options: Partial<SigV4VerifyOptions> & { service: string }): SigV4Result {
  return verifySigV4({ method: req.method, url: `${req.url.pathname}${req.url.search}`, headers, body: req.body }, { credentials: authority, region: REGION, ...options });
}

function signedHeaderNames(headers: Record<string, string>): string[] {
  const parsed = parseAuthorizationHeader(headers.authorization ?? '');
  expect(parsed, headers.authorization).not.toBeNull();
  return parsed!.signedHeaders;
}

// --- a loopback server that verifies what really arrives on the wire -------------------------

interface Received {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
  result: SigV4Result;
}

let server: Listening;
const received: Received[] = [];
/** Service the server verifies for, and its clock offset (its `Date` header shows it). */
let serverService = 'aps';
let serverClockOffsetMs = 0;

beforeAll(async () => {
  server = await listenLoopback(async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req);
    const now = Date.now() + serverClockOffsetMs;
    const result = verifySigV4(
      { method: req.method ?? '', url: req.url ?? '/', headers: req.rawHeaders, body },
      { credentials: authority, region: REGION, service: serverService, now: () => now },
    );
    received.push({ method: req.method ?? '', url: req.url ?? '/', rawHeaders: req.rawHeaders, body, result });
    res.setHeader('date', new Date(now).toUTCString());
    if (result.ok) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('ok');
    } else {
      res.writeHead(result.status, { 'content-type': 'application/json', 'x-amzn-ErrorType': `${result.code}:http://internal.amazon.com/coral/com.amazon.coral.service/` });
      res.end(JSON.stringify({ message: result.message }));
    }
  });
});
afterAll(async () => {
  await server?.close();
});
afterEach(() => {
  received.length = 0;
  serverService = 'aps';
  serverClockOffsetMs = 0;
});

/** Signs a request for the loopback server at `pathAndQuery` and sends it with fetch. */
async function sendSigned(
  s: RequestSigner,
  init: { method?: string; pathAndQuery: string; headers?: Record<string, string>; body?: Uint8Array },
  rewrite?: (headers: Record<string, string>) => void,
): Promise<{ status: number; headers: Headers; text: string; received: Received }> {
  const url = new URL(`${server.url}${init.pathAndQuery}`);
  const req: RequestToSign = { method: init.method ?? 'POST', url, headers: init.headers ?? {}, body: init.body ?? new Uint8Array() };
  const signed = await s.sign(req);
  const { host, ...sendable } = signed; // fetch sets Host itself, from the same URL
  expect(host).toBe(url.host);
  rewrite?.(sendable);
  const res = await fetch(url, { method: req.method, headers: sendable, ...(req.method === 'GET' || req.method === 'HEAD' ? {} : { body: req.body }) });
  const text = await res.text();
  expect(received).toHaveLength(1);
  const got = received.splice(0)[0]!;
  return { status: res.status, headers: res.headers, text, received: got };
}

describe('createRequestSigner: signatures the independent verifier accepts', () => {
  it('signs a remote-write POST with a binary body (static keys, service aps)', async () => {
    const s = signer('aps', staticCredentials());
    expect(s.service).toBe('aps');
    expect(s.region).toBe(REGION);
    const req: RequestToSign = { method: 'POST', url: new URL(AMP_URL), headers: { ...RW_HEADERS }, body: binaryBody() };
    const before = JSON.stringify(req.headers);
    const headers = await s.sign(req);
    expect(JSON.stringify(req.headers)).toBe(before); // the caller's headers are not mutated

    expect(verify(req, headers, { service: 'aps' })).toMatchObject({ ok: true, accessKeyId: user.accessKeyId, region: REGION, service: 'aps' });
    expect(headers.host).toBe(`aps-workspaces.${REGION}.amazonaws.com`);
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
    expect(headers.authorization).toMatch(new RegExp(`^AWS4-HMAC-SHA256 Credential=${user.accessKeyId}/\\d{8}/${REGION}/aps/aws4_request, SignedHeaders=[a-z0-9;-]+, Signature=[0-9a-f]{64}$`));
    expect(headers['x-amz-security-token']).toBeUndefined(); // long-term keys have none
    expect(signedHeaderNames(headers)).toEqual(['content-encoding', 'content-type', 'host', 'x-amz-date', 'x-prometheus-remote-write-version']);
    // The caller's headers are all kept, lower-cased.
    expect(headers).toMatchObject({ 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy', 'x-prometheus-remote-write-version': '0.1.0', 'user-agent': 'fleet-agent/0.1.0' });

    // Not vacuous: one flipped body bit, another path, or another service/region is rejected.
    const flipped = Uint8Array.from(req.body);
    flipped[10] = flipped[10]! ^ 0x01;
    expect(verify({ ...req, body: flipped }, headers, { service: 'aps' })).toMatchObject({ ok: false, reason: 'signature-mismatch', code: 'InvalidSignatureException' });
    expect(verify({ ...req, url: new URL(AMP_URL.replace('remote_write', 'query')) }, headers, { service: 'aps' })).toMatchObject({ ok: false, reason: 'signature-mismatch' });
    expect(verify(req, headers, { service: 'logs' })).toMatchObject({ ok: false, reason: 'wrong-service' });
    expect(verify(req, headers, { service: 'aps', region: 'eu-west-1' })).toMatchObject({ ok: false, reason: 'wrong-region' });
  });

  it('signs the same request so that it verifies after a real HTTP round trip', async () => {
    const s = signer('aps', staticCredentials());
    const body = binaryBody(4096);
    const res = await sendSigned(s, { pathAndQuery: '/workspaces/ws-1/api/v1/remote_write', headers: { ...RW_HEADERS }, body });
    expect(res.received.result).toMatchObject({ ok: true, accessKeyId: user.accessKeyId });
    expect(res.status).toBe(200);
    expect(Buffer.compare(res.received.body, Buffer.from(body))).toBe(0);
  });

  it('hashes only the viewed bytes of a Uint8Array that is a window into a larger buffer', async () => {
    const big = binaryBody(512);
    const view = big.subarray(7, 300);
    const s = signer('aps', staticCredentials());
    const req: RequestToSign = { method: 'POST', url: new URL(AMP_URL), headers: { ...RW_HEADERS }, body: view };
    expect(verify(req, await s.sign(req), { service: 'aps' })).toMatchObject({ ok: true });
    const res = await sendSigned(s, { pathAndQuery: '/workspaces/ws-1/api/v1/remote_write', headers: { ...RW_HEADERS }, body: view });
    expect(res.received.body.length).toBe(293);
    expect(res.received.result).toMatchObject({ ok: true });
  });

  it('signs a path with characters that need encoding (double-encoded canonical URI, as for non-S3 services)', async () => {
    const path = "/workspaces/ws-1/api/v1/remote write/é ü/a:b@c/(x)!*'$&=+,;/%41/~.-_";
    const url = new URL(`https://aps-workspaces.${REGION}.amazonaws.com${path}`);
    // What goes on the wire is the URL's (once-encoded) path.
    expect(url.pathname).toContain('remote%20write/%C3%A9%20%C3%BC/');
    const s = signer('aps', staticCredentials());
    const req: RequestToSign = { method: 'POST', url, headers: { ...RW_HEADERS }, body: binaryBody(64) };
    const headers = await s.sign(req);
    const ok = verify(req, headers, { service: 'aps' });
    expect(ok).toMatchObject({ ok: true });
    // Against a path differing only in encoding, the signature fails.
    const other = new URL(url);
    other.pathname = url.pathname.replace('%C3%A9', 'e');
    expect(verify({ ...req, url: other }, headers, { service: 'aps' })).toMatchObject({ ok: false, reason: 'signature-mismatch' });

    const res = await sendSigned(s, { pathAndQuery: path, headers: { ...RW_HEADERS }, body: binaryBody(64) });
    expect(res.received.url).toBe(new URL(`${server.url}${path}`).pathname);
    expect(res.received.result).toMatchObject({ ok: true });
  });

  it('signs a query string: unsorted and repeated parameters, encoded and valueless ones', async () => {
    const query = '?b=2&a=1&a=0&flag&sp=a%20b&u=%C3%A4&slash=%2F&tilde=~&star=*&empty=';
    const url = new URL(`https://aps-workspaces.${REGION}.amazonaws.com/workspaces/ws-1/api/v1/query${query}`);
    const s = signer('aps', staticCredentials());
    const req: RequestToSign = { method: 'GET', url, headers: { 'User-Agent': 'fleet-agent/0.1.0' }, body: new Uint8Array() };
    const headers = await s.sign(req);
    expect(verify(req, headers, { service: 'aps' })).toMatchObject({ ok: true });
    // A changed parameter value is caught.
    const changed = new URL(url);
    changed.searchParams.set('b', '3');
    expect(verify({ ...req, url: changed }, headers, { service: 'aps' })).toMatchObject({ ok: false, reason: 'signature-mismatch' });

    const res = await sendSigned(s, { method: 'GET', pathAndQuery: `/workspaces/ws-1/api/v1/query${query}`, headers: { 'User-Agent': 'fleet-agent/0.1.0' } });
    expect(res.received.url).toBe(`/workspaces/ws-1/api/v1/query${url.search}`);
    expect(res.received.result).toMatchObject({ ok: true });
  });

  it('signs custom headers (any case, folded whitespace), drops empty values, and never signs user-agent', async () => {
    const s = signer('aps', staticCredentials());
    const custom = {
      ...RW_HEADERS,
      'X-Fleet-Tenant': 'acme',
      'X-Spaces': 'a   b    c',
      'x-empty': '',
      'X-Also-Empty': '',
    };
    const req: RequestToSign = { method: 'POST', url: new URL(AMP_URL), headers: custom, body: binaryBody(32) };
    const headers = await s.sign(req);
    expect(verify(req, headers, { service: 'aps' })).toMatchObject({ ok: true });
    expect(headers).not.toHaveProperty('x-empty');
    expect(headers).not.toHaveProperty('x-also-empty');
    const names = signedHeaderNames(headers);
    expect(names).toEqual(expect.arrayContaining(['x-fleet-tenant', 'x-spaces', 'host', 'x-amz-date']));
    expect(names).not.toContain('x-empty');
    expect(names).not.toContain('user-agent');
    expect(headers['user-agent']).toBe('fleet-agent/0.1.0');
    // A proxy may rewrite user-agent; a signed header may not change.
    expect(verify(req, { ...headers, 'user-agent': 'squid/6.0' }, { service: 'aps' })).toMatchObject({ ok: true });
    expect(verify(req, { ...headers, 'x-fleet-tenant': 'evil' }, { service: 'aps' })).toMatchObject({ ok: false, reason: 'signature-mismatch' });

    // Over the wire (fetch adds its own accept/accept-encoding/connection/content-length headers).
    const rewritten = await sendSigned(s, { pathAndQuery: '/workspaces/ws-1/api/v1/remote_write', headers: custom, body: binaryBody(32) }, (h) => {
      h['user-agent'] = 'rewritten-by-proxy/1.0';
    });
    expect(rewritten.received.result).toMatchObject({ ok: true });
    const tampered = await sendSigned(s, { pathAndQuery: '/workspaces/ws-1/api/v1/remote_write', headers: custom, body: binaryBody(32) }, (h) => {
      h['x-spaces'] = 'a b d';
    });
    expect(tampered.status).toBe(403);
    expect(tampered.received.result).toMatchObject({ ok: false, reason: 'signature-mismatch' });
  });

  it('signs with temporary credentials: x-amz-security-token is sent and signed (aps and logs)', async () => {
    const creds = await envCredentials(temp);
    const aps = signer('aps', creds);
    const req: RequestToSign = { method: 'POST', url: new URL(AMP_URL), headers: { ...RW_HEADERS }, body: binaryBody() };
    const headers = await aps.sign(req);
    expect(headers['x-amz-security-token']).toBe(temp.sessionToken);
    expect(signedHeaderNames(headers)).toContain('x-amz-security-token');
    expect(verify(req, headers, { service: 'aps' })).toMatchObject({ ok: true, accessKeyId: temp.accessKeyId });
    expect(Object.keys(headers)).toEqual(expect.arrayContaining(['host', 'x-amz-date', 'x-amz-security-token', 'authorization']));
    // Without the token, or with another one, AWS says the token is invalid.
    const { 'x-amz-security-token': _token, ...noToken } = headers;
    expect(verify(req, noToken, { service: 'aps' })).toMatchObject({ ok: false, code: 'UnrecognizedClientException', reason: 'missing-token' });

    // CloudWatch Logs PutLogEvents (JSON 1.1 protocol).
    const logs = signer('logs', creds);
    const logsReq: RequestToSign = {
      method: 'POST',
      url: new URL(`https://logs.${REGION}.amazonaws.com/`),
      headers: { 'Content-Type': 'application/x-amz-json-1.1', 'X-Amz-Target': 'Logs_20140328.PutLogEvents', 'User-Agent': 'fleet-agent/0.1.0' },
      body: new TextEncoder().encode(JSON.stringify({ logGroupName: 'fleet', logStreamName: 'host-1', logEvents: [{ timestamp: Date.now(), message: 'héllo\n' }] })),
    };
    const logsHeaders = await logs.sign(logsReq);
    expect(logsHeaders.authorization).toContain(`/${REGION}/logs/aws4_request`);
    expect(signedHeaderNames(logsHeaders)).toEqual(['content-type', 'host', 'x-amz-date', 'x-amz-security-token', 'x-amz-target']);
    expect(verify(logsReq, logsHeaders, { service: 'logs' })).toMatchObject({ ok: true, service: 'logs', accessKeyId: temp.accessKeyId });
    expect(verify(logsReq, logsHeaders, { service: 'aps' })).toMatchObject({ ok: false, reason: 'wrong-service' });

    serverService = 'logs';
    const res = await sendSigned(logs, { pathAndQuery: '/', headers: logsReq.headers, body: logsReq.body });
    expect(res.received.result).toMatchObject({ ok: true, service: 'logs' });
  });

  it('signs with the cached credentials, and with new ones after invalidate()', async () => {
    const first = authority.issueTemporary(authority.assumedRoleIdentity(ROLE, 'rotation-1'));
    const second = authority.issueTemporary(authority.assumedRoleIdentity(ROLE, 'rotation-2'));
    const envOf = (c: IssuedCredentials) => ({ ...isolatedAwsEnv(), AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_SESSION_TOKEN: c.sessionToken });
    let restore = applyEnv(envOf(first));
    try {
      const creds = new ManagedCredentials({ region: REGION }, { resolveCallerIdentity: false });
      const s = signer('aps', creds);
      const req: RequestToSign = { method: 'POST', url: new URL(AMP_URL), headers: { ...RW_HEADERS }, body: binaryBody(16) };
      expect(verify(req, await s.sign(req), { service: 'aps' })).toMatchObject({ ok: true, accessKeyId: first.accessKeyId });
      restore();
      restore = applyEnv(envOf(second));
      expect(verify(req, await s.sign(req), { service: 'aps' })).toMatchObject({ ok: true, accessKeyId: first.accessKeyId });
      creds.invalidate();
      expect(verify(req, await s.sign(req), { service: 'aps' })).toMatchObject({ ok: true, accessKeyId: second.accessKeyId });
    } finally {
      restore();
    }
  });

  it('rejects signing when there are no credentials (the provider error surfaces)', async () => {
    const restore = applyEnv(isolatedAwsEnv());
    try {
      const s = signer('aps', new ManagedCredentials({ region: REGION }, { resolveCallerIdentity: false }));
      await expect(s.sign({ method: 'POST', url: new URL(AMP_URL), headers: {}, body: new Uint8Array() })).rejects.toMatchObject({ name: 'CredentialsProviderError' });
    } finally {
      restore();
    }
  });
});

describe('createRequestSigner: the signing date follows ClockOffset', () => {
  it('x-amz-date is the clock’s signing date, with the applied offset', async () => {
    const local = Date.parse('2026-03-01T23:59:30.250Z');
    const clock = new ClockOffset(() => local);
    const s = signer('aps', staticCredentials(), clock);
    const req: RequestToSign = { method: 'POST', url: new URL(AMP_URL), headers: { ...RW_HEADERS }, body: binaryBody(16) };
    let headers = await s.sign(req);
    expect(headers['x-amz-date']).toBe('20260301T235930Z');
    expect(headers.authorization).toContain('/20260301/us-east-1/aps/aws4_request');
    expect(verify(req, headers, { service: 'aps', now: () => local })).toMatchObject({ ok: true });

    // The server is 2 minutes ahead: the corrected date crosses midnight, and so does the scope.
    clock.observe(new Date(local + 2 * MIN).toUTCString());
    expect(clock.appliedOffsetMs).toBe(2 * MIN - 250 + 500);
    headers = await s.sign(req);
    expect(headers['x-amz-date']).toBe(formatAmzDate(new Date(local + 2 * MIN + 250)));
    expect(headers['x-amz-date']).toBe('20260302T000130Z');
    expect(headers.authorization).toContain('/20260302/us-east-1/aps/aws4_request');
    expect(verify(req, headers, { service: 'aps', now: () => local + 2 * MIN })).toMatchObject({ ok: true });
  });

  it('with a +10 min applied offset, a verifier 10 min ahead accepts and a real-time one rejects for skew', async () => {
    const clock = new ClockOffset();
    clock.observe(new Date(Date.now() + 10 * MIN).toUTCString());
    expect(Math.abs(clock.appliedOffsetMs - 10 * MIN)).toBeLessThanOrEqual(1_000);
    const s = signer('aps', await envCredentials(temp), clock);
    const req: RequestToSign = { method: 'POST', url: new URL(AMP_URL), headers: { ...RW_HEADERS }, body: binaryBody() };
    const headers = await s.sign(req);
    expect(verify(req, headers, { service: 'aps', now: () => Date.now() + 10 * MIN })).toMatchObject({ ok: true });
    const realTime = verify(req, headers, { service: 'aps' });
    expect(realTime).toMatchObject({ ok: false, status: 403, code: 'InvalidSignatureException', reason: 'clock-skew' });
    expect(realTime.ok ? '' : realTime.message).toMatch(/^Signature not yet current: \d{8}T\d{6}Z is still later than \d{8}T\d{6}Z \(\d{8}T\d{6}Z \+ 5 min\.\)$/);

    // And a clock applied −10 min: "Signature expired".
    const behind = new ClockOffset();
    behind.observe(new Date(Date.now() - 10 * MIN).toUTCString());
    const old = await signer('aps', staticCredentials(), behind).sign(req);
    const expired = verify(req, old, { service: 'aps' });
    expect(expired).toMatchObject({ ok: false, reason: 'clock-skew' });
    expect(expired.ok ? '' : expired.message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
    expect(verify(req, old, { service: 'aps', now: () => Date.now() - 10 * MIN })).toMatchObject({ ok: true });
  });

  it('recovers from a skew rejection over the wire by learning the server clock from its Date header', async () => {
    serverClockOffsetMs = 10 * MIN;
    const clock = new ClockOffset();
    const s = signer('aps', staticCredentials(), clock);
    const send = () => sendSigned(s, { pathAndQuery: '/workspaces/ws-1/api/v1/remote_write', headers: { ...RW_HEADERS }, body: binaryBody(128) });
    const sentAt = Date.now();
    const rejected = await send();
    expect(rejected.status).toBe(403);
    expect(rejected.headers.get('x-amzn-errortype')).toMatch(/^InvalidSignatureException/);
    expect((JSON.parse(rejected.text) as { message: string }).message).toMatch(/^Signature expired: /);
    clock.observe(rejected.headers.get('date'), sentAt);
    expect(Math.abs(clock.appliedOffsetMs - 10 * MIN)).toBeLessThanOrEqual(1_500);
    const accepted = await send();
    expect(accepted.status).toBe(200);
    expect(accepted.received.result).toMatchObject({ ok: true });
  });
});

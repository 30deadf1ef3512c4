/**
 * Proves the fake AWS services are faithful by driving them with the real AWS SDK: its credential
 * providers get credentials from the fake IMDS / STS / container endpoint, STSClient talks to the
 * fake STS, and requests signed by @smithy/signature-v4 are accepted (or rejected with the right
 * AWS error) by the independent verifier in the fake AMP receiver.
 */
import { spawn } from 'node:child_process';
import { request as httpRequest } from 'node:http';
import type * as ClientSts from '@aws-sdk/client-sts';
import type * as CredentialProviders from '@aws-sdk/credential-providers';
import type * as HashNode from '@smithy/hash-node';
import type * as ProtocolHttp from '@smithy/protocol-http';
import type * as SignatureV4Module from '@smithy/signature-v4';
import { compress } from 'snappyjs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  CredentialAuthority,
  decodeWriteRequest,
  ec2Env,
  encodeWriteRequest,
  irsaEnv,
  isolatedAwsEnv,
  isStaleBits,
  isStaleMarker,
  podIdentityEnv,
  staleSample,
  startFakeAws,
  startRemoteWriteReceiver,
  verifySigV4,
  type AwsEnv,
  type AwsScenarioEnv,
  type FakeAws,
  type IssuedCredentials,
  type TimeSeriesInput,
  envSandbox,
} from '../support/aws/index.js';
import { requireSdk } from '../support/aws/sdk-cjs.js';

// Vitest workers here run with `--conditions module`, which breaks the SDK's ESM entry points:
// load its CommonJS builds (see e2e/support/aws/sdk-cjs.ts).
const { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } = requireSdk<typeof ClientSts>('@aws-sdk/client-sts');
const { fromContainerMetadata, fromHttp, fromInstanceMetadata, fromTemporaryCredentials, fromTokenFile, fromWebToken } =
  requireSdk<typeof CredentialProviders>('@aws-sdk/credential-providers');
const { Hash } = requireSdk<typeof HashNode>('@smithy/hash-node');
const { HttpRequest } = requireSdk<typeof ProtocolHttp>('@smithy/protocol-http');
const { SignatureV4 } = requireSdk<typeof SignatureV4Module>('@smithy/signature-v4');

const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const TARGET_ROLE = `arn:aws:iam::${ACCOUNT}:role/amp-writer`;
const IRSA_ROLE = `arn:aws:iam::${ACCOUNT}:role/fleet-agent-irsa`;
const EXTERNAL_ID = 'fleet-ext-7f3a';
const WEB_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZmxlZXQ6YWdlbnQifQ.c2lnbmF0dXJl';

let aws: FakeAws;
let user: IssuedCredentials;

beforeAll(async () => {
  aws = await startFakeAws({ region: REGION, authority: { accountId: ACCOUNT } });
  user = aws.authority.addLongTerm(aws.authority.userIdentity('fleet-operator'));
  aws.sts.addRole({ arn: TARGET_ROLE, trustedPrincipals: [user.identity.arn, aws.imds.roleArn], externalId: EXTERNAL_ID });
  aws.sts.addRole({ arn: IRSA_ROLE, webIdentityToken: WEB_TOKEN });
});
afterAll(async () => {
  await aws?.close();
});

// Every test runs with an isolated AWS environment, restored afterwards: the SDK reads env vars at call time.
const sandbox = envSandbox();
const { useEnv, useScenario } = sandbox;
afterEach(async () => {
  await sandbox.restore();
  aws.receiver.faults.length = 0;
  aws.receiver.clockOffsetMs = 0;
});

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined };
const asSdk = (c: IssuedCredentials): Creds => ({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken });

function writeBody(series: TimeSeriesInput[] = [{ labels: { __name__: 'up', job: 'agent' }, samples: [{ value: 1, timestamp: Date.now() }] }]): Uint8Array {
  return compress(encodeWriteRequest(series));
}

interface Sent {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Sends exactly these headers and body with node:http (which, unlike fetch, lets us set Host). */
function send(url: string, method: string, headers: Record<string, string>, body: Uint8Array): Promise<Sent> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const RW_HEADERS = {
  'content-type': 'application/x-protobuf',
  'content-encoding': 'snappy',
  'x-prometheus-remote-write-version': '0.1.0',
  'user-agent': 'fake-aws-test/1.0',
};

/** Signs a remote-write POST to the receiver with the real SDK signer, then (optionally) tampers and sends it. */
async function signedWrite(options: {
  credentials: Creds;
  region?: string;
  service?: string;
  signingDate?: Date;
  body?: Uint8Array;
  headers?: Record<string, string>;
  applyChecksum?: boolean;
  tamper?: (req: { headers: Record<string, string>; body: Uint8Array }) => void;
}): Promise<Sent> {
  const url = new URL(aws.receiver.url);
  const body = options.body ?? writeBody();
  const request = new HttpRequest({
    method: 'POST',
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path: url.pathname,
    headers: { host: url.host, ...(options.headers ?? RW_HEADERS) },
    body,
  });
  const signer = new SignatureV4({
    service: options.service ?? 'aps',
    region: options.region ?? REGION,
    credentials: options.credentials,
    sha256: Hash.bind(null, 'sha256'),
    ...(options.applyChecksum !== undefined ? { applyChecksum: options.applyChecksum } : {}),
  });
  const signed = await signer.sign(request, options.signingDate ? { signingDate: options.signingDate } : {});
  const out = { headers: { ...(signed.headers as Record<string, string>) }, body: Uint8Array.from(signed.body as Uint8Array) };
  options.tamper?.(out);
  return send(aws.receiver.url, 'POST', out.headers, out.body);
}

function errorOf(sent: Sent): { status: number; type: string | undefined; message: string } {
  return { status: sent.status, type: sent.headers['x-amzn-errortype'] as string | undefined, message: (JSON.parse(sent.body) as { message: string }).message };
}

function stsClient(credentials: Creds, region = REGION): ClientSts.STSClient {
  // No endpoint here: AWS_ENDPOINT_URL_STS from the scenario env routes the client to the fake.
  return new STSClient({ region, credentials, maxAttempts: 1 });
}

describe('SigV4 verifier', () => {
  it('verifies the AWS documentation example (IAM ListUsers, 20150830T123600Z)', () => {
    const authority = new CredentialAuthority();
    authority.addLongTerm(authority.userIdentity('example'), { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' });
    const req = {
      method: 'GET',
      url: '/?Action=ListUsers&Version=2010-05-08',
      headers: {
        'content-type': 'application/x-www-form-urlencoded; charset=utf-8',
        host: 'iam.amazonaws.com',
        'x-amz-date': '20150830T123600Z',
        authorization:
          'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7',
      },
      body: new Uint8Array(),
    };
    const now = () => Date.parse('2015-08-30T12:37:00Z');
    expect(verifySigV4(req, { credentials: authority, region: 'us-east-1', service: 'iam', now })).toMatchObject({ ok: true, accessKeyId: 'AKIDEXAMPLE' });
    const bad = verifySigV4(
      { ...req, headers: { ...req.headers, authorization: req.headers.authorization.replace(/5d672d/, '5d672e') } },
      { credentials: authority, region: 'us-east-1', service: 'iam', flavor: 'query', now },
    );
    expect(bad).toMatchObject({ ok: false, status: 403, code: 'SignatureDoesNotMatch', reason: 'signature-mismatch' });
    expect(bad.ok ? '' : bad.message).toContain('The Canonical String for this request should have been');
  });
});

describe('fake AMP remote-write receiver with real SDK signatures', () => {
  let temp: IssuedCredentials;
  beforeAll(() => {
    temp = aws.authority.issueTemporary(aws.authority.assumedRoleIdentity(TARGET_ROLE, 'writer'));
  });

  it('accepts a request signed by @smithy/signature-v4 with temporary credentials and records it', async () => {
    const before = aws.receiver.counters.acceptedSamples;
    const ts = Date.now();
    const res = await signedWrite({ credentials: asSdk(temp), body: writeBody([{ labels: { __name__: 'agent_up', host: 'a1' }, samples: [{ value: 1, timestamp: ts }] }]) });
    expect(res.status).toBe(200);
    expect(res.headers.date).toBeTruthy();
    expect(res.headers['x-amzn-requestid']).toBeTruthy();
    expect(aws.receiver.counters.acceptedSamples).toBe(before + 1);
    const last = aws.receiver.requests.at(-1)!;
    expect(last).toMatchObject({ outcome: 'accepted', accessKeyId: temp.accessKeyId, callerArn: `arn:aws:sts::${ACCOUNT}:assumed-role/amp-writer/writer` });
    expect(aws.receiver.samples('agent_up')).toEqual([{ labels: { __name__: 'agent_up', host: 'a1' }, sample: expect.objectContaining({ value: 1, timestamp: ts, stale: false }) }]);
    expect(aws.receiver.lastHeaders?.['x-amz-security-token']).toBe(temp.sessionToken);
  });

  it('accepts long-term credentials (no token)', async () => {
    expect((await signedWrite({ credentials: asSdk(user) })).status).toBe(200);
  });

  it('rejects one changed body byte', async () => {
    const flip = (r: { body: Uint8Array }) => {
      const last = r.body.length - 1;
      r.body[last] = r.body[last]! ^ 0x01;
    };
    // The SDK signer declares x-amz-content-sha256, so the declared hash no longer matches the body.
    const withChecksum = await signedWrite({ credentials: asSdk(temp), tamper: flip });
    expect(errorOf(withChecksum)).toEqual({ status: 403, type: 'InvalidSignatureException', message: expect.stringMatching(/^The request signature we calculated does not match/) });
    expect(aws.receiver.requests.at(-1)!.reason).toBe('payload-hash-mismatch');
    // Without that header the recomputed signature differs.
    const without = await signedWrite({ credentials: asSdk(temp), applyChecksum: false, tamper: flip });
    expect(errorOf(without).type).toBe('InvalidSignatureException');
    expect(aws.receiver.requests.at(-1)!.reason).toBe('signature-mismatch');
  });

  it('rejects a changed signed header', async () => {
    // (user-agent would not do: the SDK never signs it.)
    const res = await signedWrite({ credentials: asSdk(temp), tamper: (r) => (r.headers['x-prometheus-remote-write-version'] = '0.1.1') });
    expect(errorOf(res)).toMatchObject({ status: 403, type: 'InvalidSignatureException' });
  });

  it('rejects a wrong region and a wrong service with the AWS messages', async () => {
    expect(errorOf(await signedWrite({ credentials: asSdk(temp), region: 'us-west-2' }))).toEqual({
      status: 403,
      type: 'InvalidSignatureException',
      message: "Credential should be scoped to a valid region, not 'us-west-2'. ",
    });
    expect(errorOf(await signedWrite({ credentials: asSdk(temp), service: 'execute-api' }))).toEqual({
      status: 403,
      type: 'InvalidSignatureException',
      message: "Credential should be scoped to correct service: 'aps'. ",
    });
  });

  it('rejects a 6-minute-old signature, and a receiver clock 6 minutes ahead', async () => {
    const old = await signedWrite({ credentials: asSdk(temp), signingDate: new Date(Date.now() - 6 * 60_000) });
    expect(errorOf(old)).toMatchObject({ status: 403, type: 'InvalidSignatureException' });
    expect(errorOf(old).message).toMatch(/^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/);
    aws.receiver.clockOffsetMs = 6 * 60_000;
    expect(errorOf(await signedWrite({ credentials: asSdk(temp) })).message).toMatch(/^Signature expired/);
    aws.receiver.clockOffsetMs = -6 * 60_000;
    expect(errorOf(await signedWrite({ credentials: asSdk(temp) })).message).toMatch(/^Signature not yet current/);
    aws.receiver.clockOffsetMs = 4 * 60_000;
    expect((await signedWrite({ credentials: asSdk(temp) })).status).toBe(200);
  });

  it('rejects temporary credentials without their session token, and a wrong token', async () => {
    const missing = await signedWrite({ credentials: { accessKeyId: temp.accessKeyId, secretAccessKey: temp.secretAccessKey } });
    expect(errorOf(missing)).toEqual({ status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
    expect(aws.receiver.requests.at(-1)!.reason).toBe('missing-token');
    const wrong = await signedWrite({ credentials: { ...asSdk(temp), sessionToken: `${temp.sessionToken}x` } });
    expect(errorOf(wrong).type).toBe('UnrecognizedClientException');
  });

  it('rejects an unknown key, a revoked key and expired credentials', async () => {
    const unknown = await signedWrite({ credentials: { accessKeyId: 'AKIAZZZZZZZZZZZZZZZZ', secretAccessKey: 'x'.repeat(40) } });
    expect(errorOf(unknown)).toEqual({ status: 403, type: 'UnrecognizedClientException', message: 'The security token included in the request is invalid.' });
    const revoked = aws.authority.issueTemporary(temp.identity);
    aws.authority.revoke(revoked.accessKeyId);
    expect(errorOf(await signedWrite({ credentials: asSdk(revoked) })).type).toBe('UnrecognizedClientException');
    const expiring = aws.authority.issueTemporary(temp.identity);
    expect((await signedWrite({ credentials: asSdk(expiring) })).status).toBe(200);
    aws.authority.expire(expiring.accessKeyId);
    expect(errorOf(await signedWrite({ credentials: asSdk(expiring) }))).toEqual({
      status: 403,
      type: 'ExpiredTokenException',
      message: 'The security token included in the request is expired',
    });
  });

  it('rejects unsigned requests and a request without x-amz-date signed', async () => {
    const unsigned = await send(aws.receiver.url, 'POST', { ...RW_HEADERS }, writeBody());
    expect(errorOf(unsigned)).toEqual({ status: 403, type: 'MissingAuthenticationTokenException', message: 'Missing Authentication Token' });
    const noHost = await signedWrite({
      credentials: asSdk(temp),
      tamper: (r) => (r.headers.authorization = r.headers.authorization!.replace(/SignedHeaders=[^,]*/, (m) => m.replace('host;', ''))),
    });
    expect(errorOf(noHost)).toMatchObject({ type: 'IncompleteSignatureException', message: "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization." });
  });

  it('enforces the remote-write 1.0 headers after authentication', async () => {
    for (const missing of ['content-encoding', 'content-type', 'x-prometheus-remote-write-version'] as const) {
      const headers: Record<string, string> = { ...RW_HEADERS };
      delete headers[missing];
      const res = await signedWrite({ credentials: asSdk(temp), headers });
      expect(res.status, missing).toBe(400);
      expect(res.body.toLowerCase()).toContain(missing);
    }
    const v2 = await signedWrite({ credentials: asSdk(temp), headers: { ...RW_HEADERS, 'content-type': 'application/x-protobuf;proto=io.prometheus.write.v2.Request' } });
    expect(v2.status).toBe(415);
  });

  it('validates label order, duplicates and empties, and rejects garbage bodies', async () => {
    const cases: Array<[TimeSeriesInput['labels'], string]> = [
      [[{ name: 'job', value: 'a' }, { name: '__name__', value: 'up' }], 'unsorted-labels'],
      [[{ name: '__name__', value: 'up' }, { name: 'job', value: 'a' }, { name: 'job', value: 'b' }], 'duplicate-label'],
      [[{ name: '__name__', value: 'up' }, { name: 'job', value: '' }], 'empty-label-value'],
      [[{ name: '', value: 'x' }, { name: '__name__', value: 'up' }], 'empty-label-name'],
      [[{ name: 'job', value: 'a' }], 'missing-metric-name'],
    ];
    for (const [labels, reason] of cases) {
      const res = await signedWrite({ credentials: asSdk(temp), body: writeBody([{ labels, samples: [{ value: 1, timestamp: Date.now() }] }]) });
      expect(res.status, reason).toBe(400);
      expect(aws.receiver.requests.at(-1)!.reason).toBe(reason);
    }
    const notSnappy = await signedWrite({ credentials: asSdk(temp), body: encodeWriteRequest([{ labels: { __name__: 'x' }, samples: [] }]) });
    expect(notSnappy.status).toBe(400);
    const notProto = await signedWrite({ credentials: asSdk(temp), body: compress(Uint8Array.from([0x0a, 0x10, 0x01])) });
    expect(notProto.status).toBe(400);
    expect(aws.receiver.requests.at(-1)!.reason).toBe('bad-protobuf');
  });

  it('decodes a hand-encoded WriteRequest, keeping the stale marker NaN bits', async () => {
    // prettier-ignore
    const raw = Uint8Array.from([
      0x0a, 0x2c, // WriteRequest.timeseries, 44 bytes
      0x0a, 0x0e, // TimeSeries.labels, 14 bytes
      0x0a, 0x08, ...Buffer.from('__name__'), 0x12, 0x02, ...Buffer.from('up'),
      0x12, 0x0c, // TimeSeries.samples: value 1.0 @ 1000
      0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x3f, 0x10, 0xe8, 0x07,
      0x12, 0x0c, // TimeSeries.samples: stale marker @ 2000
      0x09, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0xf0, 0x7f, 0x10, 0xd0, 0x0f,
      0x1a, 0x02, 0x08, 0x01, // WriteRequest.metadata (skipped)
    ]);
    const decoded = decodeWriteRequest(raw);
    expect(decoded.metadataCount).toBe(1);
    expect(decoded.timeseries).toHaveLength(1);
    const [fresh, stale] = decoded.timeseries[0]!.samples;
    expect(decoded.timeseries[0]!.labels).toEqual([{ name: '__name__', value: 'up' }]);
    expect(fresh).toEqual({ value: 1, timestamp: 1000, bits: '3ff0000000000000', stale: false });
    expect(stale).toMatchObject({ timestamp: 2000, bits: '7ff0000000000002', stale: true });
    expect(Number.isNaN(stale!.value)).toBe(true);
    expect(isStaleMarker(stale!.value)).toBe(true);
    expect(isStaleBits(stale!.bits)).toBe(true);
    expect(isStaleMarker(NaN)).toBe(false);
    // Our encoder writes the same bytes, and a plain NaN is not a stale marker.
    expect(Buffer.from(encodeWriteRequest([{ labels: { __name__: 'up' }, samples: [{ value: 1, timestamp: 1000 }, staleSample(2000)] }]))).toEqual(Buffer.from(raw.subarray(0, 46)));

    const ts = Date.now();
    const before = aws.receiver.counters.acceptedStaleMarkers;
    const res = await signedWrite({
      credentials: asSdk(temp),
      body: writeBody([{ labels: { __name__: 'gone', job: 'a' }, samples: [staleSample(ts), { value: NaN, timestamp: ts + 1 }] }]),
    });
    expect(res.status).toBe(200);
    const got = aws.receiver.samples('gone').map((s) => s.sample);
    expect(got.map((s) => s.stale)).toEqual([true, false]);
    expect(got[0]!.bits).toBe('7ff0000000000002');
    expect(aws.receiver.counters.acceptedStaleMarkers).toBe(before + 1);
  });

  it('consumes queued faults one per request, before processing', async () => {
    const accepted = aws.receiver.counters.acceptedRequests;
    aws.receiver.faults.push(
      { status: 500 },
      { status: 429, retryAfter: '3' },
      { status: 400, body: 'out of bounds' },
      { status: 403, code: 'ExpiredTokenException' },
      { delayMs: 150 },
    );
    const statuses: number[] = [];
    statuses.push((await signedWrite({ credentials: asSdk(temp) })).status);
    const r429 = await signedWrite({ credentials: asSdk(temp) });
    statuses.push(r429.status);
    expect(r429.headers['retry-after']).toBe('3');
    const r400 = await signedWrite({ credentials: asSdk(temp) });
    statuses.push(r400.status);
    expect(r400.body).toBe('out of bounds');
    const r403 = await signedWrite({ credentials: asSdk(temp) });
    statuses.push(r403.status);
    expect(errorOf(r403)).toEqual({ status: 403, type: 'ExpiredTokenException', message: 'The security token included in the request is expired' });
    const started = Date.now();
    statuses.push((await signedWrite({ credentials: asSdk(temp) })).status);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    expect(statuses).toEqual([500, 429, 400, 403, 200]);
    expect(aws.receiver.counters.acceptedRequests).toBe(accepted + 1);
    expect(aws.receiver.requests.slice(-5).map((r) => r.outcome)).toEqual(['fault', 'fault', 'fault', 'fault', 'accepted']);
  });

  it('forwards accepted writes upstream and relays upstream failures', async () => {
    const upstream = await startRemoteWriteReceiver({ credentials: aws.authority, verifySignature: false, successStatus: 204 });
    const front = await startRemoteWriteReceiver({ credentials: aws.authority, region: REGION, upstreamUrl: upstream.url });
    try {
      const body = writeBody();
      const sign = async () => {
        const url = new URL(front.url);
        const signer = new SignatureV4({ service: 'aps', region: REGION, credentials: asSdk(temp), sha256: Hash.bind(null, 'sha256') });
        const signed = await signer.sign(new HttpRequest({ method: 'POST', hostname: url.hostname, port: Number(url.port), path: url.pathname, headers: { host: url.host, ...RW_HEADERS }, body }));
        return send(front.url, 'POST', signed.headers as Record<string, string>, body);
      };
      expect((await sign()).status).toBe(200);
      expect(upstream.counters.acceptedSamples).toBe(1);
      expect(upstream.lastHeaders?.authorization).toBeUndefined();
      expect(upstream.lastHeaders?.['content-encoding']).toBe('snappy');
      upstream.faults.push({ status: 400, body: 'out of order sample' });
      const relayed = await sign();
      expect(relayed).toMatchObject({ status: 400, body: 'out of order sample' });
      expect(front.counters.acceptedRequests).toBe(1);
    } finally {
      await Promise.all([upstream.close(), front.close()]);
    }
  });
});

describe('fake IMDSv2 with the real SDK', () => {
  it('serves role credentials to fromInstanceMetadata() through AWS_EC2_METADATA_SERVICE_ENDPOINT', async () => {
    await useScenario(ec2Env(aws.imds));
    const tokenPuts = aws.imds.counts['/latest/api/token'] ?? 0;
    const creds = await fromInstanceMetadata()();
    expect(creds.accessKeyId).toMatch(/^ASIA[A-Z2-7]{16}$/);
    expect(creds).toMatchObject({ accessKeyId: aws.imds.current!.accessKeyId, secretAccessKey: aws.imds.current!.secretAccessKey, sessionToken: aws.imds.current!.sessionToken });
    expect(creds.expiration?.getTime()).toBe(aws.imds.current!.expiration!.getTime());
    expect(aws.imds.counts['/latest/api/token']).toBe(tokenPuts + 1);
    expect(aws.imds.requests.filter((r) => r.method === 'GET').every((r) => r.withToken)).toBe(true);
    // Those credentials sign remote writes the receiver accepts, as the instance role.
    const res = await signedWrite({ credentials: creds });
    expect(res.status).toBe(200);
    expect(aws.receiver.requests.at(-1)!.callerArn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/${aws.imds.roleName}/${aws.imds.instanceId}`);
  });

  it('keeps serving the same key, and a new one once it expired', async () => {
    await useScenario(ec2Env(aws.imds));
    const first = await fromInstanceMetadata()();
    expect((await fromInstanceMetadata()()).accessKeyId).toBe(first.accessKeyId);
    aws.authority.expire(first.accessKeyId);
    expect(errorOf(await signedWrite({ credentials: first })).type).toBe('ExpiredTokenException');
    const second = await fromInstanceMetadata()();
    expect(second.accessKeyId).not.toBe(first.accessKeyId);
    expect((await signedWrite({ credentials: second })).status).toBe(200);
  });

  it('requires IMDSv2 tokens, like HttpTokens=required', async () => {
    const base = aws.imds.url;
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers });
    expect((await get('/latest/meta-data/iam/security-credentials/')).status).toBe(401);
    expect((await fetch(`${base}/latest/api/token`, { method: 'PUT' })).status).toBe(400);
    const tokenRes = await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'x-aws-ec2-metadata-token-ttl-seconds': '60' } });
    expect(tokenRes.status).toBe(200);
    expect(tokenRes.headers.get('x-aws-ec2-metadata-token-ttl-seconds')).toBe('60');
    const token = await tokenRes.text();
    const h = { 'x-aws-ec2-metadata-token': token };
    expect(await (await get('/latest/meta-data/iam/security-credentials/', h)).text()).toBe(aws.imds.roleName);
    expect(await (await get('/latest/meta-data/placement/region', h)).text()).toBe(REGION);
    expect(await (await get('/latest/meta-data/instance-id', h)).text()).toBe(aws.imds.instanceId);
    expect(await (await get('/latest/dynamic/instance-identity/document', h)).json()).toMatchObject({ accountId: ACCOUNT, region: REGION, instanceId: aws.imds.instanceId });
    const credsJson = (await (await get(`/latest/meta-data/iam/security-credentials/${aws.imds.roleName}`, h)).json()) as Record<string, string>;
    expect(Object.keys(credsJson).sort()).toEqual(['AccessKeyId', 'Code', 'Expiration', 'LastUpdated', 'SecretAccessKey', 'Token', 'Type']);
    expect(credsJson).toMatchObject({ Code: 'Success', Type: 'AWS-HMAC' });
    expect(credsJson.Expiration).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect((await get('/latest/meta-data/placement/region', { 'x-aws-ec2-metadata-token': 'bogus' })).status).toBe(401);
  });

  it('fails the SDK cleanly during an IMDS outage (fault injection)', async () => {
    await useScenario(ec2Env(aws.imds));
    aws.imds.faults.push(...Array.from({ length: 8 }, () => ({ status: 503 })));
    await expect(fromInstanceMetadata({ maxRetries: 0 })()).rejects.toThrow();
    aws.imds.faults.length = 0;
    expect((await fromInstanceMetadata()()).accessKeyId).toMatch(/^ASIA/);
  });
});

describe('fake STS with the real SDK', () => {
  it('answers GetCallerIdentity for long-term and temporary credentials (via AWS_ENDPOINT_URL_STS)', async () => {
    useEnv(isolatedAwsEnv({ sts: aws.sts }));
    const me = await stsClient(asSdk(user)).send(new GetCallerIdentityCommand({}));
    expect(me).toMatchObject({ Arn: user.identity.arn, Account: ACCOUNT, UserId: user.identity.userId });
    const temp = aws.authority.issueTemporary(aws.authority.assumedRoleIdentity(TARGET_ROLE, 's1'));
    const them = await stsClient(asSdk(temp)).send(new GetCallerIdentityCommand({}));
    expect(them.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/amp-writer/s1`);
    expect(them.UserId).toMatch(/^AROA[A-Z2-7]{17}:s1$/);
  });

  it('AssumeRole succeeds with the right ExternalId and is AccessDenied without it or with a wrong one', async () => {
    useEnv(isolatedAwsEnv({ sts: aws.sts }));
    const client = stsClient(asSdk(user));
    const ok = await client.send(new AssumeRoleCommand({ RoleArn: TARGET_ROLE, RoleSessionName: 'fleet-agent-h1', ExternalId: EXTERNAL_ID }));
    expect(ok.Credentials?.AccessKeyId).toMatch(/^ASIA/);
    expect(ok.Credentials?.Expiration).toBeInstanceOf(Date);
    expect(ok.AssumedRoleUser).toMatchObject({ Arn: `arn:aws:sts::${ACCOUNT}:assumed-role/amp-writer/fleet-agent-h1` });
    expect(aws.sts.calls.at(-1)).toMatchObject({ action: 'AssumeRole', status: 200, callerArn: user.identity.arn });
    // The assumed credentials work against the receiver.
    const assumed = { accessKeyId: ok.Credentials!.AccessKeyId!, secretAccessKey: ok.Credentials!.SecretAccessKey!, sessionToken: ok.Credentials!.SessionToken! };
    expect((await signedWrite({ credentials: assumed })).status).toBe(200);

    for (const ExternalId of ['wrong', undefined]) {
      const err = await client.send(new AssumeRoleCommand({ RoleArn: TARGET_ROLE, RoleSessionName: 'fleet-agent-h1', ...(ExternalId ? { ExternalId } : {}) })).catch((e: unknown) => e);
      expect(err).toMatchObject({
        name: 'AccessDenied',
        message: `User: ${user.identity.arn} is not authorized to perform: sts:AssumeRole on resource: ${TARGET_ROLE}`,
        $metadata: { httpStatusCode: 403 },
      });
    }
    // An untrusted caller is denied too.
    const stranger = aws.authority.addLongTerm(aws.authority.userIdentity('stranger'));
    await expect(stsClient(asSdk(stranger)).send(new AssumeRoleCommand({ RoleArn: TARGET_ROLE, RoleSessionName: 'x1', ExternalId: EXTERNAL_ID }))).rejects.toMatchObject({
      name: 'AccessDenied',
    });
  });

  it('rejects bad signatures with the query-protocol error codes', async () => {
    useEnv(isolatedAwsEnv({ sts: aws.sts }));
    await expect(stsClient({ accessKeyId: 'AKIAZZZZZZZZZZZZZZZZ', secretAccessKey: 'nope' }).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: 'InvalidClientTokenId',
      message: 'The security token included in the request is invalid.',
      $metadata: { httpStatusCode: 403 },
    });
    await expect(stsClient({ ...asSdk(user), secretAccessKey: 'wrong' }).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
    await expect(stsClient(asSdk(user), 'eu-west-1').send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: 'SignatureDoesNotMatch',
      message: "Credential should be scoped to a valid region, not 'eu-west-1'. ",
    });
    const expired = aws.authority.issueTemporary(user.identity);
    aws.authority.expire(expired.accessKeyId);
    await expect(stsClient(asSdk(expired)).send(new GetCallerIdentityCommand({}))).rejects.toMatchObject({
      name: 'ExpiredToken',
      message: 'The security token included in the request is expired',
    });
    aws.sts.clockOffsetMs = 10 * 60_000;
    try {
      // The SDK corrects its clock from the Date header of a skew error and retries, as against real AWS.
      const retrying = new STSClient({ region: REGION, credentials: asSdk(user), maxAttempts: 2 });
      expect((await retrying.send(new GetCallerIdentityCommand({}))).Arn).toBe(user.identity.arn);
      expect(aws.sts.calls.at(-2)).toMatchObject({ code: 'SignatureDoesNotMatch', message: expect.stringMatching(/^Signature expired/) });
    } finally {
      aws.sts.clockOffsetMs = 0;
    }
  });

  it('fromTemporaryCredentials (AssumeRole with ExternalId) gets working credentials', async () => {
    useEnv(isolatedAwsEnv({ sts: aws.sts }));
    const provider = fromTemporaryCredentials({
      masterCredentials: asSdk(user),
      params: { RoleArn: TARGET_ROLE, RoleSessionName: 'fleet-agent-tc', ExternalId: EXTERNAL_ID },
      clientConfig: { region: REGION },
    });
    const creds = await provider();
    expect(aws.authority.lookup(creds.accessKeyId)?.identity.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/amp-writer/fleet-agent-tc`);
    expect((await signedWrite({ credentials: creds })).status).toBe(200);
  });

  it('fromTokenFile / fromWebToken get credentials by AssumeRoleWithWebIdentity (IRSA)', async () => {
    const scenario = await useScenario(irsaEnv(aws.sts, IRSA_ROLE, { sessionName: 'irsa-session' }));
    const before = aws.sts.counts.AssumeRoleWithWebIdentity ?? 0;
    const creds = await fromTokenFile()();
    expect(aws.sts.counts.AssumeRoleWithWebIdentity).toBe(before + 1);
    expect(aws.sts.calls.at(-1)).toMatchObject({ action: 'AssumeRoleWithWebIdentity', status: 200, params: { WebIdentityToken: WEB_TOKEN, RoleArn: IRSA_ROLE } });
    expect(aws.authority.lookup(creds.accessKeyId)?.identity.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-irsa/irsa-session`);
    const me = await stsClient(creds).send(new GetCallerIdentityCommand({}));
    expect(me.Arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-irsa/irsa-session`);

    const direct = await fromWebToken({ roleArn: IRSA_ROLE, webIdentityToken: WEB_TOKEN, roleSessionName: 'direct' })();
    expect(direct.accessKeyId).toMatch(/^ASIA/);

    await scenario.writeToken!('not-the-token');
    await expect(fromTokenFile()()).rejects.toMatchObject({ name: 'InvalidIdentityTokenException', $metadata: { httpStatusCode: 400 } });
    await expect(fromWebToken({ roleArn: `arn:aws:iam::${ACCOUNT}:role/unknown`, webIdentityToken: WEB_TOKEN })()).rejects.toMatchObject({ name: 'AccessDenied' });
  });
});

describe('fake container credentials (EKS Pod Identity / ECS) with the real SDK', () => {
  it('serves fromHttp() and fromContainerMetadata() with the authorization token', async () => {
    await useScenario(podIdentityEnv(aws.container));
    const viaHttp = await fromHttp()();
    expect(viaHttp).toMatchObject({ accessKeyId: aws.container.current!.accessKeyId, sessionToken: aws.container.current!.sessionToken });
    expect(aws.container.requests.at(-1)).toMatchObject({ status: 200, authorization: aws.container.token, path: '/v1/credentials' });
    const viaContainer = await fromContainerMetadata()();
    expect(viaContainer.accessKeyId).toBe(viaHttp.accessKeyId);
    expect((await signedWrite({ credentials: viaHttp })).status).toBe(200);
    expect(aws.receiver.requests.at(-1)!.callerArn).toMatch(new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-pod-role/`));
  });

  it('reads the token from AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE and rejects a wrong one', async () => {
    const scenario = await useScenario(podIdentityEnv(aws.container, { useTokenFile: true }));
    expect((await fromHttp()()).accessKeyId).toMatch(/^ASIA/);
    await scenario.writeToken!('wrong-token');
    await expect(fromHttp({ maxRetries: 0 })()).rejects.toThrow(/403/);
    expect(aws.container.requests.at(-1)).toMatchObject({ status: 403, authorization: 'wrong-token' });
    const res = await fetch(aws.container.url);
    expect(res.status).toBe(401);
  });
});

describe('scenario environments in a child process (the SDK default chain, as the agent uses it)', () => {
  // A plain `node` child: no Vitest conditions, no inherited AWS variables, only the scenario's.
  const script = `
    const { fromNodeProviderChain } = require('@aws-sdk/credential-providers');
    const { STSClient, GetCallerIdentityCommand } = require('@aws-sdk/client-sts');
    (async () => {
      const credentials = await fromNodeProviderChain()();
      const id = await new STSClient({ credentials, maxAttempts: 1 }).send(new GetCallerIdentityCommand({}));
      process.stdout.write(JSON.stringify({ accessKeyId: credentials.accessKeyId, arn: id.Arn }));
    })().catch((e) => { process.stderr.write(String(e && e.stack || e)); process.exit(1); });
  `;
  function runChild(env: AwsEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const childEnv: Record<string, string> = { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' };
    for (const [k, v] of Object.entries(env)) if (v !== undefined) childEnv[k] = v;
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ['-e', script], { cwd: new URL('../..', import.meta.url), env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  }
  async function identityIn(scenario: Promise<AwsScenarioEnv>): Promise<{ accessKeyId: string; arn: string }> {
    const s = await scenario;
    sandbox.track(s);
    const out = await runChild(s.env);
    expect(out.code, out.stderr).toBe(0);
    return JSON.parse(out.stdout) as { accessKeyId: string; arn: string };
  }

  it('ec2Env: instance profile through the fake IMDS', async () => {
    const id = await identityIn(ec2Env(aws.imds, { sts: aws.sts }));
    expect(id.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/${aws.imds.roleName}/${aws.imds.instanceId}`);
    expect(aws.authority.lookup(id.accessKeyId)?.issuedBy).toBe('imds');
  });

  it('irsaEnv: web identity token file through the fake STS', async () => {
    const id = await identityIn(irsaEnv(aws.sts, IRSA_ROLE));
    expect(id.arn).toMatch(new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-irsa/`));
  });

  it('podIdentityEnv: container credentials through the fake endpoint', async () => {
    const id = await identityIn(podIdentityEnv(aws.container, { sts: aws.sts, useTokenFile: true }));
    expect(id.arn).toMatch(new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-pod-role/`));
  });
});

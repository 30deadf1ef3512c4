/**
 * ManagedCredentials against the fake IMDSv2, STS and container-credentials endpoints of
 * e2e/support/aws, reached by the real AWS SDK through the environment variables each scenario
 * sets. The SDK reads them at call time: every test applies its own isolated environment and
 * restores the previous one afterwards.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  ec2Env,
  irsaEnv,
  isolatedAwsEnv,
  podIdentityEnv,
  startFakeAws,
  verifySigV4,
  waitUntil,
  type FakeAws,
  type IssuedCredentials,
  envSandbox,
} from '../../../e2e/support/aws/index.js';
import { ClockOffset } from './clock.js';
import { describeCredentialSource, ManagedCredentials, REFRESH_BEFORE_EXPIRY_MS, type CredentialSettings } from './credentials.js';
import { createRequestSigner } from './sign.js';

const REGION = 'us-east-1';
const ACCOUNT = '111122223333';
const TARGET_ROLE = `arn:aws:iam::${ACCOUNT}:role/amp-writer`;
const IRSA_ROLE = `arn:aws:iam::${ACCOUNT}:role/fleet-agent-irsa`;
const EXTERNAL_ID = 'fleet-ext-7f3a';
const WEB_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZmxlZXQ6YWdlbnQifQ.c2lnbmF0dXJl';
const MIN = 60_000;

/**
 * Simulated time shared by the fake AWS (issue/expiry/rotation of keys) and the credentials under
 * test: real time plus `skewMs`, which tests move forward (never backward: the SDK compares
 * expirations with the real clock).
 */
let skewMs = 0;
const fakeNow = (): number => Date.now() + skewMs;

let aws: FakeAws;
let user: IssuedCredentials;

beforeAll(async () => {
  aws = await startFakeAws({ region: REGION, authority: { accountId: ACCOUNT, now: fakeNow } });
  user = aws.authority.addLongTerm(aws.authority.userIdentity('fleet-operator'));
  aws.sts.addRole({
    arn: TARGET_ROLE,
    trustedPrincipals: [user.identity.arn, aws.imds.roleArn, IRSA_ROLE, aws.container.roleArn],
    externalId: EXTERNAL_ID,
  });
  aws.sts.addRole({ arn: IRSA_ROLE, webIdentityToken: WEB_TOKEN });
});
afterAll(async () => {
  await aws?.close();
});

const sandbox = envSandbox();
const { useEnv, useScenario } = sandbox;
afterEach(async () => {
  await sandbox.restore();
  aws.imds.faults.length = 0;
  aws.sts.faults.length = 0;
  aws.container.faults.length = 0;
  // Each test starts from a fresh instance-profile key.
  aws.imds.rotate();
  skewMs = 0;
});

/**
 * Credentials under test. GetCallerIdentity runs in the background and reads the environment
 * when it runs, so it is off unless a test asks for it (and then waits for it before the
 * environment is restored).
 */
function managed(settings: Partial<CredentialSettings> = {}, options: { now?: () => number; resolveCallerIdentity?: boolean } = {}): ManagedCredentials {
  return new ManagedCredentials({ region: REGION, ...settings }, { now: fakeNow, resolveCallerIdentity: false, ...options });
}

const imdsCredentialsPath = (): string => `/latest/meta-data/iam/security-credentials/${aws.imds.roleName}`;
/** How many times the fake IMDS handed out role credentials. */
const imdsFetches = (): number => aws.imds.counts[imdsCredentialsPath()] ?? 0;

/** Signs a request with `creds` and checks it with the independent verifier at the simulated time. */
async function verifiedAs(creds: ManagedCredentials): Promise<string> {
  const url = new URL(`https://aps-workspaces.${REGION}.amazonaws.com/workspaces/ws-1/api/v1/remote_write`);
  const body = Uint8Array.from([1, 2, 3]);
  const signer = createRequestSigner({ service: 'aps', region: REGION, credentials: creds, clock: new ClockOffset(fakeNow) });
  const headers = await signer.sign({ method: 'POST', url, headers: { 'content-type': 'application/x-protobuf' }, body });
  const result = verifySigV4({ method: 'POST', url: url.pathname, headers, body }, { credentials: aws.authority, region: REGION, service: 'aps', now: fakeNow });
  expect(result, result.ok ? '' : `${result.reason}: ${result.message}`).toMatchObject({ ok: true });
  return result.ok ? result.credentials.identity.arn : '';
}

const instanceRoleArn = (): string => `arn:aws:sts::${ACCOUNT}:assumed-role/${aws.imds.roleName}/${aws.imds.instanceId}`;

describe('ManagedCredentials from the EC2 instance profile (fake IMDSv2)', () => {
  it('gets the instance role credentials through the SDK chain, using IMDSv2 session tokens', async () => {
    await useScenario(ec2Env(aws.imds));
    const creds = managed();
    expect(creds.status()).toEqual({ source: null, expiration: null, callerArn: null, lastRefreshAt: null, lastError: null });
    const tokenPuts = aws.imds.counts['/latest/api/token'] ?? 0;
    const c = await creds.get();
    expect(c).toMatchObject({ accessKeyId: aws.imds.current!.accessKeyId, secretAccessKey: aws.imds.current!.secretAccessKey, sessionToken: aws.imds.current!.sessionToken });
    expect(c.expiration?.getTime()).toBe(aws.imds.current!.expiration!.getTime());
    expect(aws.imds.counts['/latest/api/token']).toBe(tokenPuts + 1);
    expect(aws.imds.requests.filter((r) => r.method === 'GET').every((r) => r.withToken)).toBe(true);
    const status = creds.status();
    expect(status.expiration?.getTime()).toBe(c.expiration!.getTime());
    expect(status.lastError).toBeNull();
    expect(Math.abs(status.lastRefreshAt!.getTime() - fakeNow())).toBeLessThan(5_000);
    expect(await verifiedAs(creds)).toBe(instanceRoleArn());
  });

  // Regression test for a fixed bug (packages/aws/src/credentials.ts, describeCredentialSource / SOURCE_NAMES): the name relies
  // on the SDK's `$source` marker CREDENTIALS_IMDS, but @aws-sdk/credential-provider-node's chain
  // (remoteProvider → @smithy/credential-provider-imds fromInstanceMetadata) never sets it; only
  // the `fromInstanceMetadata` wrapper of @aws-sdk/credential-providers does. Credentials from
  // IMDS through fromNodeProviderChain carry no `$source` at all, so status().source is
  // 'AWS SDK default chain' instead of 'EC2 instance metadata (IMDSv2)' (and the role-chaining
  // source reads 'assume role … via AWS SDK default chain').
  it('names the source "EC2 instance metadata (IMDSv2)" (also under an assumed role)', async () => {
    await useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    const direct = managed();
    await direct.get();
    expect(direct.status().source).toBe('EC2 instance metadata (IMDSv2)');
    const chained = managed({ roleArn: TARGET_ROLE, externalId: EXTERNAL_ID, sessionName: 'imds-chain' });
    await chained.get();
    expect(chained.status().source).toBe(`assume role ${TARGET_ROLE} via EC2 instance metadata (IMDSv2)`);
  });

  it('caches: two get()s hit IMDS once and return the same credentials', async () => {
    await useScenario(ec2Env(aws.imds));
    const creds = managed();
    const before = imdsFetches();
    const a = await creds.get();
    const b = await creds.get();
    expect(b).toBe(a);
    expect(imdsFetches()).toBe(before + 1);
  });

  it('refreshes once the credentials expire within 5 minutes, and every request still gets valid credentials', async () => {
    await useScenario(ec2Env(aws.imds));
    const creds = managed();
    const before = imdsFetches();
    const first = await creds.get();
    const expiresAt = first.expiration!.getTime();
    expect(expiresAt - fakeNow()).toBeGreaterThan(55 * MIN); // the authority's 1 h lifetime

    // 6 minutes before expiry: still cached.
    skewMs = expiresAt - 6 * MIN - Date.now();
    expect(await creds.get()).toBe(first);
    expect(imdsFetches()).toBe(before + 1);

    // 4 min 59 s before expiry: refreshed; EC2 (the fake) now serves a new key too.
    skewMs = expiresAt - 5 * MIN + 1_000 - Date.now();
    const concurrent = await Promise.allSettled(Array.from({ length: 8 }, () => creds.get()));
    expect(concurrent.map((r) => r.status)).toEqual(Array(8).fill('fulfilled'));
    const keys = new Set(concurrent.map((r) => (r.status === 'fulfilled' ? r.value.accessKeyId : '')));
    expect(keys.size).toBe(1);
    const second = (concurrent[0] as PromiseFulfilledResult<Awaited<ReturnType<ManagedCredentials['get']>>>).value;
    expect(second.accessKeyId).not.toBe(first.accessKeyId);
    expect(second.accessKeyId).toBe(aws.imds.current!.accessKeyId);
    expect(imdsFetches()).toBe(before + 2);
    expect(creds.status().expiration!.getTime()).toBe(second.expiration!.getTime());
    // A request signed now is accepted (and the old key would still have been valid too).
    expect(await verifiedAs(creds)).toBe(instanceRoleArn());
    expect(aws.authority.isExpired(first.accessKeyId, fakeNow())).toBe(false);
    // Then cached again.
    expect(await creds.get()).toBe(second);
    expect(imdsFetches()).toBe(before + 2);
  });

  it('refreshes exactly when 5 minutes (REFRESH_BEFORE_EXPIRY_MS) or less remain', async () => {
    expect(REFRESH_BEFORE_EXPIRY_MS).toBe(5 * MIN);
    await useScenario(ec2Env(aws.imds));
    let now = fakeNow();
    const creds = managed({}, { now: () => now });
    const before = imdsFetches();
    const first = await creds.get();
    const expiresAt = first.expiration!.getTime();
    now = expiresAt - REFRESH_BEFORE_EXPIRY_MS - 1;
    await creds.get();
    expect(imdsFetches()).toBe(before + 1);
    now = expiresAt - REFRESH_BEFORE_EXPIRY_MS;
    await creds.get();
    expect(imdsFetches()).toBe(before + 2);
    expect(creds.status().lastRefreshAt?.getTime()).toBe(now);
  });

  it('invalidate() forces a new fetch (and picks up a rotated key)', async () => {
    await useScenario(ec2Env(aws.imds));
    const creds = managed();
    const before = imdsFetches();
    const first = await creds.get();
    creds.invalidate();
    const again = await creds.get();
    expect(imdsFetches()).toBe(before + 2);
    expect(again.accessKeyId).toBe(first.accessKeyId); // EC2 serves the same key until it nears expiry
    aws.imds.rotate();
    creds.invalidate();
    const rotated = await creds.get();
    expect(imdsFetches()).toBe(before + 3);
    expect(rotated.accessKeyId).not.toBe(first.accessKeyId);
    expect(await verifiedAs(creds)).toBe(instanceRoleArn());
  });

  it('concurrent get()s and refresh()es share one resolution', async () => {
    await useScenario(ec2Env(aws.imds));
    const creds = managed();
    const before = imdsFetches();
    const tokenPuts = aws.imds.counts['/latest/api/token'] ?? 0;
    const p1 = creds.refresh();
    const p2 = creds.refresh();
    expect(p2).toBe(p1);
    const all = await Promise.all([p1, ...Array.from({ length: 10 }, () => creds.get())]);
    expect(new Set(all).size).toBe(1);
    expect(imdsFetches()).toBe(before + 1);
    expect(aws.imds.counts['/latest/api/token']).toBe(tokenPuts + 1);
    // Once settled, a new refresh() resolves again.
    await creds.refresh();
    expect(imdsFetches()).toBe(before + 2);
  });

  it('an IMDS outage rejects get() with status().lastError set; recovery clears it', async () => {
    await useScenario(ec2Env(aws.imds));
    const creds = managed();
    aws.imds.faults.push(...Array.from({ length: 30 }, () => ({ status: 500, body: 'Internal Server Error' })));
    await expect(creds.get()).rejects.toThrow();
    const failed = creds.status();
    expect(failed.lastError).toEqual(expect.any(String));
    expect(failed.lastError).not.toContain('\n');
    expect(failed.source).toBeNull();
    aws.imds.faults.length = 0;
    const c = await creds.get();
    expect(c.accessKeyId).toBe(aws.imds.current!.accessKeyId);
    expect(creds.status().lastError).toBeNull();
  });

  // Regression test for a fixed bug (packages/aws/src/credentials.ts, get(): `return this.refresh()`): the early refresh
  // (5 minutes before expiry) exists so that a transient failure of the credential source does
  // not fail requests, but when that refresh fails get() rejects although the cached
  // credentials are still valid for minutes: every request in that window is dropped.
  // Expected: get() falls back to the still-valid cached credentials (recording lastError).
  it('keeps serving still-valid cached credentials when the early refresh fails', async () => {
    await useScenario(ec2Env(aws.imds));
    const creds = managed();
    const first = await creds.get();
    skewMs = first.expiration!.getTime() - 4 * MIN - Date.now(); // 4 minutes left: refresh due
    aws.imds.faults.push(...Array.from({ length: 30 }, () => ({ status: 500, body: 'Internal Server Error' })));
    const got = await creds.get().catch((err: unknown) => err);
    expect(creds.status().lastError).toEqual(expect.any(String));
    expect(got).toBe(first);
  });
});

describe('ManagedCredentials with role chaining (AssumeRole + ExternalId on the fake STS)', () => {
  it('assumes the role on top of the instance profile, with the ExternalId', async () => {
    await useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    const creds = managed({ roleArn: TARGET_ROLE, externalId: EXTERNAL_ID, sessionName: 'fleet-agent-h1' });
    const before = aws.sts.counts.AssumeRole ?? 0;
    const c = await creds.get();
    expect(aws.sts.counts.AssumeRole).toBe(before + 1);
    expect(aws.sts.calls.at(-1)).toMatchObject({
      action: 'AssumeRole',
      status: 200,
      callerArn: instanceRoleArn(), // signed with the instance profile's key
      params: { RoleArn: TARGET_ROLE, RoleSessionName: 'fleet-agent-h1', ExternalId: EXTERNAL_ID, DurationSeconds: '3600' },
      issuedAccessKeyId: c.accessKeyId,
    });
    const issued = aws.authority.lookup(c.accessKeyId)!;
    expect(issued).toMatchObject({ issuedBy: 'sts:AssumeRole', sessionToken: c.sessionToken, secretAccessKey: c.secretAccessKey });
    expect(issued.identity.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/amp-writer/fleet-agent-h1`);
    expect(creds.status().source).toMatch(new RegExp(`^assume role ${TARGET_ROLE.replace(/[/]/g, '\\/')} via .+$`));
    expect(creds.status().expiration?.getTime()).toBe(issued.expiration!.getTime());
    expect(await verifiedAs(creds)).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/amp-writer/fleet-agent-h1`);
    // Cached like any other credentials.
    expect(await creds.get()).toBe(c);
    expect(aws.sts.counts.AssumeRole).toBe(before + 1);
  });

  it('names the base source under the assumed role (static keys) and uses a valid default session name', async () => {
    useEnv(isolatedAwsEnv({ sts: aws.sts }));
    const creds = managed({ accessKey: user.accessKeyId, secretKey: user.secretAccessKey, roleArn: TARGET_ROLE, externalId: EXTERNAL_ID });
    const c = await creds.get();
    expect(creds.status().source).toBe(`assume role ${TARGET_ROLE} via static keys in config`);
    const call = aws.sts.calls.at(-1)!;
    expect(call).toMatchObject({ action: 'AssumeRole', status: 200, callerArn: user.identity.arn });
    expect(call.params.RoleSessionName).toMatch(/^fleet-agent-[\w+=,.@-]+$/);
    expect(call.params.RoleSessionName!.length).toBeLessThanOrEqual(64);
    expect(aws.authority.lookup(c.accessKeyId)!.identity.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/amp-writer/${call.params.RoleSessionName}`);
  });

  it('rejects a wrong or missing ExternalId with AccessDenied, recorded in status().lastError', async () => {
    await useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    for (const externalId of ['wrong-external-id', undefined]) {
      const creds = managed({ roleArn: TARGET_ROLE, externalId, sessionName: 'fleet-agent-h1' });
      const err = await creds.get().catch((e: unknown) => e);
      expect(err, String(externalId)).toMatchObject({ name: 'AccessDenied', $metadata: { httpStatusCode: 403 } });
      expect(aws.sts.calls.at(-1)).toMatchObject({ action: 'AssumeRole', status: 403, code: 'AccessDenied' });
      if (externalId) expect(aws.sts.calls.at(-1)!.params.ExternalId).toBe(externalId);
      else expect(aws.sts.calls.at(-1)!.params).not.toHaveProperty('ExternalId');
      const status = creds.status();
      expect(status.lastError).toBe(`User: ${instanceRoleArn()} is not authorized to perform: sts:AssumeRole on resource: ${TARGET_ROLE}`);
      expect(status.source).toBeNull();
      expect(status.expiration).toBeNull();
      // Nothing cached: the next get() asks STS again.
      const calls = aws.sts.counts.AssumeRole ?? 0;
      await expect(creds.get()).rejects.toMatchObject({ name: 'AccessDenied' });
      expect(aws.sts.counts.AssumeRole).toBe(calls + 1);
    }
  });

  it('assumes the role on top of IRSA', async () => {
    await useScenario(irsaEnv(aws.sts, IRSA_ROLE, { sessionName: 'irsa-base' }));
    const creds = managed({ roleArn: TARGET_ROLE, externalId: EXTERNAL_ID, sessionName: 'irsa-chain' });
    const c = await creds.get();
    expect(creds.status().source).toBe(`assume role ${TARGET_ROLE} via web identity token (IRSA)`);
    expect(aws.sts.calls.at(-1)).toMatchObject({ action: 'AssumeRole', callerArn: `arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-irsa/irsa-base` });
    expect(aws.authority.lookup(c.accessKeyId)!.identity.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/amp-writer/irsa-chain`);
  });
});

describe('ManagedCredentials from other sources', () => {
  it('IRSA (web identity token file) is named "web identity token (IRSA)"', async () => {
    await useScenario(irsaEnv(aws.sts, IRSA_ROLE, { sessionName: 'irsa-session' }));
    const creds = managed();
    const before = aws.sts.counts.AssumeRoleWithWebIdentity ?? 0;
    const c = await creds.get();
    expect(aws.sts.counts.AssumeRoleWithWebIdentity).toBe(before + 1);
    expect(aws.sts.calls.at(-1)).toMatchObject({ action: 'AssumeRoleWithWebIdentity', status: 200, params: { RoleArn: IRSA_ROLE, WebIdentityToken: WEB_TOKEN } });
    expect(creds.status().source).toBe('web identity token (IRSA)');
    expect(aws.authority.lookup(c.accessKeyId)!.identity.arn).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-irsa/irsa-session`);
    expect(await verifiedAs(creds)).toBe(`arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-irsa/irsa-session`);
  });

  it('EKS Pod Identity (container credentials, token and token file) is named "container credentials (EKS Pod Identity / ECS)"', async () => {
    for (const useTokenFile of [false, true]) {
      await useScenario(podIdentityEnv(aws.container, { useTokenFile }));
      const creds = managed();
      const c = await creds.get();
      expect(c.accessKeyId).toBe(aws.container.current!.accessKeyId);
      expect(aws.container.requests.at(-1)).toMatchObject({ status: 200, authorization: aws.container.token });
      expect(creds.status().source).toBe('container credentials (EKS Pod Identity / ECS)');
      expect(await verifiedAs(creds)).toMatch(new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-pod-role/`));
    }
  });

  it('static keys in the config win over the environment, are named "static keys in config" and never expire', async () => {
    const other = aws.authority.addLongTerm(aws.authority.userIdentity('env-user'));
    useEnv({ ...isolatedAwsEnv(), AWS_ACCESS_KEY_ID: other.accessKeyId, AWS_SECRET_ACCESS_KEY: other.secretAccessKey });
    const creds = managed({ accessKey: user.accessKeyId, secretKey: user.secretAccessKey });
    const c = await creds.get();
    expect(c).toEqual({ accessKeyId: user.accessKeyId, secretAccessKey: user.secretAccessKey });
    expect(creds.status()).toMatchObject({ source: 'static keys in config', expiration: null, lastError: null });
    skewMs = 365 * 24 * 60 * MIN;
    expect(await creds.get()).toBe(c);
    skewMs = 0;
    expect(await verifiedAs(creds)).toBe(user.identity.arn);
    // Only one of the two keys configured: the chain is used (here: the environment).
    const half = managed({ accessKey: user.accessKeyId });
    expect((await half.get()).accessKeyId).toBe(other.accessKeyId);
    expect(half.status().source).toBe('environment variables');
  });

  it('a shared-credentials profile is named "profile <name>"', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'fleet-aws-profile-'));
    try {
      const file = path.join(dir, 'credentials');
      await writeFile(file, `[default]\naws_access_key_id = AKIADEFAULTNOTUSED00\naws_secret_access_key = nope\n\n[fleet]\naws_access_key_id = ${user.accessKeyId}\naws_secret_access_key = ${user.secretAccessKey}\n`);
      useEnv({ ...isolatedAwsEnv(), AWS_SHARED_CREDENTIALS_FILE: file });
      const creds = managed({ profile: 'fleet' });
      expect((await creds.get()).accessKeyId).toBe(user.accessKeyId);
      expect(creds.status().source).toBe('profile fleet');
      await expect(managed({ profile: 'missing' }).get()).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('no credentials anywhere: CredentialsProviderError, status().lastError set', async () => {
    useEnv(isolatedAwsEnv());
    const creds = managed();
    await expect(creds.get()).rejects.toMatchObject({ name: 'CredentialsProviderError' });
    expect(creds.status()).toMatchObject({ source: null, lastError: 'Could not load credentials from any providers' });
  });

  it('status() is a snapshot, not the live state', async () => {
    useEnv(isolatedAwsEnv());
    const creds = managed({ accessKey: user.accessKeyId, secretKey: user.secretAccessKey });
    const snapshot = creds.status();
    await creds.get();
    expect(snapshot.source).toBeNull();
    snapshot.source = 'tampered';
    expect(creds.status().source).toBe('static keys in config');
  });

  it('describeCredentialSource maps the SDK $source markers, with a fallback', () => {
    const withSource = (marks: Record<string, string>) => ({ accessKeyId: 'A', secretAccessKey: 'S', $source: marks });
    expect(describeCredentialSource(withSource({ CREDENTIALS_IMDS: '0' }))).toBe('EC2 instance metadata (IMDSv2)');
    expect(describeCredentialSource(withSource({ CREDENTIALS_HTTP: 'z' }))).toBe('container credentials (EKS Pod Identity / ECS)');
    expect(describeCredentialSource(withSource({ CREDENTIALS_ENV_VARS: 'g' }))).toBe('environment variables');
    expect(describeCredentialSource({ accessKeyId: 'A', secretAccessKey: 'S' }, {})).toBe('EC2 instance metadata (IMDSv2)');
    expect(describeCredentialSource({ accessKeyId: 'A', secretAccessKey: 'S' }, { AWS_CONTAINER_CREDENTIALS_FULL_URI: 'http://127.0.0.1:1/creds' })).toBe(
      'container credentials (EKS Pod Identity / ECS)',
    );
  });
});

describe('ManagedCredentials: callerArn from sts:GetCallerIdentity, in the background', () => {
  /** Polls status().callerArn (no fixed sleeps); the environment must stay applied meanwhile. */
  async function callerArnOf(creds: ManagedCredentials, expected: string): Promise<void> {
    await waitUntil(() => creds.status().callerArn === expected, 10_000, `callerArn ${expected} (now ${creds.status().callerArn})`);
  }

  it('fills in callerArn for static keys, once per access key', async () => {
    useEnv(isolatedAwsEnv({ sts: aws.sts }));
    const creds = managed({ accessKey: user.accessKeyId, secretKey: user.secretAccessKey }, { resolveCallerIdentity: true });
    const before = aws.sts.counts.GetCallerIdentity ?? 0;
    await creds.get();
    // get() does not wait for it: the STS round trip has not happened yet.
    expect(creds.status().callerArn).toBeNull();
    await callerArnOf(creds, user.identity.arn);
    expect(aws.sts.counts.GetCallerIdentity).toBe(before + 1);
    expect(aws.sts.calls.filter((c) => c.action === 'GetCallerIdentity').at(-1)).toMatchObject({ status: 200, callerArn: user.identity.arn });
    // Same key again (cached, or re-resolved after invalidate()): not asked again.
    await creds.get();
    creds.invalidate();
    await creds.get();
    await callerArnOf(creds, user.identity.arn);
    expect(aws.sts.counts.GetCallerIdentity).toBe(before + 1);
  });

  it('fills in the instance role session for IMDS credentials and the assumed role for a chained role', async () => {
    await useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    const direct = managed({}, { resolveCallerIdentity: true });
    await direct.get();
    await callerArnOf(direct, instanceRoleArn());
    const chained = managed({ roleArn: TARGET_ROLE, externalId: EXTERNAL_ID, sessionName: 'who-am-i' }, { resolveCallerIdentity: true });
    await chained.get();
    await callerArnOf(chained, `arn:aws:sts::${ACCOUNT}:assumed-role/amp-writer/who-am-i`);
  });

  it('follows a change of identity after invalidate()', async () => {
    const other = aws.authority.addLongTerm(aws.authority.userIdentity('second-operator'));
    useEnv({ ...isolatedAwsEnv({ sts: aws.sts }), AWS_ACCESS_KEY_ID: user.accessKeyId, AWS_SECRET_ACCESS_KEY: user.secretAccessKey });
    const creds = managed({}, { resolveCallerIdentity: true });
    await creds.get();
    await callerArnOf(creds, user.identity.arn);
    useEnv({ ...isolatedAwsEnv({ sts: aws.sts }), AWS_ACCESS_KEY_ID: other.accessKeyId, AWS_SECRET_ACCESS_KEY: other.secretAccessKey });
    creds.invalidate();
    expect((await creds.get()).accessKeyId).toBe(other.accessKeyId);
    await callerArnOf(creds, other.identity.arn);
  });

  it('a failing GetCallerIdentity leaves callerArn null and does not fail get()', async () => {
    useEnv(isolatedAwsEnv({ sts: aws.sts }));
    const unknownKey = 'AKIAZZZZZZZZZZZZZZZ1';
    const creds = managed({ accessKey: unknownKey, secretKey: 'x'.repeat(40) }, { resolveCallerIdentity: true });
    expect((await creds.get()).accessKeyId).toBe(unknownKey);
    const answered = () => aws.sts.calls.some((c) => c.action === 'GetCallerIdentity' && c.code === 'InvalidClientTokenId');
    await waitUntil(answered, 10_000, 'GetCallerIdentity rejected by the fake STS');
    expect(creds.status()).toMatchObject({ callerArn: null, lastError: null, source: 'static keys in config' });
  });
});

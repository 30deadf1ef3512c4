/**
 * AWS identity proof, whole process: a control plane whose STS allow-list (FLEET_STS_ENDPOINTS)
 * is a fake STS on loopback, an enrollment token bound to an account and a role pattern, and
 * `fleet-agent enroll` proving its identity with the credentials of the default chain (IRSA
 * through the fake STS). The refusals are crafted directly with the agent's signer, each sent
 * from its own loopback address so the per-source enrollment rate limit never interferes.
 */
import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ClockOffset, createRequestSigner, type ManagedCredentials } from '@fleet/aws';
import { GET_CALLER_IDENTITY_BODY, IDENTITY_CHALLENGE_HEADER } from '@fleet/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAgentToExit } from '../support/agent.js';
import { CredentialAuthority, irsaEnv, startFakeSts, type AwsScenarioEnv, type FakeSts, type IssuedCredentials } from '../support/aws/index.js';
import { runToExit, startControlPlane, type RunningControlPlane } from '../support/control-plane.js';

const ADMIN = { email: 'admin@example.com', password: 'a long admin password' };
const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/fleet-agent-prod`;
const WEB_TOKEN = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZmxlZXQ6YWdlbnQifQ.c2lnbmF0dXJl';
const BINDING = { accountIds: [ACCOUNT], roleArnGlobs: [`arn:aws:iam::${ACCOUNT}:role/fleet-agent-*`] };
const description = { hostname: 'ip-10-0-0-8', version: '0.1.0', platform: 'generic', labels: {} };

/** A JSON POST from a given loopback source address (each source has its own rate-limit window). */
function postFrom(source: string, url: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = httpRequest(url, { method: 'POST', localAddress: source, headers: { 'content-type': 'application/json', 'content-length': data.length } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown> }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(data);
  });
}

describe('AWS identity proof for enrollment tokens with an AWS binding', () => {
  let cp: RunningControlPlane;
  let sts: FakeSts;
  let authority: CredentialAuthority;
  let dir: string;
  let cookie = '';
  let token = '';
  let irsa: AwsScenarioEnv;
  let nextSource = 10;
  const source = () => `127.0.0.${nextSource++}`;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-identity-'));
    authority = new CredentialAuthority({ accountId: ACCOUNT });
    sts = await startFakeSts({
      authority,
      region: ['us-east-1', 'eu-west-1'],
      roles: [
        { arn: ROLE, webIdentityToken: WEB_TOKEN },
        { arn: `arn:aws:iam::${ACCOUNT}:role/web-server`, webIdentityToken: WEB_TOKEN },
      ],
    });
    irsa = await irsaEnv(sts, ROLE);
    cp = await startControlPlane({ DATA_DIR: path.join(dir, 'cp'), ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, FLEET_STS_ENDPOINTS: sts.url });
    const res = await fetch(`${cp.url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: cp.url }, body: JSON.stringify(ADMIN) });
    cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    token = (await trpc('enrollment.create', { name: 'prod agents', expiresInHours: 1, awsBinding: BINDING })).token as string;
  });
  afterAll(async () => {
    await cp?.stop();
    await sts?.close();
    await irsa?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  async function trpc(procedure: string, input: unknown): Promise<Record<string, unknown>> {
    const res = await fetch(`${cp.url}/api/trpc/${procedure}`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: cp.url }, body: JSON.stringify(input) });
    const body = (await res.json()) as { result?: { data: Record<string, unknown> }; error?: unknown };
    if (!body.result) throw new Error(`${procedure}: ${JSON.stringify(body.error)}`);
    return body.result.data;
  }

  // The SDK warns on stderr that its 2027 releases need Node 22; keep stderr to the agent's own words.
  const agentEnv = (extra: Record<string, string | undefined> = {}) => ({
    ...irsa.env,
    FLEET_AGENT_SA_NAMESPACE_FILE: path.join(dir, 'none'),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...extra,
  });

  interface Craft {
    creds: IssuedCredentials;
    /** Challenge to carry; default a fresh one fetched from `from`. */
    challenge?: string;
    unsignedChallenge?: boolean;
    url?: string;
    body?: string;
    now?: () => number;
  }

  /** Fetches a challenge and signs a GetCallerIdentity proof the way the agent does (or with one thing changed). */
  async function craft(from: string, o: Craft) {
    const challenge = o.challenge ?? ((await postFrom(from, `${cp.url}/agent/v1/enroll/challenge`, {})).json.challenge as string);
    const credentials = { get: async () => ({ accessKeyId: o.creds.accessKeyId, secretAccessKey: o.creds.secretAccessKey, sessionToken: o.creds.sessionToken }) } as unknown as ManagedCredentials;
    const signer = createRequestSigner({ service: 'sts', region: 'us-east-1', credentials, clock: new ClockOffset(o.now) });
    const url = new URL(o.url ?? `${sts.url}/`);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' };
    if (!o.unsignedChallenge) headers[IDENTITY_CHALLENGE_HEADER] = challenge;
    const signed = await signer.sign({ method: 'POST', url, headers, body: Buffer.from(GET_CALLER_IDENTITY_BODY) });
    if (o.unsignedChallenge) signed[IDENTITY_CHALLENGE_HEADER] = challenge;
    return { challenge, identityProof: { method: 'POST', url: url.toString(), headers: signed, body: o.body ?? GET_CALLER_IDENTITY_BODY } };
  }

  const roleSession = (roleArn: string, session = 'i-0abc123') => authority.issueTemporary(authority.assumedRoleIdentity(roleArn, session));
  const enrollFrom = (from: string, identityProof?: unknown) => postFrom(from, `${cp.url}/agent/v1/enroll`, { token, description, ...(identityProof ? { identityProof } : {}) });

  it('a bad FLEET_STS_ENDPOINTS stops the control plane with one line naming it', async () => {
    const out = await runToExit({ DATA_DIR: path.join(dir, 'bad'), FLEET_STS_ENDPOINTS: 'http://sts.example.com' });
    expect(out.code).toBe(1);
    expect(out.stderr).toBe('fleet control plane: FLEET_STS_ENDPOINTS: "http://sts.example.com": http is allowed only for loopback hosts; use https (got "http://sts.example.com")\n');
  });

  it('the challenge endpoint hands out single-use challenges that live 5 minutes', async () => {
    const { status, json } = await postFrom(source(), `${cp.url}/agent/v1/enroll/challenge`, {});
    expect(status).toBe(201);
    expect(json.challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(json.expiresAt as string) - Date.now();
    expect(ttl).toBeGreaterThan(4 * 60_000);
    expect(ttl).toBeLessThanOrEqual(5 * 60_000);
  });

  it('fleet-agent enroll with the credentials of a matching role (IRSA) enrolls: asked for a proof, it signs one', async () => {
    const before = sts.counts.GetCallerIdentity ?? 0;
    const out = await runAgentToExit(['enroll', '--server', cp.url, '--token', token, '--state-dir', path.join(dir, 'agent-1')], agentEnv());
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    expect(out.stdout).toMatch(new RegExp(`^enrolled with ${cp.url.replace(/[.]/g, '\\.')} as agent [0-9a-f-]{36} \\(generic\\) with an AWS identity proof \\(signed for ${sts.url.replace(/[.]/g, '\\.')}, us-east-1\\)`));
    // The control plane (not the agent) asked STS, with the agent's IRSA role session.
    expect(sts.counts.GetCallerIdentity).toBe(before + 1);
    expect(sts.calls.filter((c) => c.action === 'GetCallerIdentity').at(-1)!.callerArn).toMatch(new RegExp(`^arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-prod/`));
    const audit = (await trpc('audit.list', { action: 'agent.enroll' })) as unknown as { entries: Array<{ after: Record<string, unknown> }> };
    expect(audit.entries[0]!.after).toMatchObject({ token: 'prod agents', awsIdentityArn: ROLE, awsCallerArn: expect.stringMatching(/assumed-role\/fleet-agent-prod\//) });
    expect(cp.logs.some((l) => l.msg === 'agent enrolled' && l.awsIdentityArn === ROLE)).toBe(true);
  });

  it('fleet-agent enroll --aws-identity sends the proof up front; a wrong role is refused with the reason in its output', async () => {
    const upfront = await runAgentToExit(['enroll', '--server', cp.url, '--token', token, '--state-dir', path.join(dir, 'agent-2'), '--aws-identity'], agentEnv());
    expect(upfront.code).toBe(0);
    expect(upfront.stdout).toContain('with an AWS identity proof');
    const wrong = await runAgentToExit(['enroll', '--server', cp.url, '--token', token, '--state-dir', path.join(dir, 'agent-3')], agentEnv({ AWS_ROLE_ARN: `arn:aws:iam::${ACCOUNT}:role/web-server` }));
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toBe(
      `fleet-agent: the control plane refused the enrollment (HTTP 403): identity proof: the AWS identity arn:aws:iam::${ACCOUNT}:role/web-server matches none of this token's role ARN patterns (arn:aws:iam::${ACCOUNT}:role/fleet-agent-*)\n`,
    );
  });

  it('a bound token without a proof is refused with code identity_proof_required', async () => {
    const { status, json } = await enrollFrom(source());
    expect(status).toBe(401);
    expect(json).toMatchObject({ code: 'identity_proof_required', field: 'identityProof' });
    expect(json.error).toMatch(/^identity proof: this token requires an AWS identity proof/);
  });

  it('a crafted valid proof enrolls', async () => {
    const from = source();
    const { identityProof } = await craft(from, { creds: roleSession(ROLE) });
    const { status, json } = await enrollFrom(from, identityProof);
    expect(status).toBe(201);
    expect(Object.keys(json).sort()).toEqual(['agentId', 'agentSecret', 'heartbeatIntervalMs']);
  });

  it('wrong account: refused', async () => {
    const from = source();
    const { identityProof } = await craft(from, { creds: roleSession(`arn:aws:iam::${OTHER_ACCOUNT}:role/fleet-agent-prod`) });
    const { status, json } = await enrollFrom(from, identityProof);
    expect(status).toBe(403);
    expect(json).toEqual({
      code: 'account_not_allowed',
      field: 'identityProof',
      error: `identity proof: the AWS identity arn:aws:iam::${OTHER_ACCOUNT}:role/fleet-agent-prod is in account ${OTHER_ACCOUNT}, which this token does not allow (allowed: ${ACCOUNT})`,
    });
  });

  it('wrong role: refused, whatever the session is called', async () => {
    const from = source();
    const { identityProof } = await craft(from, { creds: roleSession(`arn:aws:iam::${ACCOUNT}:role/web-server`, 'fleet-agent-prod') });
    const { status, json } = await enrollFrom(from, identityProof);
    expect(status).toBe(403);
    expect(json).toMatchObject({ code: 'role_not_allowed', error: `identity proof: the AWS identity arn:aws:iam::${ACCOUNT}:role/web-server matches none of this token's role ARN patterns (arn:aws:iam::${ACCOUNT}:role/fleet-agent-*)` });
  });

  it('reused challenge: refused the second time', async () => {
    const from = source();
    const first = await craft(from, { creds: roleSession(ROLE) });
    expect((await enrollFrom(from, first.identityProof)).status).toBe(201);
    const again = await craft(from, { creds: roleSession(ROLE), challenge: first.challenge });
    const { status, json } = await enrollFrom(from, again.identityProof);
    expect(status).toBe(401);
    expect(json).toMatchObject({ code: 'challenge_unknown', error: 'identity proof: the challenge is unknown or already used (challenges are single-use; fetch a new one)' });
  });

  it('unsigned challenge header: refused', async () => {
    const from = source();
    const { identityProof } = await craft(from, { creds: roleSession(ROLE), unsignedChallenge: true });
    const { status, json } = await enrollFrom(from, identityProof);
    expect(status).toBe(401);
    expect(json).toMatchObject({ code: 'challenge_unsigned', error: "identity proof: the x-fleet-challenge header is not signed (it must be listed in the Authorization header's SignedHeaders)" });
  });

  it('altered body: refused, and the challenge it carried cannot be retried', async () => {
    const from = source();
    const altered = await craft(from, { creds: roleSession(ROLE), body: 'Action=GetCallerIdentity&Version=2011-06-15&Action=AssumeRole' });
    const { status, json } = await enrollFrom(from, altered.identityProof);
    expect(status).toBe(401);
    expect(json).toMatchObject({ code: 'proof_body', error: 'identity proof: the body must be exactly Action=GetCallerIdentity&Version=2011-06-15' });
    const retry = await craft(from, { creds: roleSession(ROLE), challenge: altered.challenge });
    expect((await enrollFrom(from, retry.identityProof)).json.code).toBe('challenge_unknown');
  });

  it('stale date: refused with the skew', async () => {
    const from = source();
    const { identityProof } = await craft(from, { creds: roleSession(ROLE), now: () => Date.now() - 7 * 60_000 });
    const { status, json } = await enrollFrom(from, identityProof);
    expect(status).toBe(401);
    expect(json.code).toBe('stale_signature');
    expect(json.error).toMatch(/^identity proof: stale signature: X-Amz-Date \d{8}T\d{6}Z is 7 min \d+ s behind the control plane's clock \(allowed ±5 min 0 s\); check the agent's clock$/);
  });

  it('a request aimed at a host that is not allow-listed: refused and never sent anywhere', async () => {
    const from = source();
    const calls = sts.calls.length;
    const elsewhere = sts.url.replace('127.0.0.1', 'localhost');
    const { identityProof } = await craft(from, { creds: roleSession(ROLE), url: `${elsewhere}/` });
    const { status, json } = await enrollFrom(from, identityProof);
    expect(status).toBe(401);
    expect(json).toMatchObject({ code: 'sts_endpoint_not_allowed', error: `identity proof: ${elsewhere} is not an allow-listed STS endpoint (allowed: ${sts.url})` });
    expect(sts.calls.length).toBe(calls);
    const tokens = (await trpc('enrollment.list', undefined)) as unknown as Array<{ name: string; useCount: number }>;
    // Two CLI enrollments, the crafted valid one and the first of the reused challenge; no refusal used the token.
    expect(tokens.find((t) => t.name === 'prod agents')!.useCount).toBe(4);
  });
});

/**
 * AWS identity proofs checked against the fake STS of e2e/support/aws on loopback: requests are
 * signed with the agent's signer (@fleet/aws, @smithy/signature-v4) and the fake STS verifies
 * them with its independent SigV4 verifier, so a proof passes only when a real STS would answer.
 */
import { agents, identityChallenges, type DatabaseHandle } from '@fleet/db';
import { describeEachDatabase } from '@fleet/db/test-support';
import { ClockOffset, createRequestSigner, type ManagedCredentials } from '@fleet/aws';
import { GET_CALLER_IDENTITY_BODY as PROTOCOL_BODY, IDENTITY_CHALLENGE_HEADER as PROTOCOL_HEADER } from '@fleet/protocol';
import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CredentialAuthority, startFakeSts, type FakeSts, type IssuedCredentials } from '../../../../e2e/support/aws/index.js';
import { enrollAgent, type EnrollingAgent } from '../agents/enroll.js';
import { listAudit } from '../audit/audit.js';
import { AppError } from '../errors.js';
import {
  arnGlobMatches,
  DEFAULT_STS_ENDPOINTS,
  GET_CALLER_IDENTITY_BODY,
  IDENTITY_CHALLENGE_HEADER,
  IdentityProofError,
  issueIdentityChallenge,
  normaliseCallerArn,
  parseStsEndpoints,
  verifyIdentityProof,
  type AwsIdentityBinding,
  type IdentityProof,
  type IdentityProofRefusal,
} from './identity-proof.js';
import { createEnrollmentToken } from './tokens.js';

const ACCOUNT = '111122223333';
const OTHER_ACCOUNT = '444455556666';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/fleet-agent-prod`;
const BINDING = { accountIds: [ACCOUNT], roleArnGlobs: [`arn:aws:iam::${ACCOUNT}:role/fleet-agent-*`] } satisfies AwsIdentityBinding;
const MIN = 60_000;

describe('identity proof helpers', () => {
  it('normalises assumed-role sessions to the role ARN (partition kept, session dropped), keeps users, rejects others', () => {
    expect(normaliseCallerArn(`arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-prod/i-0abc123`)).toEqual({ arn: ROLE, account: ACCOUNT, kind: 'role' });
    expect(normaliseCallerArn('arn:aws-cn:sts::210987654321:assumed-role/r/s')).toEqual({ arn: 'arn:aws-cn:iam::210987654321:role/r', account: '210987654321', kind: 'role' });
    expect(normaliseCallerArn(`arn:aws:iam::${ACCOUNT}:user/ops/alice`)).toEqual({ arn: `arn:aws:iam::${ACCOUNT}:user/ops/alice`, account: ACCOUNT, kind: 'user' });
    expect(normaliseCallerArn(`arn:aws:iam::${ACCOUNT}:root`)).toBeUndefined();
    expect(normaliseCallerArn(`arn:aws:sts::${ACCOUNT}:federated-user/bob`)).toBeUndefined();
    expect(normaliseCallerArn(`arn:aws:sts::${ACCOUNT}:assumed-role/a/b/c`)).toBeUndefined();
  });

  it('matches ARN globs with * and ? over the whole ARN, case-sensitively, regex characters literal', () => {
    expect(arnGlobMatches('arn:aws:iam::*:role/fleet-*', ROLE)).toBe(true);
    expect(arnGlobMatches(`arn:aws:iam::${ACCOUNT}:role/fleet-agent-pro?`, ROLE)).toBe(true);
    expect(arnGlobMatches(`arn:aws:iam::${ACCOUNT}:role/fleet-agent-pro`, ROLE)).toBe(false);
    expect(arnGlobMatches(`arn:aws:iam::${ACCOUNT}:role/Fleet-*`, ROLE)).toBe(false);
    expect(arnGlobMatches('arn:aws:iam::111122223333:role/a.b', 'arn:aws:iam::111122223333:role/aXb')).toBe(false);
    expect(arnGlobMatches('*', '')).toBe(true);
    expect(arnGlobMatches('a*b*c', 'aXXbYYc')).toBe(true);
    expect(arnGlobMatches('a*b*c', 'aXXbYY')).toBe(false);
  });

  it('matches an admin-set glob in time linear in the stars (a backtracking regex took seconds)', () => {
    const started = performance.now();
    expect(arnGlobMatches('*a*a*a*a*a*a*a*a*b', 'a'.repeat(2_000))).toBe(false);
    const ms = performance.now() - started;
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`arnGlobMatches('*a*…*b', 2,000 × 'a'): ${ms.toFixed(1)} ms`);
    expect(ms).toBeLessThan(500);
  });

  it('parses the STS allow-list setting: https origins, http only on loopback, "aws" for the real endpoints', () => {
    expect(parseStsEndpoints('http://127.0.0.1:4566, https://sts.eu-west-1.amazonaws.com/')).toEqual(['http://127.0.0.1:4566', 'https://sts.eu-west-1.amazonaws.com']);
    expect(parseStsEndpoints('aws')).toEqual([...DEFAULT_STS_ENDPOINTS]);
    expect(DEFAULT_STS_ENDPOINTS).toContain('https://sts.amazonaws.com');
    expect(DEFAULT_STS_ENDPOINTS).toContain('https://sts.cn-north-1.amazonaws.com.cn');
    expect(DEFAULT_STS_ENDPOINTS).toContain('https://sts.us-gov-west-1.amazonaws.com');
    expect(() => parseStsEndpoints('http://sts.example.com')).toThrow('http is allowed only for loopback hosts');
    expect(() => parseStsEndpoints('https://sts.example.com/path')).toThrow('must be an origin without a path or query');
    expect(() => parseStsEndpoints('ftp://x')).toThrow('is not an http(s) URL');
    expect(() => parseStsEndpoints('not a url')).toThrow('is not a URL');
    expect(() => parseStsEndpoints(' , ')).toThrow('at least one');
  });

  it('uses the same header name and body as the agent protocol', () => {
    expect(IDENTITY_CHALLENGE_HEADER).toBe(PROTOCOL_HEADER);
    expect(GET_CALLER_IDENTITY_BODY).toBe(PROTOCOL_BODY);
  });
});

describeEachDatabase('AWS identity proof against a fake STS', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let authority: CredentialAuthority;
  let sts: FakeSts;
  let settings: { stsEndpoints: string[] };
  let role: IssuedCredentials;

  beforeAll(async () => {
    authority = new CredentialAuthority({ accountId: ACCOUNT });
    sts = await startFakeSts({ authority, region: ['us-east-1', 'eu-west-1'] });
    settings = { stsEndpoints: [sts.url] };
    role = authority.issueTemporary(authority.assumedRoleIdentity(ROLE, 'i-0abc123'));
  });
  afterAll(async () => sts?.close());
  beforeEach(async () => {
    ({ handle, dispose } = await backend.fresh());
    await handle.migrate();
  });
  afterEach(async () => dispose());

  interface ProofOptions {
    creds?: IssuedCredentials;
    /** Challenge to carry (default: a fresh one); null for none. */
    challenge?: string | null;
    /** Put the challenge header in after signing (so it is not in SignedHeaders). */
    unsignedChallenge?: boolean;
    url?: string;
    /** Body that is signed (default the GetCallerIdentity body). */
    signedBody?: string;
    /** Body that is sent (default the signed one). */
    body?: string;
    /** Signing clock (default now). */
    now?: () => number;
    service?: string;
    region?: string;
    extraHeaders?: Record<string, string>;
  }

  async function proof(o: ProofOptions = {}): Promise<IdentityProof> {
    const creds = o.creds ?? role;
    const credentials = { get: async () => ({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey, sessionToken: creds.sessionToken }) } as unknown as ManagedCredentials;
    const signer = createRequestSigner({ service: o.service ?? 'sts', region: o.region ?? 'us-east-1', credentials, clock: new ClockOffset(o.now) });
    const challenge = o.challenge === undefined ? (await issueIdentityChallenge(handle.db)).challenge : o.challenge;
    const url = new URL(o.url ?? `${sts.url}/`);
    const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8', ...o.extraHeaders };
    if (challenge && !o.unsignedChallenge) headers[IDENTITY_CHALLENGE_HEADER] = challenge;
    const signedBody = o.signedBody ?? GET_CALLER_IDENTITY_BODY;
    const signed = await signer.sign({ method: 'POST', url, headers, body: Buffer.from(signedBody) });
    if (challenge && o.unsignedChallenge) signed[IDENTITY_CHALLENGE_HEADER] = challenge;
    return { method: 'POST', url: url.toString(), headers: signed, body: o.body ?? signedBody };
  }

  const verify = (p: IdentityProof | undefined, binding: AwsIdentityBinding = BINDING, s: { stsEndpoints?: readonly string[] } = settings) => verifyIdentityProof({ db: handle.db, settings: s }, p, binding);

  async function refused(p: Promise<unknown>, reason: IdentityProofRefusal): Promise<IdentityProofError> {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(IdentityProofError);
    expect((err as IdentityProofError).reason).toBe(reason);
    expect((err as IdentityProofError).message).toMatch(/^identity proof: /);
    return err as IdentityProofError;
  }

  it('a valid proof of a matching role session proves the role ARN, not the session', async () => {
    const before = sts.counts.GetCallerIdentity ?? 0;
    const out = await verify(await proof());
    expect(out).toEqual({ arn: ROLE, account: ACCOUNT, callerArn: `arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-prod/i-0abc123` });
    expect(sts.counts.GetCallerIdentity).toBe(before + 1);
    expect(sts.calls.at(-1)).toMatchObject({ action: 'GetCallerIdentity', status: 200 });
    // Signed for a regional endpoint's region and with long-term-less temporary keys: fine too.
    expect((await verify(await proof({ region: 'eu-west-1' }))).arn).toBe(ROLE);
  });

  it('without a proof: identity_proof_required', async () => {
    const err = await refused(verify(undefined), 'identity_proof_required');
    expect(err.code).toBe('UNAUTHENTICATED');
    expect(err.message).toContain('this token requires an AWS identity proof');
  });

  it('wrong account: refused naming the account', async () => {
    const foreign = authority.issueTemporary(authority.assumedRoleIdentity(`arn:aws:iam::${OTHER_ACCOUNT}:role/fleet-agent-prod`, 'i-0abc123'));
    const err = await refused(verify(await proof({ creds: foreign })), 'account_not_allowed');
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toBe(`identity proof: the AWS identity arn:aws:iam::${OTHER_ACCOUNT}:role/fleet-agent-prod is in account ${OTHER_ACCOUNT}, which this token does not allow (allowed: ${ACCOUNT})`);
  });

  it('wrong role: refused naming the role and the patterns; a session name that matches the pattern does not help', async () => {
    const other = authority.issueTemporary(authority.assumedRoleIdentity(`arn:aws:iam::${ACCOUNT}:role/web-server`, 'fleet-agent-prod'));
    const err = await refused(verify(await proof({ creds: other })), 'role_not_allowed');
    expect(err.code).toBe('FORBIDDEN');
    expect(err.message).toBe(`identity proof: the AWS identity arn:aws:iam::${ACCOUNT}:role/web-server matches none of this token's role ARN patterns (arn:aws:iam::${ACCOUNT}:role/fleet-agent-*)`);
    // Patterns with a role path never match (sessions carry no path): the message says so.
    const pathed = await refused(verify(await proof(), { accountIds: [], roleArnGlobs: [`arn:aws:iam::${ACCOUNT}:role/team/fleet-agent-*`] }), 'role_not_allowed');
    expect(pathed.message).toContain('without its path');
  });

  it('IAM users pass only when listed literally; an account-only binding refuses them', async () => {
    const user = authority.addLongTerm(authority.userIdentity('deploy'));
    const userArn = `arn:aws:iam::${ACCOUNT}:user/deploy`;
    const err = await refused(verify(await proof({ creds: user }), { accountIds: [ACCOUNT], roleArnGlobs: [] }), 'role_not_allowed');
    expect(err.message).toBe(`identity proof: the AWS identity ${userArn} is an IAM user; users are allowed only when the token lists their ARN literally`);
    await refused(verify(await proof({ creds: user }), { accountIds: [], roleArnGlobs: [`arn:aws:iam::${ACCOUNT}:user/*`] }), 'role_not_allowed');
    expect((await verify(await proof({ creds: user }), { accountIds: [], roleArnGlobs: [userArn] })).arn).toBe(userArn);
  });

  it('reused challenge: the second use is refused', async () => {
    const { challenge } = await issueIdentityChallenge(handle.db);
    await verify(await proof({ challenge }));
    const err = await refused(verify(await proof({ challenge })), 'challenge_unknown');
    expect(err.message).toBe('identity proof: the challenge is unknown or already used (challenges are single-use; fetch a new one)');
  });

  it('a challenge is used up even when a later check refuses the proof', async () => {
    const { challenge } = await issueIdentityChallenge(handle.db);
    await refused(verify(await proof({ challenge, body: `${GET_CALLER_IDENTITY_BODY}&Extra=1` })), 'proof_body');
    expect(await handle.db.select().from(identityChallenges)).toEqual([]);
    await refused(verify(await proof({ challenge })), 'challenge_unknown');
  });

  it('unknown, missing and expired challenges are refused', async () => {
    await refused(verify(await proof({ challenge: 'A'.repeat(43) })), 'challenge_unknown');
    const missing = await refused(verify(await proof({ challenge: null })), 'challenge_missing');
    expect(missing.message).toBe('identity proof: the x-fleet-challenge header is missing (fetch a challenge from POST /agent/v1/enroll/challenge)');
    const old = await issueIdentityChallenge(handle.db, new Date(Date.now() - 6 * MIN));
    const expired = await refused(verify(await proof({ challenge: old.challenge })), 'challenge_expired');
    expect(expired.message).toBe(`identity proof: the challenge expired at ${old.expiresAt.toISOString()}; fetch a new one`);
  });

  it('issuing a challenge stores only its hash and clears expired ones', async () => {
    await issueIdentityChallenge(handle.db, new Date(Date.now() - 10 * MIN));
    const { challenge, expiresAt } = await issueIdentityChallenge(handle.db);
    expect(challenge).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(4 * MIN);
    const rows = await handle.db.select().from(identityChallenges);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.challengeHash).toMatch(/^[0-9a-f]{64}$/);
    expect(rows[0]!.challengeHash).not.toContain(challenge);
  });

  it('unsigned challenge header: refused even though STS would accept the signature', async () => {
    const err = await refused(verify(await proof({ unsignedChallenge: true })), 'challenge_unsigned');
    expect(err.message).toBe("identity proof: the x-fleet-challenge header is not signed (it must be listed in the Authorization header's SignedHeaders)");
  });

  it('altered body: refused before STS is asked; a signature over another body is refused by STS', async () => {
    const before = sts.counts.GetCallerIdentity ?? 0;
    const err = await refused(verify(await proof({ signedBody: 'Action=GetCallerIdentity&Version=2011-06-15&X=1' })), 'proof_body');
    expect(err.message).toBe('identity proof: the body must be exactly Action=GetCallerIdentity&Version=2011-06-15');
    await refused(verify(await proof({ body: 'Version=2011-06-15&Action=GetCallerIdentity' })), 'proof_body');
    expect(sts.counts.GetCallerIdentity ?? 0).toBe(before);
    const mismatch = await refused(verify(await proof({ signedBody: 'Action=GetCallerIdentity&Version=2011-06-15&X=1', body: GET_CALLER_IDENTITY_BODY })), 'sts_refused');
    expect(mismatch.message).toMatch(/^identity proof: STS refused the signed request: SignatureDoesNotMatch: /);
  });

  it('stale date: refused with the skew in the message', async () => {
    const err = await refused(verify(await proof({ now: () => Date.now() - 6 * MIN - 5000 })), 'stale_signature');
    expect(err.message).toMatch(/^identity proof: stale signature: X-Amz-Date \d{8}T\d{6}Z is 6 min \d+ s behind the control plane's clock \(allowed ±5 min 0 s\); check the agent's clock$/);
    const ahead = await refused(verify(await proof({ now: () => Date.now() + 10 * MIN })), 'stale_signature');
    expect(ahead.message).toMatch(/is (9 min 5\d|10 min \d) s ahead of the control plane's clock/);
  });

  it('a request aimed at a host that is not allow-listed is refused and never sent', async () => {
    const before = sts.calls.length;
    // localhost reaches the same fake STS, but only http://127.0.0.1:PORT is allow-listed.
    const err = await refused(verify(await proof({ url: sts.url.replace('127.0.0.1', 'localhost') + '/' })), 'sts_endpoint_not_allowed');
    expect(err.message).toBe(`identity proof: ${sts.url.replace('127.0.0.1', 'localhost')} is not an allow-listed STS endpoint (allowed: ${sts.url})`);
    const real = await refused(verify(await proof({ url: 'https://sts.attacker.example/' }), BINDING, {}), 'sts_endpoint_not_allowed');
    expect(real.message).toContain('(allowed: the AWS STS endpoints https://sts.amazonaws.com and https://sts.<region>.amazonaws.com(.cn))');
    expect(sts.calls.length).toBe(before);
  });

  it('refuses other methods, paths, queries, extra signed headers and other services', async () => {
    const p = await proof();
    await refused(verify({ ...p, method: 'GET' }), 'proof_method');
    await refused(verify(await proof({ url: `${sts.url}/?Action=GetCallerIdentity` })), 'proof_url');
    await refused(verify(await proof({ url: `${sts.url}/v2` })), 'proof_url');
    const extra = await refused(verify(await proof({ extraHeaders: { 'x-amz-user-agent': 'x' } })), 'proof_signature');
    expect(extra.message).toContain('the signature covers header x-amz-user-agent, which is not sent to STS');
    const service = await refused(verify(await proof({ service: 'iam' })), 'proof_signature');
    expect(service.message).toBe('identity proof: the request is signed for service iam, not sts');
    const { authorization: _a, ...noAuth } = p.headers;
    await refused(verify({ ...(await proof()), headers: noAuth }), 'proof_signature');
  });

  it('STS refusals and outages are reported with what STS said', async () => {
    const revoked = authority.issueTemporary(authority.assumedRoleIdentity(ROLE, 'i-0def'));
    authority.revoke(revoked.accessKeyId);
    const err = await refused(verify(await proof({ creds: revoked })), 'sts_refused');
    expect(err.message).toMatch(/^identity proof: STS refused the signed request: InvalidClientTokenId: /);
    sts.faults.push({ status: 503, code: 'ServiceUnavailable', message: 'try later' });
    const down = await refused(verify(await proof()), 'sts_unreachable');
    expect(down.code).toBe('UNAVAILABLE');
    expect(down.message).toContain('ServiceUnavailable: try later');
    const closed = await startFakeSts({ authority });
    await closed.close();
    const unreachable = await refused(verify(await proof({ url: `${closed.url}/` }), BINDING, { stsEndpoints: [closed.url] }), 'sts_unreachable');
    expect(unreachable.message).toContain(`could not reach STS at ${closed.url}`);
  });

  describe('enrollAgent with a bound token', () => {
    const agent: EnrollingAgent = { hostname: 'ip-10-0-0-9', version: '0.1.0', platform: 'ec2', labels: {} };
    const system = () => ({ db: handle.db, actor: { type: 'system' as const } });

    it('enrolls with a valid proof, storing the role ARN on the agent and in the audit log', async () => {
      const { token } = await createEnrollmentToken(system(), { name: 'bound', expiresInHours: 1, awsBinding: BINDING });
      const out = await enrollAgent({ db: handle.db, identityProof: settings }, token, agent, await proof());
      expect(out.awsIdentityArn).toBe(ROLE);
      const [row] = await handle.db.select().from(agents).where(eq(agents.id, out.agentId));
      expect(row!.awsIdentityArn).toBe(ROLE);
      const { entries } = await listAudit({ db: handle.db }, { targetType: 'agent' });
      expect(entries[0]!.after).toMatchObject({ awsIdentityArn: ROLE, awsCallerArn: `arn:aws:sts::${ACCOUNT}:assumed-role/fleet-agent-prod/i-0abc123` });
    });

    it('refuses without a proof or with a bad one, and a refusal does not use the token up', async () => {
      const { token, view } = await createEnrollmentToken(system(), { name: 'bound once', expiresInHours: 1, maxUses: 1, awsBinding: BINDING });
      await refused(enrollAgent({ db: handle.db, identityProof: settings }, token, agent), 'identity_proof_required');
      await refused(enrollAgent({ db: handle.db, identityProof: settings }, token, agent, await proof({ unsignedChallenge: true })), 'challenge_unsigned');
      const out = await enrollAgent({ db: handle.db, identityProof: settings }, token, agent, await proof());
      expect(out.awsIdentityArn).toBe(ROLE);
      const again = await enrollAgent({ db: handle.db, identityProof: settings }, token, agent, await proof()).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(AppError);
      expect((again as AppError).message).toBe('the enrollment token is used up');
      expect(view.awsBinding).toEqual(BINDING);
    });

    it('an unbound token ignores a proof; an unusable bound token says why before asking for a proof', async () => {
      const { token } = await createEnrollmentToken(system(), { name: 'plain', expiresInHours: 1 });
      const out = await enrollAgent({ db: handle.db, identityProof: settings }, token, agent, await proof({ challenge: null }));
      expect(out.awsIdentityArn).toBeNull();
      const eks = await createEnrollmentToken(system(), { name: 'eks bound', expiresInHours: 1, platform: 'eks', awsBinding: BINDING });
      const wrong = await enrollAgent({ db: handle.db, identityProof: settings }, eks.token, agent).catch((e: unknown) => e);
      expect((wrong as AppError).message).toBe('this token enrolls eks agents; this agent runs on ec2');
    });
  });
});

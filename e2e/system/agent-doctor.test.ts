/**
 * `fleet-agent doctor` as a real process against the fake AWS (loopback only): every credential
 * source of the SDK chain, cross-account AssumeRole with ExternalId, and the failure classes an
 * operator must be able to act on (access denied, region mismatch, clock skew, expired token, no
 * credentials, DNS/connect/TLS). Each case checks the exit code and the facts in the report, and
 * that no secret ever reaches the output.
 */
import { execFileSync } from 'node:child_process';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runAgentToExit } from '../support/agent.js';
import { ec2Env, irsaEnv, isolatedAwsEnv, podIdentityEnv, startFakeAws, type AwsEnv, type FakeAws } from '../support/aws/index.js';

/** A role in another account that trusts the instance role, with an ExternalId condition. */
const CROSS_ROLE = 'arn:aws:iam::210987654321:role/amp-writer';
const EXTERNAL_ID = 'fleet-ext-7f3a';
/** The IRSA role of the agent's service account. */
const IRSA_ROLE = 'arn:aws:iam::111122223333:role/fleet-agent-irsa';
const IRSA_TOKEN = 'eyJhbGciOiJSUzI1NiIsImtpZCI6ImZha2UifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6ZmxlZXQ6YWdlbnQifQ.c2lnbmF0dXJl';

interface DoctorRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `openssl` makes a self-signed certificate for the TLS case; without it that sub-case is skipped. */
function haveOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('fleet-agent doctor', () => {
  let aws: FakeAws;
  let dir: string;
  const runs: DoctorRun[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    aws = await startFakeAws({
      roles: [
        { arn: CROSS_ROLE, externalId: EXTERNAL_ID },
        { arn: IRSA_ROLE, webIdentityToken: IRSA_TOKEN },
      ],
      // Like real regional STS endpoints, GetCallerIdentity signed for either region is accepted,
      // so a region mismatch shows up where it really would: at the workspace.
      sts: { region: ['us-east-1', 'us-west-2'] },
    });
    aws.sts.roles.get(CROSS_ROLE)!.trustedPrincipals = [aws.imds.roleArn];
  });
  afterAll(async () => {
    await aws?.close();
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-agent-doctor-'));
    aws.receiver.reset();
    aws.receiver.clockOffsetMs = 0;
    aws.sts.faults.length = 0;
  });
  afterEach(async () => {
    // No secret (secret key, session token, web identity or container token) is ever printed.
    const secrets = [
      ...aws.authority.list().flatMap((c) => [c.secretAccessKey, c.sessionToken ?? '']),
      IRSA_TOKEN,
      aws.container.token,
    ].filter((s) => s.length >= 16);
    for (const run of runs.splice(0)) {
      const output = `${run.stdout}\n${run.stderr}`;
      for (const secret of secrets) expect(output.includes(secret), `a secret appeared in doctor's output:\n${output}`).toBe(false);
      // Never a crash or a stack trace.
      expect(output).not.toMatch(/\n\s+at .+:\d+:\d+\)?\n|Unhandled|TypeError|ReferenceError/);
    }
    await Promise.all(cleanups.splice(0).map((c) => c()));
    await rm(dir, { recursive: true, force: true });
  });

  async function config(options: { url?: string; region?: string; sigv4?: string | null; extra?: string } = {}): Promise<string> {
    const file = path.join(dir, 'agent.yml');
    const sigv4 = options.sigv4 === null ? '' : `\n    sigv4: { region: ${options.region ?? 'us-east-1'}${options.sigv4 ?? ''} }`;
    await writeFile(
      file,
      `global:
  external_labels: { cluster: e2e }
remote_write:
  - url: ${options.url ?? aws.receiver.url}
    name: amp
    remote_timeout: 10s${sigv4}${options.extra ?? ''}
`,
    );
    return file;
  }

  async function doctor(file: string, env: AwsEnv): Promise<DoctorRun> {
    const run = await runAgentToExit(['doctor', '--config', file], env);
    runs.push(run);
    return run;
  }

  async function ec2(): Promise<AwsEnv> {
    return (await ec2Env(aws.imds, { sts: aws.sts })).env;
  }

  /** Asserts with the whole report in the failure message. */
  function expectReport(run: DoctorRun, code: number, ...patterns: Array<string | RegExp>): void {
    const report = `exit ${run.code}\n--- stdout\n${run.stdout}--- stderr\n${run.stderr}`;
    expect(run.code, report).toBe(code);
    for (const p of patterns) {
      if (typeof p === 'string') expect(run.stdout.includes(p), `missing ${JSON.stringify(p)} in:\n${report}`).toBe(true);
      else expect(p.test(run.stdout), `missing ${String(p)} in:\n${report}`).toBe(true);
    }
  }

  const instanceSession = () => new RegExp(`identity: arn:aws:sts::${aws.imds.accountId}:assumed-role/${aws.imds.roleName}/\\S+`);

  describe('credential sources', () => {
    it('EC2 instance profile (IMDSv2): credentials, identity, a signed write and the clock offset', async () => {
      const run = await doctor(await config(), await ec2());
      expectReport(
        run,
        0,
        `destination amp (${aws.receiver.url}): OK`,
        '✓ credentials: EC2 instance metadata (IMDSv2)',
        instanceSession(),
        '✓ test write: HTTP 200',
        /✓ clock offset: [+-]\d+\.\d s/,
        'all 1 destinations OK',
      );
      // The write really arrived, signed by the instance role, and IMDSv2 (a token) was used.
      expect(aws.receiver.counters.acceptedSamples).toBe(1);
      expect(aws.receiver.samples('fleet_agent_doctor')[0]!.labels.cluster).toBe('e2e');
      expect(aws.receiver.requests[0]!.callerArn).toContain(`:assumed-role/${aws.imds.roleName}/`);
      expect(aws.imds.counts['/latest/api/token']).toBeGreaterThan(0);
      expect(aws.imds.requests.filter((r) => r.method === 'GET').every((r) => r.withToken)).toBe(true);
    });

    it('IRSA: web identity token file + AWS_ROLE_ARN through STS', async () => {
      const scenario = await irsaEnv(aws.sts, IRSA_ROLE);
      cleanups.push(() => scenario.cleanup());
      const before = aws.sts.counts.AssumeRoleWithWebIdentity ?? 0;
      const run = await doctor(await config(), scenario.env);
      expectReport(
        run,
        0,
        '✓ credentials: web identity token (IRSA)',
        /identity: arn:aws:sts::111122223333:assumed-role\/fleet-agent-irsa\/\S+/,
        '✓ test write: HTTP 200',
      );
      expect(aws.sts.counts.AssumeRoleWithWebIdentity).toBeGreaterThan(before);
      expect(aws.receiver.requests[0]!.callerArn).toMatch(/:assumed-role\/fleet-agent-irsa\//);
    });

    it('EKS Pod Identity: the container credentials endpoint (token file variant)', async () => {
      const scenario = await podIdentityEnv(aws.container, { sts: aws.sts, useTokenFile: true });
      cleanups.push(() => scenario.cleanup());
      const run = await doctor(await config(), scenario.env);
      expectReport(run, 0, '✓ credentials: container credentials (EKS Pod Identity / ECS)', 'identity: arn:aws:sts::111122223333:assumed-role/fleet-agent-pod-role/', '✓ test write: HTTP 200');
      expect(aws.container.requests.some((r) => r.status === 200 && r.authorization === aws.container.token)).toBe(true);
    });

    it('IRSA with a token STS rejects: invalid_token naming the token file, not a bad request', async () => {
      const scenario = await irsaEnv(aws.sts, IRSA_ROLE, { token: 'eyJhbGciOiJSUzI1NiJ9.stale.token' });
      cleanups.push(() => scenario.cleanup());
      const run = await doctor(await config(), scenario.env);
      expectReport(
        run,
        1,
        /✗ invalid_token \(InvalidIdentityToken\): The web identity token that was passed could not be validated by AWS/,
        `fix: STS rejected the web identity token in ${scenario.tokenFile!}`,
      );
      expect(run.stdout).not.toMatch(/bad_request|tried:/);
      expect(aws.receiver.requests).toHaveLength(0);
    });

    it('no credentials anywhere: no_credentials, with every provider the chain tried', async () => {
      const env = isolatedAwsEnv({ sts: aws.sts });
      expect(env.AWS_EC2_METADATA_DISABLED).toBe('true');
      const run = await doctor(await config(), env);
      expectReport(
        run,
        1,
        `destination amp (${aws.receiver.url}): FAILED`,
        /✗ no_credentials\b/,
        'fix: No credentials were found',
        'tried:',
        '- environment (AWS_ACCESS_KEY_ID): not set',
        /- shared files \(\S*fleet-fake-aws-does-not-exist\/credentials, profile default\)/,
        '- web identity / IRSA (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN): not set',
        '- container / Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI): not set',
        /- EC2 instance metadata \(IMDSv2\): disabled/,
        '1 of 1 destinations failed',
      );
      // Nothing was sent unsigned.
      expect(aws.receiver.requests).toHaveLength(0);
    });
  });

  describe('cross-account AssumeRole with ExternalId', () => {
    it('with the right ExternalId: signs as the assumed cross-account role', async () => {
      const run = await doctor(await config({ sigv4: `, role_arn: '${CROSS_ROLE}', external_id: ${EXTERNAL_ID}` }), await ec2());
      expectReport(
        run,
        0,
        `assume ${CROSS_ROLE} with ExternalId`,
        `✓ credentials: assume role ${CROSS_ROLE} via EC2 instance metadata (IMDSv2)`,
        /identity: arn:aws:sts::210987654321:assumed-role\/amp-writer\/\S+/,
        '✓ test write: HTTP 200',
      );
      expect(run.stdout).not.toContain(EXTERNAL_ID);
      const assume = aws.sts.calls.filter((c) => c.action === 'AssumeRole').at(-1)!;
      expect(assume).toMatchObject({ status: 200, callerArn: expect.stringContaining(`:assumed-role/${aws.imds.roleName}/`) });
      expect(assume.params.ExternalId).toBe(EXTERNAL_ID);
      expect(aws.receiver.requests[0]!.callerArn).toMatch(/^arn:aws:sts::210987654321:assumed-role\/amp-writer\//);
    });

    it('with a wrong ExternalId: access_denied from sts:AssumeRole on the role, not "no credentials"', async () => {
      const run = await doctor(await config({ sigv4: `, role_arn: '${CROSS_ROLE}', external_id: wrong-external-id` }), await ec2());
      expectReport(
        run,
        1,
        // The base credentials worked; the role refused them.
        '✓ base credentials: EC2 instance metadata (IMDSv2)',
        /✗ access_denied \(AccessDenied\): User: arn:aws:sts::111122223333:assumed-role\/fleet-agent-instance-role\/\S+ is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::210987654321:role\/amp-writer/,
        `fix: arn:aws:iam::111122223333:role/fleet-agent-instance-role may not assume ${CROSS_ROLE}: the role's trust policy must allow "sts:AssumeRole"`,
        '"sts:ExternalId" equals sigv4.external_id',
        `{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"${CROSS_ROLE}"}`,
        '1 of 1 destinations failed',
      );
      expect(aws.sts.calls.filter((c) => c.action === 'AssumeRole').at(-1)).toMatchObject({ status: 403, code: 'AccessDenied' });
      expect(run.stdout).not.toMatch(/no_credentials|unknown|tried:/);
      expect(aws.receiver.requests).toHaveLength(0);
    });
  });

  describe('failures of the signed write', () => {
    it('AccessDenied on aps:RemoteWrite: the action, the workspace ARN and the policy statement to add', async () => {
      const workspaceArn = `arn:aws:aps:us-east-1:111122223333:workspace/${aws.receiver.workspaceId}`;
      const env = await ec2();
      aws.receiver.faults.push({
        status: 403,
        code: 'AccessDeniedException',
        message: `User: arn:aws:sts::111122223333:assumed-role/${aws.imds.roleName}/i-0abc123 is not authorized to perform: aps:RemoteWrite on resource: ${workspaceArn} because no identity-based policy allows the aps:RemoteWrite action`,
      });
      const run = await doctor(await config(), env);
      expectReport(
        run,
        1,
        instanceSession(),
        '✗ access_denied (AccessDeniedException):',
        `not authorized to perform: aps:RemoteWrite on resource: ${workspaceArn}`,
        `fix: Allow "aps:RemoteWrite" on ${workspaceArn} in a policy attached to arn:aws:iam::111122223333:role/${aws.imds.roleName}`,
        `{"Effect":"Allow","Action":"aps:RemoteWrite","Resource":"${workspaceArn}"}`,
      );
    });

    it('region mismatch: signed for us-west-2, the workspace is in us-east-1', async () => {
      const run = await doctor(await config({ region: 'us-west-2' }), await ec2());
      expectReport(
        run,
        1,
        'region us-west-2',
        // Credentials and identity are fine: only the workspace rejects the scope.
        instanceSession(),
        /✗ region_mismatch \(InvalidSignatureException\): Credential should be scoped to a valid region, not 'us-west-2'/,
        // Doctor finds the workspace's region by probing with empty writes, so the fix names both.
        'fix: The request was signed for region us-west-2 but the endpoint is in us-east-1',
        'set sigv4.region: us-east-1',
      );
      expect(aws.receiver.requests[0]!.reason).toBe('wrong-region');
      // The probe wrote nothing: the only accepted request carried no series.
      expect(aws.receiver.counters.acceptedSamples).toBe(0);
      expect(aws.receiver.requests.filter((r) => r.outcome === 'accepted').map((r) => r.seriesCount)).toEqual([0]);
    });

    it('clock skew: the workspace clock is 10 minutes ahead', async () => {
      aws.receiver.clockOffsetMs = 10 * 60_000;
      const run = await doctor(await config(), await ec2());
      expectReport(run, 1, /✗ clock offset: \+(59\d|60\d)\.\d s/, /✗ clock_skew \(InvalidSignatureException\): Signature expired/, /fix: The host clock is off/);
      const offset = Number(/clock offset: \+([\d.]+) s/.exec(run.stdout)![1]);
      expect(offset).toBeGreaterThan(590);
      expect(offset).toBeLessThan(610);
    });

    it('expired token on the write: expired_token', async () => {
      aws.receiver.faults.push({ status: 403, code: 'ExpiredTokenException' });
      const run = await doctor(await config(), await ec2());
      expectReport(run, 1, '✓ credentials: EC2 instance metadata (IMDSv2)', /✗ expired_token \(ExpiredTokenException\): The security token included in the request is expired/, /fix: The credentials expired/);
    });
  });

  describe('network failures', () => {
    it('connection refused: connect', async () => {
      const url = 'http://127.0.0.1:1/api/v1/write';
      const run = await doctor(await config({ url }), await ec2());
      expectReport(run, 1, `destination amp (${url}): FAILED`, /✗ connect \(ECONNREFUSED\)/, `fix: Could not connect to ${url}`);
    });

    it('connection refused without SigV4: still classified, with a fix', async () => {
      const url = 'http://127.0.0.1:1/api/v1/write';
      const run = await doctor(await config({ url, sigv4: null }), isolatedAwsEnv());
      expectReport(run, 1, /✗ connect \(ECONNREFUSED\)/, `fix: Could not connect to ${url}`);
    });

    it('HTTP 401 without SigV4: names the authentication settings, not "bad request, samples dropped"', async () => {
      aws.receiver.faults.push({ status: 401, body: 'Unauthorized' });
      const run = await doctor(await config({ sigv4: null }), isolatedAwsEnv());
      expectReport(run, 1, /✗ \w+: Unauthorized/, 'fix: The endpoint refused the request\'s authentication (HTTP 401): check basic_auth / authorization');
      expect(run.stdout).not.toContain('samples are dropped');
    });

    it('unresolvable host: dns', async () => {
      const url = 'http://does-not-exist.invalid/api/v1/write';
      const run = await doctor(await config({ url }), await ec2());
      expectReport(run, 1, /✗ dns \((ENOTFOUND|EAI_AGAIN|EAI_FAIL|EAI_NONAME)\)/, 'fix: The endpoint host of http://does-not-exist.invalid/api/v1/write does not resolve');
    });

    it('https to a plain-HTTP server: tls', async () => {
      const url = aws.receiver.url.replace(/^http:/, 'https:');
      const run = await doctor(await config({ url }), await ec2());
      expectReport(run, 1, /✗ tls \(\S+\)/, `fix: TLS to ${url} failed`);
    });

    describe.skipIf(!haveOpenssl())('self-signed certificate', () => {
      let server: HttpsServer;
      let url: string;
      let certFile: string;
      beforeAll(async () => {
        const certDir = await mkdtemp(path.join(tmpdir(), 'fleet-agent-doctor-tls-'));
        const keyFile = path.join(certDir, 'key.pem');
        certFile = path.join(certDir, 'cert.pem');
        execFileSync(
          'openssl',
          ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
          { stdio: 'ignore' },
        );
        expect(existsSync(certFile)).toBe(true);
        server = createHttpsServer({ key: await readFile(keyFile), cert: await readFile(certFile) }, (req, res) => {
          req.resume();
          res.writeHead(200).end();
        });
        await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
        url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/api/v1/write`;
      });
      afterAll(async () => {
        server?.closeAllConnections();
        await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
        if (certFile) await rm(path.dirname(certFile), { recursive: true, force: true });
      });

      it('an untrusted self-signed certificate: tls, and trusting it with tls_config.ca_file makes it OK', async () => {
        const untrusted = await doctor(await config({ url, sigv4: null }), isolatedAwsEnv());
        expectReport(untrusted, 1, /✗ tls \((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE)\)/, `fix: TLS to ${url} failed`);
        const trusted = await doctor(await config({ url, sigv4: null, extra: `\n    tls_config: { ca_file: ${certFile} }` }), isolatedAwsEnv());
        expectReport(trusted, 0, '✓ test write: HTTP 200');
      });
    });
  });
});

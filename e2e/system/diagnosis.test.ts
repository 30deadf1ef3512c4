import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../support/agent.js';
import { ec2Env, isolatedAwsEnv, startFakeAws, startRemoteWriteReceiver, type FakeAws, type RemoteWriteReceiver } from '../support/aws/index.js';
import { startControlPlane, type RunningControlPlane } from '../support/control-plane.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { agentsById, enrollAndRun, signIn, stateDirOf, type Operator } from '../support/fleet.js';
import { freePort } from '../support/prometheus.js';
import { eventually } from '../support/wait.js';

const ADMIN = { email: 'admin@example.com', password: 'a long admin password' };
const ACCOUNT = '123456789012';
const ROLE = `arn:aws:iam::${ACCOUNT}:role/fleet-writer`;

/** What `fleet.overview` and `fleet.agent` return about findings (the fields asserted here). */
interface Remedy {
  summary: string;
  steps: string[];
  policy?: { roleArn: string | null; json: string };
}
interface Finding {
  key: string;
  kind: string;
  severity: 'warning' | 'critical';
  title: string;
  destination?: string;
  url?: string;
  facts: Record<string, string | number>;
  since: string;
}
interface FindingGroup {
  key: string;
  kind: string;
  severity: 'warning' | 'critical';
  title: string;
  url: string | null;
  agents: number;
  exampleAgent: { id: string; name: string };
  finding: Finding;
  remedy: Remedy;
}
interface Overview {
  counts: { total: number; healthy: number; degraded: number; failing: number; offline: number };
  findings: FindingGroup[];
  topAgentsByErrors: Array<{ id: string; errors: number; last_class: string }>;
}
interface AgentDetail {
  findings: Array<Finding & { remedy: Remedy }>;
  errors: Array<{ at: string; destination: string; url: string; errorClass: string; code: string | null; status: number | null; message: string; detail: string | null }>;
}

/**
 * Diagnosis end to end: one control plane (PGlite) and one real `fleet-agent run --server` per
 * failure class, each selected by its own pipeline (selector on its `case` label) writing to its
 * own destination of the fake AWS — the SigV4-verifying AMP receiver that denies the role, runs
 * 10 minutes ahead, lives in another region than the agent signs for, or refuses a batch with
 * HTTP 400; an endpoint that is down; and an agent with no AWS credentials at all. What the
 * agents report in their heartbeats must come out of `fleet.overview` (grouped findings with
 * remedies) and `fleet.agent` (findings, health, recent errors) as something an operator can act on.
 */
describe('diagnosis: each failure class → the finding, its remedy and the agent’s errors', () => {
  let aws: FakeAws;
  let exporter: Exporter;
  let dir: string;
  let cp: RunningControlPlane;
  let op: Operator;
  /** The workspace denies aps:RemoteWrite to every caller. */
  let denied: RemoteWriteReceiver;
  /** The workspace's clock runs 10 minutes ahead of the agent's. */
  let skewed: RemoteWriteReceiver;
  /** The workspace is in us-east-1; its pipeline signs for us-west-2. */
  let otherRegion: RemoteWriteReceiver;
  /** Refuses two batches with 400 (out-of-order samples), then accepts. */
  let refusing: RemoteWriteReceiver;
  /** Where the agent without credentials would write (it never gets that far). */
  let unreached: RemoteWriteReceiver;
  /** A receiver that was stopped: its URL points at a port nothing listens on. */
  let downUrl: string;
  const agents = new Map<string, { agent: RunningAgent; agentId: string }>();

  const overview = () => op.query<Overview>('fleet.overview', { windowMinutes: 60 });
  const detail = (id: string) => op.query<AgentDetail>('fleet.agent', { id });
  const idOf = (name: string) => agents.get(name)!.agentId;

  /** The overview's group of `kind` findings on `url` (every destination here is one agent's). */
  async function groupOf(kind: string, url: string | null, what: string, ready: (g: FindingGroup) => boolean = () => true): Promise<FindingGroup> {
    let group: FindingGroup | undefined;
    await eventually(
      what,
      async () => {
        group = (await overview()).findings.find((g) => g.kind === kind && (url === null || g.url === url));
        return group !== undefined && ready(group);
      },
      40_000,
      200,
    );
    return group!;
  }

  /** The agent's detail once its health is `health` and it has a `kind` finding and a `kind` error row. */
  async function agentWith(name: string, kind: string, health: 'failing' | 'degraded', errorClass = kind): Promise<AgentDetail> {
    let d: AgentDetail | undefined;
    await eventually(
      `agent ${name}: health ${health}, a ${kind} finding and a ${errorClass} error row`,
      async () => {
        const listed = (await agentsById(op)).get(idOf(name));
        d = await detail(idOf(name));
        return listed?.health === health && d.findings.some((f) => f.kind === kind) && d.errors.some((e) => e.errorClass === errorClass);
      },
      40_000,
      200,
    );
    return d!;
  }

  const pipeline = (name: string, remoteWrite: Record<string, unknown>) => ({
    name,
    selector: [{ name: 'case', op: '=', value: name }],
    document: {
      global: { scrape_interval: '1s' },
      scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [exporter.target] }] }],
      remote_write: [{ name: 'amp', aws_account: 'prod', queue_config: { batch_send_deadline: '100ms', min_backoff: '50ms', max_backoff: '500ms' }, ...remoteWrite }],
    },
    note: `drives an agent into ${name}`,
  });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-diagnosis-'));
    // Regional STS endpoints: the agent signing for us-west-2 assumes its role in us-west-2.
    aws = await startFakeAws({ sts: { region: ['us-east-1', 'us-west-2'] } });
    const receiver = () => startRemoteWriteReceiver({ credentials: aws.authority, region: 'us-east-1' });
    [denied, skewed, otherRegion, refusing, unreached] = await Promise.all([receiver(), receiver(), receiver(), receiver(), receiver()]);
    denied.authorize = () => false;
    skewed.clockOffsetMs = 10 * 60_000;
    const outOfOrder = `out of order sample: series {__name__="up", job="app"} timestamp older than the last one written`;
    refusing.faults.push({ status: 400, body: outOfOrder }, { status: 400, body: outOfOrder });
    const gone = await receiver();
    downUrl = gone.url;
    await gone.close();

    exporter = await startExporter();
    exporter.serve((n) => `# TYPE app_value gauge\napp_value ${n}\n`);
    cp = await startControlPlane({
      DATA_DIR: path.join(dir, 'cp'),
      PORT: String(await freePort()),
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      AGENT_HEARTBEAT_INTERVAL: '1s',
      STATS_INTERVAL: '1s',
    });
    op = await signIn(() => cp.url, ADMIN.email, ADMIN.password);
    const account = await op.call<{ externalId: string }>('accounts.create', { accountId: ACCOUNT, name: 'prod', defaultRegion: 'us-east-1', roleArn: ROLE });
    // The account's role trusts the instance role, with the ExternalId the control plane generated.
    aws.sts.addRole({ arn: ROLE, externalId: account.externalId, trustedPrincipals: [aws.imds.roleArn] });

    const { env: onEc2 } = await ec2Env(aws.imds, { sts: aws.sts });
    // No credentials anywhere: no variables, no files, IMDS disabled (as off EC2).
    const nowhere = isolatedAwsEnv({ sts: aws.sts });
    const cases: Array<[string, Record<string, string | undefined>]> = [
      ['denied', onEc2],
      ['skew', onEc2],
      ['region', onEc2],
      ['nocreds', nowhere],
      ['down', onEc2],
      ['rejects', onEc2],
    ];
    let n = 0;
    await Promise.all(
      cases.map(async ([name, env]) => {
        const { token } = await op.call<{ token: string }>('enrollment.create', { name, expiresInHours: 1, maxUses: 1, labels: { case: name } });
        agents.set(name, await enrollAndRun({ server: cp.url, token, stateDir: stateDirOf(dir, ++n), env: { ...env, FLEET_RECONNECT_MIN_MS: '200', FLEET_RECONNECT_MAX_MS: '2000' } }));
      }),
    );
    await eventually('every agent online with its (empty) config applied', async () => {
      const all = await agentsById(op);
      return [...agents.values()].every(({ agentId }) => all.get(agentId)?.state === 'online' && all.get(agentId)?.configStatus === 'applied');
    });

    const pipelines = [
      pipeline('denied', { url: denied.url }),
      pipeline('skew', { url: skewed.url }),
      pipeline('region', { url: otherRegion.url, sigv4: { region: 'us-west-2' } }),
      pipeline('nocreds', { url: unreached.url }),
      pipeline('down', { url: downUrl }),
      pipeline('rejects', { url: refusing.url }),
    ];
    for (const p of pipelines) {
      const created = await op.call<{ pipeline: { id: string } }>('pipelines.create', p);
      await op.call('pipelines.publish', { id: created.pipeline.id, version: 1, note: 'roll out' });
    }
    await eventually('every agent to apply its pipeline', async () => {
      const all = await agentsById(op);
      return [...agents.values()].every(({ agentId }) => all.get(agentId)?.configStatus === 'applied' && all.get(agentId)?.appliedPipelines.length === 1);
    });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.agent.kill()));
    await cp?.stop();
    await exporter?.close();
    await Promise.all([denied, skewed, otherRegion, refusing, unreached].map((r) => r?.close()));
    await aws?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('access denied: critical, and the remedy is the policy granting aps:RemoteWrite on the workspace to the role the agent signed as', async () => {
    const workspace = denied.workspaceArn(ACCOUNT);
    const group = await groupOf('access_denied', denied.url, 'an access denied group in the overview', (g) => g.severity === 'critical');
    expect(group).toMatchObject({ severity: 'critical', title: 'Access denied', agents: 1, exampleAgent: { id: idOf('denied') } });
    expect(group.finding.facts).toMatchObject({ code: 'AccessDeniedException', status: 403, action: 'aps:RemoteWrite', resource: workspace, roleArn: ROLE, region: 'us-east-1', service: 'aps' });
    expect(String(group.finding.facts.callerArn)).toMatch(/^arn:aws:sts::123456789012:assumed-role\/fleet-writer\//);
    expect(group.finding.facts.detail).toBe(`action aps:RemoteWrite; resource ${workspace}; principal ${group.finding.facts.callerArn}`);
    expect(group.remedy.summary).toContain(`Allow "aps:RemoteWrite" on ${workspace} in a policy attached to ${ROLE}`);
    // The policy to attach: aps:RemoteWrite on exactly this workspace, for the role the agent signed as.
    expect(group.remedy.policy?.roleArn).toBe(ROLE);
    const policy = JSON.parse(group.remedy.policy!.json) as { Version: string; Statement: Array<{ Effect: string; Action: string | string[]; Resource: string | string[] }> };
    expect(policy.Version).toBe('2012-10-17');
    expect(policy.Statement).toEqual([expect.objectContaining({ Effect: 'Allow', Action: 'aps:RemoteWrite', Resource: workspace })]);
    expect(group.remedy.steps).toContainEqual(expect.stringContaining(`Attach this policy to ${ROLE}`));

    // The receiver saw the agent's signed requests and denied them all.
    expect(denied.counters.acceptedRequests).toBe(0);
    expect(denied.counters.rejected['access-denied']).toBeGreaterThan(0);

    const d = await agentWith('denied', 'access_denied', 'failing');
    expect(d.findings.find((f) => f.kind === 'access_denied')).toMatchObject({ severity: 'critical', url: denied.url, remedy: { policy: { roleArn: ROLE } } });
    // Every denied batch is dropped (not retried): the drops finding names the reason.
    await eventually('a drops finding with http_4xx', async () => (await detail(idOf('denied'))).findings.some((f) => f.kind === 'drops' && String(f.facts.reasons).includes('http_4xx')), 40_000, 200);
    expect(d.errors[0]).toMatchObject({ errorClass: 'access_denied', code: 'AccessDeniedException', status: 403, url: denied.url, destination: 'denied.amp' });
    expect(d.errors[0]!.detail).toContain(`resource ${workspace}`);
  });

  it('clock skew: the endpoint refuses signatures 10 minutes old; the finding has the measured offset and the time-sync steps', async () => {
    const group = await groupOf('clock_skew', skewed.url, 'a clock skew group in the overview');
    expect(group).toMatchObject({ title: 'Clock skew: AWS refuses the signatures', agents: 1, exampleAgent: { id: idOf('skew') } });
    const m = /^measured clock offset \+(\d+\.\d) s \(endpoint time − local time\); AWS rejects signatures more than 300 s off$/.exec(String(group.finding.facts.detail));
    expect(m, String(group.finding.facts.detail)).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(590);
    expect(Number(m![1])).toBeLessThan(610);
    expect(group.remedy.summary).toMatch(/clock is off by more than AWS allows \(5 minutes\)/);
    expect(group.remedy.steps).toEqual(
      expect.arrayContaining([
        expect.stringContaining('chronyc tracking'),
        expect.stringContaining('server 169.254.169.123 prefer iburst'),
        expect.stringContaining('What the agent saw: measured clock offset +'),
      ]),
    );
    expect(skewed.counters.rejected['clock-skew']).toBeGreaterThan(0);

    // The agent corrects its signing clock from the endpoint's Date header and delivers again:
    // a warning (samples flow), not a failure.
    await skewed.waitFor(() => skewed.counters.acceptedRequests > 0, 20_000);
    const d = await agentWith('skew', 'clock_skew', 'degraded');
    expect(d.findings.find((f) => f.kind === 'clock_skew')).toMatchObject({ severity: 'warning', url: skewed.url });
    expect(d.findings.some((f) => f.severity === 'critical')).toBe(false);
    expect(d.errors.find((e) => e.errorClass === 'clock_skew')).toMatchObject({ status: 403, code: 'InvalidSignatureException', url: skewed.url });
  });

  it('wrong region: signed for us-west-2, the workspace is in us-east-1 — region_mismatch, critical, and the remedy says which region was signed and what to change', async () => {
    const group = await groupOf('region_mismatch', otherRegion.url, 'a region mismatch group in the overview', (g) => g.severity === 'critical');
    expect(group).toMatchObject({ severity: 'critical', title: 'Signed for the wrong region', agents: 1, exampleAgent: { id: idOf('region') } });
    // What the receiver answers (like AMP): 403 InvalidSignatureException, the credential scope's region refused.
    expect(group.finding.facts).toMatchObject({ status: 403, code: 'InvalidSignatureException', region: 'us-west-2', service: 'aps', roleArn: ROLE });
    expect(String(group.finding.facts.message)).toMatch(/^Credential should be scoped to a valid region/);
    expect(otherRegion.counters.rejected['wrong-region']).toBeGreaterThan(0);
    expect(otherRegion.counters.acceptedRequests).toBe(0);
    // Neither the answer (AMP names no region) nor the host (127.0.0.1) tells the endpoint's region;
    // the agent says so and points at `fleet-agent doctor`, which probes for it.
    expect(group.finding.facts.detail).toBe('signed for region us-west-2 (sigv4.region); endpoint region unknown (the host 127.0.0.1 names no region; fleet-agent doctor probes it)');
    expect(group.remedy.summary).toBe('The request was signed for region us-west-2 but the endpoint is in another region: set sigv4.region to the endpoint\'s region, or use the endpoint of us-west-2.');
    expect(group.remedy.steps).toEqual([`What the agent saw: ${group.finding.facts.detail}`, expect.stringMatching(/^Fix the region in the pipeline \(sigv4\.region, or the registered AWS account's default region\)/)]);

    const d = await agentWith('region', 'region_mismatch', 'failing');
    expect(d.errors[0]).toMatchObject({ errorClass: 'region_mismatch', status: 403, code: 'InvalidSignatureException', url: otherRegion.url });
    expect(d.errors[0]!.detail).toContain('signed for region us-west-2 (sigv4.region)');
  });

  it('no credentials: the providers tried, and the EC2 / IRSA / Pod Identity setup steps', async () => {
    const group = await groupOf('no_credentials', unreached.url, 'a no credentials group in the overview', (g) => g.severity === 'critical');
    expect(group).toMatchObject({ severity: 'critical', title: 'No AWS credentials found', agents: 1, exampleAgent: { id: idOf('nocreds') } });
    const tried = String(group.finding.facts.detail);
    expect(tried).toMatch(new RegExp(`^base credentials for assuming ${ROLE}: no provider produced credentials; tried: `));
    for (const provider of [
      'environment (AWS_ACCESS_KEY_ID): not set',
      'shared files (',
      'web identity / IRSA (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN): not set',
      'container / Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI): not set',
      'EC2 instance metadata (IMDSv2): disabled',
    ]) {
      expect(tried).toContain(provider);
    }
    expect(group.remedy.summary).toMatch(/^No credentials were found/);
    expect(group.remedy.steps).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^EC2: attach an instance profile/),
        expect.stringMatching(/^EKS with IRSA: annotate the agent's service account with `eks\.amazonaws\.com\/role-arn/),
        expect.stringMatching(/^EKS Pod Identity: `aws eks create-pod-identity-association/),
      ]),
    );
    // The destination was never contacted.
    expect(unreached.counters.requests).toBe(0);

    const d = await agentWith('nocreds', 'no_credentials', 'failing');
    expect(d.findings.find((f) => f.kind === 'no_credentials')).toMatchObject({ severity: 'critical', facts: { pending: expect.any(Number) } });
    expect(Number(d.findings.find((f) => f.kind === 'no_credentials')!.facts.pending)).toBeGreaterThan(0);
    expect(d.errors[0]).toMatchObject({ errorClass: 'no_credentials', status: null, url: unreached.url });
  });

  it('receiver down: a connect failure with the endpoint host:port in the detail', async () => {
    const endpoint = new URL(downUrl).host;
    const group = await groupOf('connect', downUrl, 'a connect group in the overview', (g) => g.severity === 'critical');
    expect(group).toMatchObject({ severity: 'critical', title: 'Cannot connect to the endpoint', agents: 1, exampleAgent: { id: idOf('down') } });
    expect(group.finding.facts).toMatchObject({ code: 'ECONNREFUSED', detail: `stage TCP connect; endpoint ${endpoint}; error ECONNREFUSED` });
    expect(group.remedy.summary).toBe(`Could not connect to ${downUrl}: check security groups, network ACLs, routes/NAT or the VPC endpoint, and any HTTPS proxy.`);
    expect(group.remedy.steps).toContainEqual(`Test from the host: \`curl -sv ${downUrl} -o /dev/null\` shows which stage fails (name resolution, TCP connect, TLS).`);

    const d = await agentWith('down', 'connect', 'failing');
    expect(d.errors[0]).toMatchObject({ errorClass: 'connect', code: 'ECONNREFUSED', status: null, url: downUrl, detail: `stage TCP connect; endpoint ${endpoint}; error ECONNREFUSED` });
  });

  it('4xx: batches refused with 400 are dropped and counted — bad_request and a drops finding with http_4xx', async () => {
    await refusing.waitFor(() => refusing.requests.filter((r) => r.status === 400).length === 2, 20_000);
    const group = await groupOf('bad_request', refusing.url, 'a bad request group in the overview');
    expect(group).toMatchObject({ title: 'Destination refuses samples (HTTP 4xx)', agents: 1, exampleAgent: { id: idOf('rejects') } });
    expect(group.finding.facts).toMatchObject({ status: 400 });
    expect(String(group.finding.facts.message)).toMatch(/^out of order sample/);
    expect(group.remedy.summary).toMatch(/^The destination rejected the data \(out of order sample.*\); these samples are dropped/);
    expect(refusing.requests.filter((r) => r.status === 400)).toHaveLength(2);

    const drops = await groupOf('drops', null, 'a drops group naming http_4xx', (g) => String(g.finding.facts.reasons ?? '').includes('http_4xx'));
    expect(drops.agents).toBeGreaterThanOrEqual(1);
    expect(drops.remedy.summary).toMatch(/^The agent dropped samples \(.*http_4xx: \d+/);

    // Samples flow again after the refused batches: degraded, not failing.
    await refusing.waitFor(() => refusing.counters.acceptedRequests > 0, 20_000);
    const d = await agentWith('rejects', 'bad_request', 'degraded');
    expect(d.findings).toEqual(expect.arrayContaining([expect.objectContaining({ kind: 'bad_request', severity: 'warning' }), expect.objectContaining({ kind: 'drops', severity: 'warning' })]));
    expect(d.findings.find((f) => f.kind === 'drops')!.facts.reasons ?? '').toMatch(/http_4xx/);
    expect(d.errors.find((e) => e.errorClass === 'bad_request')).toMatchObject({ status: 400, url: refusing.url });
  });

  it('the overview counts the failing and degraded agents and lists every class once', async () => {
    let o: Overview | undefined;
    // denied, region, nocreds, down fail; skew and rejects deliver again (degraded).
    await eventually('4 failing and 2 degraded agents', async () => {
      o = await overview();
      return o.counts.failing === 4 && o.counts.degraded === 2;
    });
    expect(o!.counts).toMatchObject({ total: 6, failing: 4, degraded: 2, healthy: 0, offline: 0 });
    const kinds = o!.findings.map((g) => g.kind);
    for (const kind of ['access_denied', 'clock_skew', 'region_mismatch', 'no_credentials', 'connect', 'bad_request', 'drops']) expect(kinds).toContain(kind);
    // Critical groups first.
    const firstWarning = o!.findings.findIndex((g) => g.severity === 'warning');
    expect(o!.findings.slice(firstWarning).every((g) => g.severity === 'warning')).toBe(true);
    expect(o!.topAgentsByErrors.map((a) => a.id)).toEqual(expect.arrayContaining([idOf('denied'), idOf('down'), idOf('nocreds'), idOf('region')]));
  });
});

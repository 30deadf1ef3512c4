/**
 * The fleet agent's heartbeats (control/heartbeat.ts `buildHeartbeat`), from a real in-process
 * Agent scraping a synthetic exporter and writing to the fake AWS on loopback: IMDSv2 and STS for
 * credentials, and the SigV4-verifying AMP receiver with its fault queue and skewed clock. Every
 * heartbeat built here is parsed with the protocol's own `agentMessageSchema`.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAgentConfigYaml } from '@fleet/pipeline';
import { agentMessageSchema, PROTOCOL_VERSION, type AgentMessage } from '@fleet/protocol';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Agent } from '../../apps/agent/src/agent.js';
import { buildHeartbeat } from '../../apps/agent/src/control/heartbeat.js';
import { ec2Env, envSandbox, isolatedAwsEnv, startFakeAws, type FakeAws } from '../support/aws/index.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { eventually } from '../support/wait.js';

type Heartbeat = Extract<AgentMessage, { type: 'heartbeat' }>;
type Destination = Heartbeat['destinations'][number];

const ROLE = 'arn:aws:iam::210987654321:role/amp-writer';
const EXTERNAL_ID = 'fleet-ext-heartbeat';

describe('fleet-agent heartbeats (in-process agent against the fake AWS)', () => {
  let aws: FakeAws;
  let dir: string;
  let exporter: Exporter;
  const sandbox = envSandbox();
  const agents: Agent[] = [];
  const logs: Array<{ level: string; message: string; fields: Record<string, unknown> }> = [];

  beforeAll(async () => {
    aws = await startFakeAws({ roles: [{ arn: ROLE, externalId: EXTERNAL_ID }] });
    // The cross-account role trusts the instance role, requiring the ExternalId.
    aws.sts.roles.get(ROLE)!.trustedPrincipals = [aws.imds.roleArn];
  });
  afterAll(async () => {
    await aws?.close();
  });
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-heartbeat-'));
    aws.receiver.reset();
    aws.receiver.clockOffsetMs = 0;
    logs.length = 0;
    exporter = await startExporter();
    exporter.serve((n) => `# TYPE app_value gauge\napp_value{k="1"} ${n}\napp_value{k="2"} ${n * 2}\n`);
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await exporter.close();
    await sandbox.restore();
    await rm(dir, { recursive: true, force: true });
  });

  /** Starts an agent scraping the exporter every second and writing to `url`, signed as `sigv4` says. */
  async function start(options: { url?: string; sigv4?: string } = {}): Promise<Agent> {
    const config = parseAgentConfigYaml(
      `global: { scrape_interval: 1s, external_labels: { cluster: heartbeat } }
scrape_configs:
  - job_name: app
    static_configs: [{ targets: ['${exporter.target}'] }]
remote_write:
  - name: amp
    url: ${options.url ?? aws.receiver.url}
    sigv4: { ${options.sigv4 ?? 'region: us-east-1'} }
    queue_config: { batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 300ms }
`,
      'heartbeat test config',
    );
    const agent = await Agent.start({ config, dataDir: path.join(dir, 'data'), listen: '127.0.0.1:0', log: (level, message, fields = {}) => logs.push({ level, message, fields }) });
    agents.push(agent);
    return agent;
  }

  /** A heartbeat as the channel sends it, parsed with the protocol's schema (which must accept it). */
  async function heartbeat(agent: Agent): Promise<Heartbeat> {
    const body = await buildHeartbeat(agent);
    const parsed = agentMessageSchema.safeParse({ type: 'heartbeat', v: PROTOCOL_VERSION, seq: 1, at: new Date().toISOString(), ...body });
    expect(parsed.success ? [] : parsed.error.issues).toEqual([]);
    return parsed.data as Heartbeat;
  }

  /** Builds heartbeats until the (only) destination satisfies `ready`; returns that heartbeat. */
  async function heartbeatWhen(agent: Agent, what: string, ready: (d: Destination) => boolean): Promise<{ hb: Heartbeat; d: Destination }> {
    let last: Heartbeat | undefined;
    await eventually(what, async () => {
      last = await heartbeat(agent);
      return last.destinations.length === 1 && ready(last.destinations[0]!);
    });
    return { hb: last!, d: last!.destinations[0]! };
  }

  const acceptedTimestamps = () => new Set(aws.receiver.samples().map((s) => s.sample.timestamp));

  it('reports a healthy signed destination: samples sent, shards, the newest timestamp sent, the sigv4 facts and the credentials', async () => {
    await sandbox.useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    const agent = await start({ sigv4: `region: us-east-1, role_arn: '${ROLE}', external_id: ${EXTERNAL_ID}` });
    const { hb, d } = await heartbeatWhen(agent, 'samples sent and the caller identity known', (x) => (x.samplesSent ?? 0) > 0 && x.credentials?.callerArn != null);

    expect(hb.startedAt).toBe(agent.startedAt.toISOString());
    expect(d.name).toBe('amp');
    expect(d.url).toBe(aws.receiver.url);
    expect(d.samplesSent).toBeGreaterThan(0);
    expect(d.samplesSent).toBeLessThanOrEqual(aws.receiver.counters.acceptedSamples);
    expect(d.samplesRetried).toBe(0);
    expect(d.failedSendsByClass).toEqual({});
    expect(d.droppedByReason).toEqual({});
    expect(d.shards).toBeGreaterThanOrEqual(1);
    // The newest timestamp the receiver accepted from this agent, recent.
    expect(acceptedTimestamps().has(d.highestSentTimestampMs!)).toBe(true);
    expect(Math.abs(Date.now() - d.highestSentTimestampMs!)).toBeLessThan(60_000);
    // When the destination last accepted a batch: what the control plane judges stalls by.
    expect(Math.abs(Date.now() - Date.parse(d.lastSuccessAt!))).toBeLessThan(60_000);
    expect(d.sigv4).toEqual({ service: 'aps', region: 'us-east-1', roleArn: ROLE });
    expect(d.credentials!.source).toBe(`assume role ${ROLE} via EC2 instance metadata (IMDSv2)`);
    expect(d.credentials!.callerArn).toMatch(/^arn:aws:sts::210987654321:assumed-role\/amp-writer\//);
    expect(Date.parse(d.credentials!.expiresAt!)).toBeGreaterThan(Date.now());
    expect(d.credentials!.lastError).toBeNull();
    expect(Math.abs(d.clockOffsetMs!)).toBeLessThan(5_000);
    expect(d.lastError).toBeNull();
    expect(hb.counters.samplesSent).toBeGreaterThan(0);
    expect(hb.targets).toEqual([expect.objectContaining({ job: 'app', instance: exporter.target, up: true })]);
  });

  it('keeps startedAt across heartbeats and live config applies while the counters keep growing', async () => {
    await sandbox.useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    const agent = await start();
    const first = (await heartbeatWhen(agent, 'samples sent', (x) => (x.samplesSent ?? 0) > 0)).hb;
    const startedAt = agent.startedAt.toISOString();
    expect(first.startedAt).toBe(startedAt);
    expect(Date.parse(first.startedAt!)).toBeLessThanOrEqual(Date.now());

    const sentBefore = first.destinations[0]!.samplesSent!;
    const later = (await heartbeatWhen(agent, 'more samples sent', (x) => x.samplesSent! > sentBefore)).hb;
    expect(later.startedAt).toBe(startedAt);
    expect(later.counters.samplesScraped).toBeGreaterThanOrEqual(first.counters.samplesScraped);

    // A changed destination is reopened live: same agent, same start, counters not reset.
    await agent.applyConfig(
      parseAgentConfigYaml(
        `global: { scrape_interval: 1s, external_labels: { cluster: heartbeat, changed: 'yes' } }
scrape_configs:
  - job_name: app
    static_configs: [{ targets: ['${exporter.target}'] }]
remote_write:
  - name: amp
    url: ${aws.receiver.url}
    sigv4: { region: us-east-1 }
    queue_config: { batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 300ms }
`,
        'changed config',
      ),
    );
    const afterApply = await heartbeat(agent);
    expect(afterApply.startedAt).toBe(startedAt);
    expect(afterApply.destinations[0]!.samplesSent).toBeGreaterThanOrEqual(later.destinations[0]!.samplesSent!);
  });

  it('reports access denied with the action, resource and principal, counted in failedSendsByClass', async () => {
    await sandbox.useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    const agent = await start();
    const healthy = (await heartbeatWhen(agent, 'samples sent and the caller identity known', (x) => (x.samplesSent ?? 0) > 0 && x.credentials?.callerArn != null)).d;
    const callerArn = healthy.credentials!.callerArn!;
    const workspace = `arn:aws:aps:us-east-1:${aws.imds.accountId}:workspace/${aws.receiver.workspaceId}`;
    aws.receiver.faults.push({
      status: 403,
      code: 'AccessDeniedException',
      message: `User: ${callerArn} is not authorized to perform: aps:RemoteWrite on resource: ${workspace} because no identity-based policy allows the aps:RemoteWrite action`,
    });
    const { d } = await heartbeatWhen(agent, 'the access denied error', (x) => x.lastError?.class === 'access_denied');

    expect(d.lastError).toMatchObject({ class: 'access_denied', code: 'AccessDeniedException', status: 403, action: 'aps:RemoteWrite', resource: workspace });
    expect(d.lastError!.message).toContain('is not authorized to perform: aps:RemoteWrite');
    expect(d.lastError!.detail).toBe(`action aps:RemoteWrite; resource ${workspace}; principal ${callerArn}`);
    expect(d.failedSendsByClass).toEqual({ access_denied: 1 });
    // Not retryable: the batch was dropped and counted.
    expect(d.droppedByReason.http_4xx).toBeGreaterThan(0);
    expect(aws.receiver.requests.filter((r) => r.status === 403)).toHaveLength(1);
  });

  it('reports a receiver that is down: a connect error whose detail names the stage and host:port', async () => {
    const port = await closedPort();
    await sandbox.useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    const agent = await start({ url: `http://127.0.0.1:${port}/workspaces/ws-down/api/v1/remote_write` });
    const { d } = await heartbeatWhen(agent, 'a connect error with samples pending', (x) => x.lastError?.class === 'connect' && x.pendingSamples > 0 && (x.samplesRetried ?? 0) > 0);

    expect(d.lastError).toMatchObject({ class: 'connect', code: 'ECONNREFUSED', status: null });
    expect(d.lastError!.detail).toBe(`stage TCP connect; endpoint 127.0.0.1:${port}; error ECONNREFUSED`);
    expect(d.failedSendsByClass!.connect).toBeGreaterThanOrEqual(1);
    expect(d.samplesSent).toBe(0);
    expect(d).not.toHaveProperty('highestSentTimestampMs');
    expect(d.lastSuccessAt).toBeNull();
    expect(d.droppedByReason).toEqual({});
    // Signing worked: the credentials are fine, the endpoint is not.
    expect(d.credentials!.source).toBe('EC2 instance metadata (IMDSv2)');
  });

  it('reports missing credentials with the providers of the chain that were tried, without contacting the destination', async () => {
    sandbox.useEnv(isolatedAwsEnv());
    const agent = await start();
    const { d } = await heartbeatWhen(agent, 'the no_credentials error', (x) => x.lastError?.class === 'no_credentials');

    const detail = d.lastError!.detail!;
    expect(detail).toMatch(/^no provider produced credentials; tried: /);
    for (const provider of [
      'environment (AWS_ACCESS_KEY_ID): not set',
      `shared files (${process.env.AWS_SHARED_CREDENTIALS_FILE}, profile default)`,
      'web identity / IRSA (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN): not set',
      'container / Pod Identity (AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI): not set',
      'EC2 instance metadata (IMDSv2): disabled',
    ]) {
      expect(detail).toContain(provider);
    }
    expect(d.lastError!.status).toBeNull();
    expect(d.credentials).toMatchObject({ source: null, callerArn: null, expiresAt: null });
    expect(d.credentials!.lastError).toBeTruthy();
    expect(d.failedSendsByClass!.no_credentials).toBeGreaterThanOrEqual(1);
    expect(d.samplesSent).toBe(0);
    expect(aws.receiver.counters.requests).toBe(0);
  });

  it('reports a clock skew rejection with the offset measured from the answer, then delivers', async () => {
    aws.receiver.clockOffsetMs = 10 * 60_000;
    await sandbox.useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    const agent = await start();
    const { d } = await heartbeatWhen(agent, 'a clock skew error, then samples sent', (x) => x.lastError?.class === 'clock_skew' && (x.samplesSent ?? 0) > 0);

    const m = /^measured clock offset \+(\d+\.\d) s \(endpoint time − local time\); AWS rejects signatures more than 300 s off$/.exec(d.lastError!.detail!);
    expect(m, d.lastError!.detail).not.toBeNull();
    expect(Number(m![1])).toBeGreaterThan(590);
    expect(Number(m![1])).toBeLessThan(610);
    expect(d.failedSendsByClass!.clock_skew).toBeGreaterThanOrEqual(1);
    expect(d.clockOffsetMs! / 1000).toBeGreaterThan(590);
  });

  it('reports a region mismatch with the signed region and what is known of the endpoint region', async () => {
    await sandbox.useScenario(ec2Env(aws.imds, { sts: aws.sts }));
    const agent = await start({ sigv4: 'region: us-west-2' });
    const { d } = await heartbeatWhen(agent, 'the region mismatch error', (x) => x.lastError?.class === 'region_mismatch');

    expect(d.lastError!.status).toBe(403);
    expect(d.lastError!.detail).toBe('signed for region us-west-2 (sigv4.region); endpoint region unknown (the host 127.0.0.1 names no region; fleet-agent doctor probes it)');
    expect(d.sigv4).toEqual({ service: 'aps', region: 'us-west-2', roleArn: null });
    expect(d.failedSendsByClass!.region_mismatch).toBeGreaterThanOrEqual(1);
  });
});

/** A loopback port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

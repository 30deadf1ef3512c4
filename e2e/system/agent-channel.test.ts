import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { RunningAgent } from '../support/agent.js';
import { ec2Env, startFakeAws, type FakeAws } from '../support/aws/index.js';
import { startControlPlane, type RunningControlPlane } from '../support/control-plane.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { agentsById, enrollAndRun, signIn, stateDirOf, type ListedAgent, type Operator } from '../support/fleet.js';
import { freePort } from '../support/prometheus.js';
import { eventually } from '../support/wait.js';

const ADMIN = { email: 'admin@example.com', password: 'a long admin password' };
const ROLE = 'arn:aws:iam::123456789012:role/fleet-writer';

/**
 * The whole loop with real processes: a control plane (PGlite), two enrolled `fleet-agent run
 * --server` processes, the fake AWS (IMDSv2 instance role → AssumeRole with the account's
 * ExternalId) and the SigV4-verifying AMP receiver.
 */
describe('agent channel: enroll → publish → apply → deliver, failures, rollback, restarts', () => {
  let aws: FakeAws;
  let exporter: Exporter;
  let dir: string;
  let port: number;
  let cp: RunningControlPlane;
  let op: Operator;
  let pipelineId: string;
  const agents: { agent: RunningAgent; agentId: string }[] = [];

  const startServer = () => startControlPlane({ DATA_DIR: path.join(dir, 'cp'), PORT: String(port), ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, AGENT_HEARTBEAT_INTERVAL: '1s' });
  const fleet = () => agentsById(op);
  const both = async (check: (a: ListedAgent) => boolean) => {
    const all = await fleet();
    return agents.every(({ agentId }) => {
      const a = all.get(agentId);
      return a !== undefined && check(a);
    });
  };
  const document = (extra: Record<string, unknown> = {}) => ({
    global: { scrape_interval: '1s', external_labels: { pipeline: 'node' } },
    scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [exporter.target] }] }],
    remote_write: [{ url: aws.receiver.url, name: 'amp', aws_account: 'prod', queue_config: { batch_send_deadline: '100ms', min_backoff: '50ms', max_backoff: '300ms' }, ...extra }],
  });

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-channel-'));
    port = await freePort();
    aws = await startFakeAws();
    exporter = await startExporter();
    cp = await startServer();
    op = await signIn(() => cp.url, ADMIN.email, ADMIN.password);
    const account = await op.call<{ externalId: string }>('accounts.create', { accountId: '123456789012', name: 'prod', defaultRegion: 'us-east-1', roleArn: ROLE });
    // The account's role trusts the instance role, with the ExternalId the control plane generated.
    aws.sts.addRole({ arn: ROLE, externalId: account.externalId, trustedPrincipals: [aws.imds.roleArn] });
    const { token } = await op.call<{ token: string }>('enrollment.create', { name: 'prod hosts', expiresInHours: 1, maxUses: 2, labels: { env: 'prod' } });
    const { env } = await ec2Env(aws.imds, { sts: aws.sts });
    const runEnv = { ...env, FLEET_RECONNECT_MIN_MS: '200', FLEET_RECONNECT_MAX_MS: '2000' };
    for (const n of [1, 2]) agents.push(await enrollAndRun({ server: cp.url, token, stateDir: stateDirOf(dir, n), env: runEnv }));
  }, 120_000);

  afterAll(async () => {
    await Promise.all(agents.map((a) => a.agent.kill()));
    await cp?.stop();
    await exporter?.close();
    await aws?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('both agents connect, report online and apply the (empty) config of no pipeline', async () => {
    await eventually('both agents online with their config applied', () => both((a) => a.state === 'online' && a.configStatus === 'applied'));
    const all = await fleet();
    for (const { agentId } of agents) expect(all.get(agentId)).toMatchObject({ labels: { env: 'prod' }, appliedPipelines: [] });
  });

  it('publishing a pipeline reaches both agents at once; samples arrive signed; heartbeats carry live counters', async () => {
    const created = await op.call<{ pipeline: { id: string } }>('pipelines.create', { name: 'node', selector: [{ name: 'env', op: '=', value: 'prod' }], document: document(), note: 'first' });
    pipelineId = created.pipeline.id;
    await op.call('pipelines.publish', { id: pipelineId, version: 1, note: 'roll out' });
    await eventually('both agents to apply v1', () => both((a) => a.configStatus === 'applied' && a.appliedPipelines.some((p) => p.version === 1)));
    await aws.receiver.waitFor(() => aws.receiver.samples('up').length >= 4, 20_000);
    // Signed with the assumed role's credentials, external label folded in by the merge.
    expect(aws.receiver.counters.rejected).toEqual({});
    expect(aws.receiver.samples('up')[0]!.labels).toMatchObject({ job: 'app', pipeline: 'node' });
    for (const { agent } of agents) await eventually('the agent to send samples', async () => (await agent.metric('fleet_agent_remote_samples_sent_total')) > 0);
    const rollout = await op.query<{ publishedVersion: number; summary: Record<string, number> }>('pipelines.rollout', { id: pipelineId });
    expect(rollout).toMatchObject({ publishedVersion: 1, summary: { applied: 2, pending: 0, failed: 0, offline: 0 } });
    await eventually('heartbeats with samples sent', () => both((a) => (a.counters?.samplesSent ?? 0) > 0));
    // The applied config is kept in the state directory, readable only by the agent.
    const file = path.join(stateDirOf(dir, 1), 'config.json');
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(file, 'utf8'))).toMatchObject({ pipelines: [{ name: 'node', version: 1 }] });
  });

  it('a version the agents cannot apply is reported failed with the reason; the previous one keeps delivering', async () => {
    await op.call('pipelines.saveDraft', { id: pipelineId, selector: [{ name: 'env', op: '=', value: 'prod' }], document: document({ tls_config: { ca_file: '/nonexistent/fleet-ca.pem' } }), note: 'tls' });
    await op.call('pipelines.publish', { id: pipelineId, version: 2, note: 'broken on purpose' });
    await eventually('both agents to report failure', () => both((a) => a.configStatus === 'failed'));
    const all = await fleet();
    for (const { agentId } of agents) expect(all.get(agentId)!.configError).toMatch(/fleet-ca\.pem/);
    const rollout = await op.query<{ summary: Record<string, number>; agents: { state: string; configError: string | null }[] }>('pipelines.rollout', { id: pipelineId });
    expect(rollout.summary).toMatchObject({ applied: 0, failed: 2 });
    const before = aws.receiver.samples('up').length;
    await aws.receiver.waitFor(() => aws.receiver.samples('up').length >= before + 4, 20_000);
  });

  it('rolling back applies the previous version again', async () => {
    await op.call('pipelines.publish', { id: pipelineId, version: 1, note: 'roll back' });
    await eventually('both agents to run v1 again', () => both((a) => a.configStatus === 'applied' && a.appliedPipelines.some((p) => p.version === 1)));
    const rollout = await op.query<{ summary: Record<string, number> }>('pipelines.rollout', { id: pipelineId });
    expect(rollout.summary).toMatchObject({ applied: 2, failed: 0 });
  });

  it('a label change moves an agent out of the selector at once', async () => {
    const second = agents[1]!.agentId;
    await op.call('agents.setLabels', { id: second, labels: { env: 'dev' } });
    await eventually('the agent to apply a config without the pipeline', async () => {
      const a = (await fleet()).get(second)!;
      return a.configStatus === 'applied' && a.appliedPipelines.length === 0;
    });
    const rollout = await op.query<{ selected: number }>('pipelines.rollout', { id: pipelineId });
    expect(rollout.selected).toBe(1);
    await op.call('agents.setLabels', { id: second, labels: { env: 'prod' } });
    await eventually('the agent to run the pipeline again', async () => (await fleet()).get(second)!.appliedPipelines.length === 1);
  });

  it('agents keep delivering while the control plane is down, and reconnect when it is back', async () => {
    expect(await cp.stop()).toBe(0);
    const before = aws.receiver.samples('up').length;
    await aws.receiver.waitFor(() => aws.receiver.samples('up').length >= before + 6, 20_000);
    for (const { agent } of agents) expect(agent.child.exitCode).toBeNull();
    cp = await startServer();
    op = await signIn(() => cp.url, ADMIN.email, ADMIN.password);
    await eventually('both agents back online with v1 applied', () => both((a) => a.state === 'online' && a.configStatus === 'applied' && a.appliedPipelines.length === 1), 40_000);
    // The server told each agent to come back after its own random delay.
    for (const { agent } of agents) expect(agent.logs.some((l) => l.msg === 'the control plane closes the connection' && typeof l.retryAfterMs === 'number')).toBe(true);
  });

  it('after the control plane is killed (kill -9), agents keep delivering and come back when it restarts', async () => {
    const exited = new Promise((resolve) => cp.child.once('exit', resolve));
    cp.child.kill('SIGKILL');
    await exited;
    const before = aws.receiver.samples('up').length;
    await aws.receiver.waitFor(() => aws.receiver.samples('up').length >= before + 6, 20_000);
    // The dead process's PGlite lock goes stale after 15 s; until then a restart is refused by name.
    await eventually(
      'the control plane to start again',
      async () => {
        try {
          cp = await startServer();
          return true;
        } catch (err) {
          expect(String(err)).toMatch(/in use by another control-plane process/);
          return false;
        }
      },
      40_000,
      1_000,
    );
    op = await signIn(() => cp.url, ADMIN.email, ADMIN.password);
    await eventually('both agents back online with v1 applied', () => both((a) => a.state === 'online' && a.configStatus === 'applied' && a.appliedPipelines.length === 1), 60_000);
  });

  it('removing an agent revokes its secret and closes its socket; it keeps running but cannot come back', async () => {
    const { agent, agentId } = agents[0]!;
    await op.call('agents.remove', { id: agentId });
    await eventually('the agent to be refused', () => agent.logs.some((l) => String(l.msg).startsWith('the control plane refused this agent')));
    expect((await fleet()).has(agentId)).toBe(false);
    expect(agent.child.exitCode).toBeNull();
    const state = JSON.parse(await readFile(path.join(stateDirOf(dir, 1), 'agent.json'), 'utf8')) as { agentSecret: string };
    // The secret no longer opens a session: the upgrade is refused with 401 and the reason.
    const refused = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${cp.url.replace('http', 'ws')}/agent/v1/ws`, { headers: { authorization: `Bearer ${state.agentSecret}`, 'x-fleet-agent-id': agentId } });
      ws.on('unexpected-response', (_req, r) => resolve(r.statusCode ?? 0));
      ws.on('open', () => reject(new Error('a removed agent opened a session')));
      ws.on('error', () => undefined);
    });
    expect(refused).toBe(401);
  });
});

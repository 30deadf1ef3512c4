import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { agents as agentsTable, openDatabase, type DatabaseHandle } from '@fleet/db';
import { createPostgresDatabase, testPostgresUrl } from '@fleet/db/test-support';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../support/agent.js';
import { ec2Env, startFakeAws, type FakeAws } from '../support/aws/index.js';
import { startControlPlane, type RunningControlPlane } from '../support/control-plane.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { agentsById, enrollAndRun, signIn, stateDirOf, type Operator } from '../support/fleet.js';
import { freePort } from '../support/prometheus.js';
import { eventually } from '../support/wait.js';

const ADMIN = { email: 'admin@example.com', password: 'a long admin password' };
const ROLE = 'arn:aws:iam::123456789012:role/fleet-writer';
const HEARTBEAT_MS = 1_000;

// Throws under CI=true when TEST_DATABASE_URL is missing (a failure, never a silent skip).
const adminUrl = testPostgresUrl();

/**
 * Scale-out: two control-plane processes on one PostgreSQL. Each agent holds its socket to the
 * replica it enrolled with; publications and label changes made through either replica reach
 * agents on the other through PostgreSQL NOTIFY; a replica that stops releases its agents, and
 * the agents of one that dies are found silent by the other.
 */
describe.skipIf(!adminUrl)(`two control-plane replicas on one PostgreSQL${adminUrl ? '' : ' (set TEST_DATABASE_URL to run)'}`, () => {
  let database: { url: string; drop(): Promise<void> };
  let db: DatabaseHandle;
  let aws: FakeAws;
  let exporter: Exporter;
  let dir: string;
  /** Replica B keeps its port across restarts: agent 2 knows only that address. */
  let portB: number;
  let a: RunningControlPlane;
  let b: RunningControlPlane | undefined;
  let opA: Operator;
  let opB: Operator;
  let agent1: { agent: RunningAgent; agentId: string };
  let agent2: { agent: RunningAgent; agentId: string };

  // DATA_DIR is not used with DATABASE_URL; it only keeps the default (.data) out of the repository.
  const replica = (env: Record<string, string>) =>
    startControlPlane({ DATABASE_URL: database.url, DATA_DIR: path.join(dir, 'unused'), ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, AGENT_HEARTBEAT_INTERVAL: `${HEARTBEAT_MS}ms`, ...env });
  /** The agent as replica A's API shows it. */
  const seenByA = async (agentId: string) => (await agentsById(opA)).get(agentId);
  /** Which replica holds each agent's session, from the agents table. */
  const connectedReplicas = async () => new Map((await db.db.select({ id: agentsTable.id, replica: agentsTable.connectedReplica }).from(agentsTable)).map((r) => [r.id, r.replica]));
  const isReplica = (replicaId: string | null | undefined, cp: RunningControlPlane) => typeof replicaId === 'string' && replicaId.includes(`:${cp.child.pid}:`);

  beforeAll(async () => {
    database = await createPostgresDatabase(adminUrl!);
    db = await openDatabase({ databaseUrl: database.url, poolSize: 2 });
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-replicas-'));
    aws = await startFakeAws();
    exporter = await startExporter();
    exporter.serve('replica_test_metric 1\n');
    // One after the other, as in a rolling deploy (ADMIN_EMAIL on both: the second finds the admin).
    portB = await freePort();
    a = await replica({});
    b = await replica({ PORT: String(portB) });
    [opA, opB] = await Promise.all([signIn(() => a.url, ADMIN.email, ADMIN.password), signIn(() => b!.url, ADMIN.email, ADMIN.password)]);
    const account = await opA.call<{ externalId: string }>('accounts.create', { accountId: '123456789012', name: 'prod', defaultRegion: 'us-east-1', roleArn: ROLE });
    aws.sts.addRole({ arn: ROLE, externalId: account.externalId, trustedPrincipals: [aws.imds.roleArn] });
    const { token } = await opA.call<{ token: string }>('enrollment.create', { name: 'prod hosts', expiresInHours: 1, maxUses: 2, labels: { env: 'prod' } });
    const { env } = await ec2Env(aws.imds, { sts: aws.sts });
    const runEnv = { ...env, FLEET_RECONNECT_MIN_MS: '200', FLEET_RECONNECT_MAX_MS: '2000' };
    // Each agent keeps its socket to the server it enrolled with.
    agent1 = await enrollAndRun({ server: a.url, token, stateDir: stateDirOf(dir, 1), env: runEnv });
    agent2 = await enrollAndRun({ server: b.url, token, stateDir: stateDirOf(dir, 2), env: runEnv });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([agent1?.agent.kill(), agent2?.agent.kill()]);
    await Promise.all([a?.stop(), b?.stop()]);
    await db?.close();
    await exporter?.close();
    await aws?.close();
    await database?.drop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('each agent is connected to the replica it enrolled with', async () => {
    await eventually('both agents online', async () => (await seenByA(agent1.agentId))?.state === 'online' && (await seenByA(agent2.agentId))?.state === 'online');
    const replicas = await connectedReplicas();
    expect(isReplica(replicas.get(agent1.agentId), a)).toBe(true);
    expect(isReplica(replicas.get(agent2.agentId), b!)).toBe(true);
    expect(replicas.get(agent1.agentId)).not.toBe(replicas.get(agent2.agentId));
    // The replicas' own logs agree.
    expect(a.logs.some((l) => l.msg === 'agent connected' && l.agentId === agent1.agentId)).toBe(true);
    expect(a.logs.some((l) => l.msg === 'agent connected' && l.agentId === agent2.agentId)).toBe(false);
    expect(b!.logs.some((l) => l.msg === 'agent connected' && l.agentId === agent2.agentId)).toBe(true);
  });

  it('a pipeline published through replica A reaches the agent on replica B', async () => {
    const { pipeline } = await opA.call<{ pipeline: { id: string } }>('pipelines.create', {
      name: 'node',
      selector: [{ name: 'env', op: '=', value: 'prod' }],
      document: {
        global: { scrape_interval: '1s' },
        scrape_configs: [{ job_name: 'app', static_configs: [{ targets: [exporter.target] }] }],
        remote_write: [{ url: aws.receiver.url, name: 'amp', aws_account: 'prod', queue_config: { batch_send_deadline: '100ms', min_backoff: '50ms', max_backoff: '300ms' } }],
      },
      note: 'first',
    });
    await opA.call('pipelines.publish', { id: pipeline.id, version: 1, note: 'roll out' });
    await eventually('agent 2 (on replica B) to apply v1', async () => {
      const seen = await seenByA(agent2.agentId);
      return seen?.configStatus === 'applied' && seen.appliedPipelines.some((p) => p.id === pipeline.id && p.version === 1);
    });
    // It scrapes the job and delivers (signed with the assumed role).
    await eventually('agent 2 to scrape the job', async () => (await agent2.agent.metric('fleet_agent_target_up', { job: 'app', instance: exporter.target })) === 1);
    await eventually('agent 2 to send samples', async () => (await agent2.agent.metric('fleet_agent_remote_samples_sent_total')) > 0);
    expect(aws.receiver.counters.rejected).toEqual({});
    // Replica B's API tells the same story as replica A's: one database.
    expect((await agentsById(opB)).get(agent2.agentId)).toMatchObject({ configStatus: 'applied', appliedPipelines: [{ id: pipeline.id, version: 1 }] });
    // Agent 1, on replica A, got it as well.
    await eventually('agent 1 to apply v1', async () => (await seenByA(agent1.agentId))?.appliedPipelines.some((p) => p.version === 1) === true);
  });

  it('a label change made through replica B reaches the agent on replica A', async () => {
    await opB.call('agents.setLabels', { id: agent1.agentId, labels: { env: 'dev' } });
    await eventually('agent 1 (on replica A) to apply a config without the pipeline', async () => {
      const seen = await seenByA(agent1.agentId);
      return seen?.labels.env === 'dev' && seen.configStatus === 'applied' && seen.appliedPipelines.length === 0;
    });
    // Its next heartbeat (relayed by replica A) lists no target of the job any more.
    const appliedAt = Date.now();
    await eventually('a heartbeat of agent 1 without the job', async () => {
      const [row] = await db.db.select({ hb: agentsTable.lastHeartbeat }).from(agentsTable).where(eq(agentsTable.id, agent1.agentId));
      const hb = row?.hb as { receivedAt?: string; targets?: { job: string }[] } | null | undefined;
      return Date.parse(hb?.receivedAt ?? '') > appliedAt && hb?.targets?.some((t) => t.job === 'app') === false;
    });
    // Agent 1 stayed on replica A throughout.
    expect(isReplica((await connectedReplicas()).get(agent1.agentId), a)).toBe(true);
  });

  it('a replica that dies without a word: replica A marks its agent offline within a few heartbeat intervals', async () => {
    const lastSeen = Date.now();
    b!.child.kill('SIGKILL');
    await once(b!.child, 'exit');
    b = undefined;
    // Nobody closes agent 2's session: replica A's watchdog finds it silent for 3 intervals.
    await eventually('agent 2 offline through replica A', async () => (await seenByA(agent2.agentId))?.state === 'offline', 6 * HEARTBEAT_MS);
    const seen = (await seenByA(agent2.agentId))!;
    // Offline since it was last heard, not since the watchdog noticed.
    expect(Date.parse(seen.offlineSince!)).toBeLessThanOrEqual(Date.now() - 2 * HEARTBEAT_MS);
    expect(Date.parse(seen.offlineSince!)).toBeGreaterThanOrEqual(lastSeen - 2 * HEARTBEAT_MS);
    expect(a.logs.some((l) => l.msg === 'marked silent agents offline')).toBe(true);
    expect((await seenByA(agent1.agentId))?.state).toBe('online');
    // Agent 2 keeps running its last config while its control plane is away.
    expect(agent2.agent.child.exitCode).toBeNull();
    expect(await agent2.agent.metric('fleet_agent_target_up', { job: 'app', instance: exporter.target })).toBe(1);
  });

  it('a replica that stops releases its agents at once, as replica A sees it', async () => {
    b = await replica({ PORT: String(portB) });
    await eventually('agent 2 back online on the new replica B', async () => (await seenByA(agent2.agentId))?.state === 'online' && isReplica((await connectedReplicas()).get(agent2.agentId), b!));
    const stoppedAt = Date.now();
    expect(await b.stop()).toBe(0);
    b = undefined;
    // Released by B's shutdown, not found silent later by A's watchdog.
    await eventually('agent 2 offline through replica A', async () => (await seenByA(agent2.agentId))?.state === 'offline', 3 * HEARTBEAT_MS);
    expect(Date.parse((await seenByA(agent2.agentId))!.offlineSince!)).toBeGreaterThanOrEqual(stoppedAt);
    expect((await seenByA(agent1.agentId))?.state).toBe('online');
    expect(agent2.agent.logs.some((l) => l.msg === 'the control plane closes the connection' && typeof l.retryAfterMs === 'number')).toBe(true);
  });
});

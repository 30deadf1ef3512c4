import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunningAgent } from '../support/agent.js';
import { isolatedAwsEnv, startFakeAws, startRemoteWriteReceiver, type FakeAws, type RemoteWriteReceiver } from '../support/aws/index.js';
import { startControlPlane, type RunningControlPlane } from '../support/control-plane.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { agentsById, enrollAndRun, stateDirOf, type Operator } from '../support/fleet.js';
import { freePort } from '../support/prometheus.js';
import { eventually } from '../support/wait.js';

const ADMIN = { email: 'admin@example.com', password: 'a long admin password' };

interface Remedy {
  summary: string;
  steps: string[];
}
interface Finding {
  kind: string;
  severity: 'warning' | 'critical';
  destination?: string;
  url?: string;
  facts: Record<string, string | number>;
}
interface Overview {
  history: { rollups: boolean; stats: boolean };
  totals: { sent: number; dropped: number; filtered: number };
  topDestinations: unknown[];
  findings: Array<{ kind: string; severity: string; agents: number; url: string | null; finding: Finding; remedy: Remedy }>;
}
interface AgentRow {
  health: string;
  findings: Finding[];
  lastHeartbeat: {
    counters: Record<string, number>;
    destinations: Array<{ name: string; samplesSent?: number; samplesFiltered?: number; droppedByReason: Record<string, number> }>;
  } | null;
}

/** A signed-in operator whose calls say where they come from (state-changing calls must name their Origin). */
async function signIn(url: string, email: string, password: string): Promise<Operator> {
  const res = await fetch(`${url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: url }, body: JSON.stringify({ email, password }) });
  if (!res.ok) throw new Error(`sign-in failed: HTTP ${res.status} ${await res.text()}`);
  const headers = { cookie: res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; '), origin: url };
  const unwrap = async <T>(procedure: string, r: Response): Promise<T> => {
    const body = (await r.json()) as { result?: { data: T }; error?: { message: string } };
    if (!r.ok || !body.result) throw new Error(`${procedure}: HTTP ${r.status}: ${body.error?.message ?? JSON.stringify(body)}`);
    return body.result.data;
  };
  return {
    call: async (procedure, input) => unwrap(procedure, await fetch(`${url}/api/trpc/${procedure}`, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify(input ?? null) })),
    query: async (procedure, input) => unwrap(procedure, await fetch(`${url}/api/trpc/${procedure}${input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`}`, { headers })),
  };
}

/**
 * Health that tells the truth, end to end with real agents and one control plane whose stats are
 * rolled up only every 10 minutes (so the whole test runs before the first roll-up with data):
 * an agent whose pipeline keeps one metric (a write_relabel_configs keep-list) reports the rest as
 * filtered, never as dropped, and stays healthy; an agent without credentials writing to two
 * destinations has one finding naming both, whose IMDS command has the required --instance-id;
 * and the overview says there is no rolled-up history yet instead of implying that every
 * destination accepted what it was sent.
 */
describe('health truth: filtered is not lost, one cause is one finding, no data is not success', () => {
  let aws: FakeAws;
  let exporter: Exporter;
  let dir: string;
  let cp: RunningControlPlane;
  let op: Operator;
  let plain: RemoteWriteReceiver;
  let unreachedA: RemoteWriteReceiver;
  let unreachedB: RemoteWriteReceiver;
  const agents = new Map<string, { agent: RunningAgent; agentId: string }>();
  const idOf = (name: string) => agents.get(name)!.agentId;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-health-truth-'));
    aws = await startFakeAws();
    [plain, unreachedA, unreachedB] = await Promise.all([
      startRemoteWriteReceiver({ credentials: aws.authority, verifySignature: false }),
      startRemoteWriteReceiver({ credentials: aws.authority }),
      startRemoteWriteReceiver({ credentials: aws.authority }),
    ]);
    exporter = await startExporter();
    exporter.serve((n) => `# TYPE app_value gauge\napp_value ${n}\n# TYPE app_other gauge\napp_other ${n}\n`);
    cp = await startControlPlane({
      DATA_DIR: path.join(dir, 'cp'),
      PORT: String(await freePort()),
      ADMIN_EMAIL: ADMIN.email,
      ADMIN_PASSWORD: ADMIN.password,
      AGENT_HEARTBEAT_INTERVAL: '1s',
      STATS_INTERVAL: '600s',
    });
    op = await signIn(cp.url, ADMIN.email, ADMIN.password);
    await op.call('accounts.create', { accountId: '123456789012', name: 'prod', defaultRegion: 'us-east-1', roleArn: 'arn:aws:iam::123456789012:role/fleet-writer' });
    const env = { ...isolatedAwsEnv({ sts: aws.sts }), FLEET_RECONNECT_MIN_MS: '200', FLEET_RECONNECT_MAX_MS: '2000' };
    let n = 0;
    for (const name of ['keep', 'nocreds']) {
      const { token } = await op.call<{ token: string }>('enrollment.create', { name, expiresInHours: 1, maxUses: 1, labels: { case: name } });
      agents.set(name, await enrollAndRun({ server: cp.url, token, stateDir: stateDirOf(dir, ++n), env }));
    }
    const queue = { batch_send_deadline: '100ms', min_backoff: '50ms', max_backoff: '500ms' };
    const scrape = [{ job_name: 'app', static_configs: [{ targets: [exporter.target] }] }];
    const pipelines = [
      {
        name: 'keep',
        selector: [{ name: 'case', op: '=', value: 'keep' }],
        document: {
          global: { scrape_interval: '1s' },
          scrape_configs: scrape,
          remote_write: [{ name: 'plain', url: plain.url, queue_config: queue, write_relabel_configs: [{ source_labels: ['__name__'], regex: 'app_value', action: 'keep' }] }],
        },
        note: 'keeps one metric',
      },
      {
        name: 'nocreds',
        selector: [{ name: 'case', op: '=', value: 'nocreds' }],
        document: {
          global: { scrape_interval: '1s' },
          scrape_configs: scrape,
          remote_write: [
            { name: 'a', url: unreachedA.url, aws_account: 'prod', queue_config: queue },
            { name: 'b', url: unreachedB.url, aws_account: 'prod', queue_config: queue },
          ],
        },
        note: 'two destinations, no credentials on the host',
      },
    ];
    for (const p of pipelines) {
      const created = await op.call<{ pipeline: { id: string } }>('pipelines.create', p);
      await op.call('pipelines.publish', { id: created.pipeline.id, version: 1, note: 'roll out' });
    }
    await eventually('both agents to apply their pipeline', async () => {
      const all = await agentsById(op);
      return [...agents.values()].every(({ agentId }) => all.get(agentId)?.configStatus === 'applied' && all.get(agentId)?.appliedPipelines.length === 1);
    });
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...agents.values()].map((a) => a.agent.kill()));
    await cp?.stop();
    await exporter?.close();
    await Promise.all([plain, unreachedA, unreachedB].map((r) => r?.close()));
    await aws?.close();
    await rm(dir, { recursive: true, force: true });
  });

  // Regression: a keep-list showed as 5.1K "dropped (100 %)" in red, from the agent's metrics to the dashboard.
  it('counts what a keep-list removes as filtered — in the agent\'s metrics and its heartbeats — never as dropped', async () => {
    const { agent } = agents.get('keep')!;
    await eventually('the keep-list to filter samples and the kept metric to arrive', async () => (await agent.metric('fleet_agent_remote_samples_filtered_total')) >= 20 && plain.accepted.length > 0, 40_000, 200);
    const filtered = await agent.metric('fleet_agent_remote_samples_filtered_total', { remote_name: 'keep.plain' });
    const dropped = await agent.metric('fleet_agent_remote_samples_dropped_total');
    // eslint-disable-next-line no-console -- the measured numbers, to quote
    console.log(`keep-list agent: ${filtered} samples filtered, ${dropped} dropped, ${plain.accepted.length} series accepted by the receiver`);
    expect(dropped).toBe(0);
    expect(new Set(plain.accepted.map((s) => s.labels.__name__))).toEqual(new Set(['app_value']));
    let row: AgentRow | undefined;
    await eventually(
      'a heartbeat with the filtered samples',
      async () => {
        row = await op.query<AgentRow>('agents.get', { id: idOf('keep') });
        return (row.lastHeartbeat?.destinations[0]?.samplesFiltered ?? 0) > 0 && (row.lastHeartbeat?.counters.samplesFiltered ?? 0) > 0;
      },
      20_000,
      200,
    );
    expect(row!.lastHeartbeat!.counters.samplesDropped).toBe(0);
    expect(row!.lastHeartbeat!.destinations[0]!.droppedByReason).toEqual({});
    expect(row!.health).toBe('healthy');
    expect(row!.findings).toEqual([]);
  });

  // Regression: no credentials showed as two Critical findings with the same text, and the IMDS command lacked --instance-id.
  it('shows one finding for one cause, naming both destinations, with a complete IMDS command', async () => {
    let overview: Overview | undefined;
    await eventually(
      'a no-credentials finding on both destinations',
      async () => {
        overview = await op.query<Overview>('fleet.overview', { windowMinutes: 60 });
        const d = overview.findings.find((g) => g.kind === 'no_credentials')?.finding.destination ?? '';
        return d.includes('nocreds.a') && d.includes('nocreds.b');
      },
      40_000,
      200,
    );
    const groups = overview!.findings.filter((g) => g.kind === 'no_credentials');
    expect(groups).toHaveLength(1);
    expect(groups[0]).toMatchObject({ severity: 'critical', agents: 1, url: null });
    expect(String(groups[0]!.finding.facts.urls)).toBe([unreachedA.url, unreachedB.url].sort().join(', '));
    expect(groups[0]!.remedy.steps.join('\n')).toContain('aws ec2 modify-instance-metadata-options --instance-id <instance-id> --http-tokens required --http-put-response-hop-limit 2');
    const detail = await op.query<{ findings: Finding[] }>('fleet.agent', { id: idOf('nocreds') });
    expect(detail.findings.filter((f) => f.kind === 'no_credentials')).toHaveLength(1);
  });

  // Regression: before the first roll-up the fleet page said "Every destination accepted what it was sent" while every send failed.
  it('says there is no rolled-up history yet, while the agents already report', async () => {
    const overview = await op.query<Overview>('fleet.overview', { windowMinutes: 60 });
    expect(overview.history).toEqual({ rollups: false, stats: true });
    expect(overview.topDestinations).toEqual([]);
    expect(overview.findings.some((g) => g.severity === 'critical')).toBe(true);
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startAgent, type RunningAgent } from '../support/agent.js';
import { ec2Env, startFakeAws, type FakeAws } from '../support/aws/index.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { eventually } from '../support/wait.js';
import { prometheusAvailable, startPrometheus, type RunningPrometheus } from '../support/prometheus.js';

const ROLE = 'arn:aws:iam::210987654321:role/amp-writer';
const EXTERNAL_ID = 'fleet-ext-7f3a';

describe.skipIf(!prometheusAvailable())('fleet-agent → SigV4-verifying receiver → real Prometheus', () => {
  let prom: RunningPrometheus;
  let aws: FakeAws;
  let exporter: Exporter;
  let dir: string;
  const agents: RunningAgent[] = [];

  beforeAll(async () => {
    prom = await startPrometheus();
    aws = await startFakeAws({
      receiver: { upstreamUrl: prom.writeUrl },
      roles: [{ arn: ROLE, externalId: EXTERNAL_ID }],
    });
    // The cross-account role trusts the instance role, requiring the ExternalId.
    aws.sts.roles.get(ROLE)!.trustedPrincipals = [aws.imds.roleArn];
  });
  afterAll(async () => {
    await aws?.close();
    await prom?.stop();
  });
  beforeEach(async () => {
    exporter = await startExporter();
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-agent-e2e-'));
    aws.receiver.reset();
    aws.receiver.clockOffsetMs = 0;
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.kill()));
    await exporter.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function config(extra: { sigv4?: string; job?: string } = {}): Promise<string> {
    const file = path.join(dir, 'agent.yml');
    await writeFile(
      file,
      `global:
  scrape_interval: 1s
  external_labels: { cluster: e2e }
scrape_configs:
  - job_name: app
    static_configs: [{ targets: ['${exporter.target}'], labels: { team: sre } }]
${extra.job ?? ''}
remote_write:
  - url: ${aws.receiver.url}
    name: amp
    sigv4: { region: us-east-1${extra.sigv4 ?? ''} }
    queue_config: { batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 300ms, max_samples_per_send: 500 }
`,
    );
    return file;
  }

  async function run(file: string): Promise<RunningAgent> {
    const { env } = await ec2Env(aws.imds, { sts: aws.sts });
    const agent = await startAgent(['run', '--config', file, '--data-dir', path.join(dir, 'data'), '--listen', '127.0.0.1:0'], env);
    agents.push(agent);
    return agent;
  }

  /** Waits until every sample the agent appended is sent or dropped. */
  async function quiesce(agent: RunningAgent): Promise<{ appended: number; sent: number; dropped: number }> {
    let last = { appended: 0, sent: 0, dropped: 0 };
    await eventually('every appended sample to be sent or dropped', async () => {
      const appended = await agent.metric('fleet_agent_remote_samples_in_total');
      const sent = await agent.metric('fleet_agent_remote_samples_sent_total');
      const dropped = await agent.metric('fleet_agent_remote_samples_dropped_total');
      last = { appended, sent, dropped };
      return appended > 0 && appended === sent + dropped;
    });
    return last;
  }

  function acceptedKeys(name: string): string[] {
    return aws.receiver.samples(name).map((s) => `${JSON.stringify(s.labels)}@${s.sample.timestamp}`);
  }

  it('delivers scraped samples with their labels and timestamps, and stale markers when a series goes', async () => {
    exporter.serve((n) => `# TYPE app_requests_total counter\napp_requests_total{path="/a"} ${n}\napp_requests_total{path="/b"} ${n * 2}\n`);
    const agent = await run(await config());
    await aws.receiver.waitFor(() => aws.receiver.samples('app_requests_total').filter((s) => s.labels.path === '/b').length >= 3, 20_000);
    exporter.serve((n) => `app_requests_total{path="/a"} ${n}\n`);
    await aws.receiver.waitFor(() => aws.receiver.samples('app_requests_total').some((s) => s.labels.path === '/b' && s.sample.stale), 20_000);

    const a = aws.receiver.samples('app_requests_total').filter((s) => s.labels.path === '/a');
    expect(a[0]!.labels).toEqual({ __name__: 'app_requests_total', cluster: 'e2e', instance: exporter.target, job: 'app', path: '/a', team: 'sre' });
    // Prometheus has exactly what the receiver accepted for /a: same timestamps, same values.
    const newest = Math.max(...a.map((s) => s.sample.timestamp)) / 1000;
    const [series] = await prom.samples('app_requests_total{path="/a",job="app"}', newest - 120, newest);
    expect(series!.metric).toMatchObject({ cluster: 'e2e', instance: exporter.target, team: 'sre' });
    expect(series!.values.map(([t, v]) => [Math.round(t * 1000), Number(v)])).toEqual(a.map((s) => [s.sample.timestamp, s.sample.value]));
    // The stale marker ended /b in Prometheus: an instant query right after it finds nothing.
    const staleAt = aws.receiver.samples('app_requests_total').find((s) => s.labels.path === '/b' && s.sample.stale)!.sample.timestamp;
    expect(await prom.query('app_requests_total{path="/b"}', staleAt / 1000 + 0.001)).toEqual([]);
    expect(await prom.query('app_requests_total{path="/a"}', newest)).toHaveLength(1);
    const up = aws.receiver.samples('up');
    expect(up.length).toBeGreaterThan(0);
    expect(up.every((s) => s.sample.value === 1)).toBe(true);
    // Every request carried the remote-write 1.0 headers and a SigV4 signature of the instance role.
    const req = aws.receiver.requests.find((r) => r.outcome === 'accepted')!;
    expect(req.headers['content-encoding']).toBe('snappy');
    expect(req.headers['x-prometheus-remote-write-version']).toBe('0.1.0');
    expect(req.headers['user-agent']).toMatch(/^fleet-agent\/\d+\.\d+\.\d+/);
    expect(req.callerArn).toContain(':assumed-role/');
    expect(await agent.stop()).toBe(0);
  });

  it('retries 5xx and 429, drops 400, and its counters reconcile with what the receiver accepted', async () => {
    exporter.serve((n) => `app_value{k="1"} ${n}\napp_value{k="2"} ${n}\n`);
    const agent = await run(await config());
    await aws.receiver.waitForSamples(10, 20_000);
    aws.receiver.faults.push({ status: 500 }, { status: 503 }, { status: 429, retryAfter: '1' }, { status: 400, message: 'out of order sample' }, { status: 502 });
    await aws.receiver.waitFor(() => aws.receiver.faults.length === 0, 20_000);
    exporter.serve('');
    await exporter.close();
    const { appended, sent, dropped } = await quiesce(agent);

    const accepted = aws.receiver.counters.acceptedSamples;
    expect(sent).toBe(accepted);
    expect(dropped).toBe(await agent.metric('fleet_agent_remote_samples_dropped_total', { reason: 'http_4xx' }));
    expect(dropped).toBeGreaterThan(0);
    expect(appended).toBe(sent + dropped);
    expect(await agent.metric('fleet_agent_remote_samples_retried_total')).toBeGreaterThan(0);
    // Nothing arrived twice.
    for (const name of ['app_value', 'up']) {
      const keys = acceptedKeys(name);
      expect(new Set(keys).size).toBe(keys.length);
    }
    const retryAfter = aws.receiver.requests.findIndex((r) => r.status === 429);
    expect(aws.receiver.requests[retryAfter + 1]!.at.getTime() - aws.receiver.requests[retryAfter]!.at.getTime()).toBeGreaterThanOrEqual(900);
  });

  it('refreshes expired credentials on a 403 and drops nothing', async () => {
    exporter.serve((n) => `app_value ${n}\n`);
    const agent = await run(await config());
    await aws.receiver.waitForSamples(5, 20_000);
    const firstKey = aws.imds.current!.accessKeyId;
    aws.authority.expire(firstKey);
    aws.imds.rotate();
    await aws.receiver.waitFor(() => aws.receiver.requests.some((r) => r.outcome === 'accepted' && r.accessKeyId !== firstKey), 20_000);
    expect(aws.receiver.requests.some((r) => r.code === 'ExpiredTokenException')).toBe(true);
    await exporter.close();
    const { dropped } = await quiesce(agent);
    expect(dropped).toBe(0);
  });

  it('assumes a cross-account role with its ExternalId', async () => {
    exporter.serve('app_value 1\n');
    const agent = await run(await config({ sigv4: `, role_arn: '${ROLE}', external_id: ${EXTERNAL_ID}` }));
    await aws.receiver.waitForSamples(3, 20_000);
    const req = aws.receiver.requests.find((r) => r.outcome === 'accepted')!;
    expect(req.callerArn).toMatch(/^arn:aws:sts::210987654321:assumed-role\/amp-writer\//);
    expect(aws.sts.calls.some((c) => c.action === 'AssumeRole')).toBe(true);
    expect(await agent.stop()).toBe(0);
  });

  it('learns the clock offset from Date headers and keeps delivering', async () => {
    aws.receiver.clockOffsetMs = 10 * 60_000;
    exporter.serve('app_value 1\n');
    const agent = await run(await config());
    await aws.receiver.waitForSamples(5, 20_000);
    expect(aws.receiver.requests.some((r) => r.reason === 'clock-skew' && /Signature expired/.test(r.message ?? ''))).toBe(true);
    const offset = await agent.metric('fleet_agent_aws_clock_offset_seconds');
    expect(offset).toBeGreaterThan(590);
    expect(offset).toBeLessThan(610);
    await exporter.close();
    expect((await quiesce(agent)).dropped).toBe(0);
  });

  it('after kill -9 with the receiver down, delivers every sample scraped before the kill', async () => {
    let ok = true;
    const good: number[] = [];
    exporter.serve((n, now) => {
      if (!ok) return 'garbage{\n';
      good.push(now);
      return `app_seq ${n} ${now}\n`;
    });
    const file = await config();
    const first = await run(file);
    await aws.receiver.waitForSamples(3, 20_000);
    for (let i = 0; i < 1000; i++) aws.receiver.faults.push({ status: 503 });
    const scrapesBefore = exporter.served.length;
    await eventually('three scrapes with the receiver down', () => exporter.served.length >= scrapesBefore + 3);
    ok = false; // later scrapes fail: everything scraped so far has been appended once two failures are seen
    const failedFrom = exporter.served.length;
    await eventually('two failed scrapes', () => exporter.served.length >= failedFrom + 2);
    await first.kill();
    const scraped = [...good];
    aws.receiver.faults.length = 0;
    ok = true;
    await run(file);
    await aws.receiver.waitFor(() => {
      const got = new Set(aws.receiver.samples('app_seq').map((s) => s.sample.timestamp));
      return scraped.every((t) => got.has(t));
    }, 30_000);
    const got = aws.receiver.samples('app_seq').map((s) => s.sample.timestamp);
    expect(scraped.every((t) => got.includes(t))).toBe(true);
  });
});

/**
 * Live config apply in the fleet agent (Agent.applyConfig), in-process against real parts on
 * loopback: synthetic exporters as scrape targets and remote-write receivers that decode what
 * they accept.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseAgentConfigYaml, type AgentConfig } from '@fleet/pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Agent, ApplyConfigError } from '../../apps/agent/src/agent.js';
import { CredentialAuthority, startRemoteWriteReceiver, type RemoteWriteReceiver } from '../support/aws/index.js';
import { startExporter, type Exporter } from '../support/exporter.js';
import { eventually } from '../support/wait.js';

interface JobDef {
  name: string;
  targets: string[];
}
interface DestDef {
  name: string;
  url: string;
  extra?: string;
}

/** A Prometheus config document: 1 s scrapes, quick batches and retries. */
function configYaml(jobs: JobDef[], dests: DestDef[]): AgentConfig {
  const text = `global: { scrape_interval: 1s, external_labels: { cluster: apply } }
scrape_configs:${jobs.length ? '' : ' []'}
${jobs.map((j) => `  - job_name: ${j.name}\n    static_configs: [{ targets: [${j.targets.map((t) => `'${t}'`).join(', ')}] }]`).join('\n')}
remote_write:${dests.length ? '' : ' []'}
${dests
  .map((d) => `  - name: ${d.name}\n    url: ${d.url}\n    queue_config: { batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 300ms }${d.extra ? `\n    ${d.extra}` : ''}`)
  .join('\n')}
`;
  return parseAgentConfigYaml(text, 'test config');
}

const EMPTY: AgentConfig = { global: { scrapeIntervalMs: 1000, scrapeTimeoutMs: 1000, externalLabels: {} }, instances: [], warnings: [] };

describe('fleet-agent applies configs live', () => {
  let dir: string;
  let dataDir: string;
  const exporters: Exporter[] = [];
  const receivers: RemoteWriteReceiver[] = [];
  const agents: Agent[] = [];
  let logs: Array<{ level: string; message: string; fields: Record<string, unknown> }>;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-apply-'));
    dataDir = path.join(dir, 'data');
    logs = [];
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((a) => a.stop()));
    await Promise.all(exporters.splice(0).map((e) => e.close()));
    await Promise.all(receivers.splice(0).map((r) => r.close().catch(() => undefined)));
    await rm(dir, { recursive: true, force: true });
  });

  /** An exporter serving `<metric> <n> <timestamp>` and remembering every timestamp it served. */
  async function sequenceExporter(metric: string): Promise<Exporter & { stamps: number[] }> {
    const e = await startExporter();
    const stamps: number[] = [];
    e.serve((n, now) => {
      stamps.push(now);
      return `${metric} ${n} ${now}\n`;
    });
    exporters.push(e);
    return Object.assign(e, { stamps });
  }

  async function receiver(): Promise<RemoteWriteReceiver> {
    const r = await startRemoteWriteReceiver({ credentials: new CredentialAuthority(), verifySignature: false });
    receivers.push(r);
    return r;
  }

  async function start(config: AgentConfig): Promise<Agent> {
    const agent = await Agent.start({
      config,
      dataDir,
      listen: '127.0.0.1:0',
      log: (level, message, fields = {}) => logs.push({ level, message, fields }),
    });
    agents.push(agent);
    return agent;
  }

  const stampsAt = (r: RemoteWriteReceiver, metric: string) => new Set(r.samples(metric).filter((s) => !s.sample.stale).map((s) => s.sample.timestamp));

  async function counter(agent: Agent, name: string): Promise<number> {
    const m = await agent.metrics.registry.getSingleMetric(name)!.get();
    return m.values.reduce((n, v) => n + v.value, 0);
  }

  it('starts ready with no instances, then adds a job and a destination live and delivers', async () => {
    const agent = await start(EMPTY);
    expect((await fetch(`${agent.telemetryUrl}/-/ready`)).status).toBe(200);
    expect(agent.destinationStatus()).toEqual([]);

    const exporter = await sequenceExporter('app_seq');
    const r = await receiver();
    const result = await agent.applyConfig(configYaml([{ name: 'app', targets: [exporter.target] }], [{ name: 'main', url: r.url }]));
    expect(result.destinations).toEqual({ added: ['main'], changed: [], removed: [], unchanged: [] });
    expect(result.jobs).toEqual({ added: [{ instance: 'default', job: 'app' }], changed: [], removed: [], unchanged: [] });
    expect(result.discardedSamples).toBe(0);
    expect((await fetch(`${agent.telemetryUrl}/-/ready`)).status).toBe(200);

    await r.waitFor(() => r.samples('app_seq').length >= 3, 20_000);
    expect(r.samples('app_seq')[0]!.labels).toEqual({ __name__: 'app_seq', cluster: 'apply', instance: exporter.target, job: 'app' });
    expect(agent.appliedConfig.instances[0]!.scrapeConfigs[0]!.jobName).toBe('app');

    // Heartbeat totals are the self-metrics' values (the job removed, so the totals settle).
    const removed = await agent.applyConfig(configYaml([], [{ name: 'main', url: r.url }]));
    expect(removed.jobs.removed).toEqual([{ instance: 'default', job: 'app' }]);
    // A removed job's targets leave the self-metrics (no stale `up` for a target nobody scrapes).
    expect((await agent.metrics.registry.getSingleMetric('fleet_agent_target_up')!.get()).values).toEqual([]);
    await eventually('every appended sample to be sent', async () => (await counter(agent, 'fleet_agent_remote_samples_in_total')) === (await agent.counters()).samplesSent);
    const c = await agent.counters();
    expect(c.samplesSent).toBe(r.counters.acceptedSamples);
    expect(c.samplesScraped).toBe(await counter(agent, 'fleet_agent_samples_scraped_total'));
    expect(c.samplesScraped).toBeGreaterThan(0);
    expect(c).toMatchObject({ samplesDropped: 0, samplesRetried: 0, pendingSamples: 0, droppedByReason: {} });
    expect(c.walBytes).toBeGreaterThan(0);
  });

  it('reopens a destination whose URL changed on the same WAL: samples scraped while the old receiver was down reach the new URL', async () => {
    const exporter = await sequenceExporter('app_seq');
    const oldReceiver = await receiver();
    const newReceiver = await receiver();
    const agent = await start(configYaml([{ name: 'app', targets: [exporter.target] }], [{ name: 'main', url: oldReceiver.url }]));
    await oldReceiver.waitFor(() => oldReceiver.samples('app_seq').length >= 2, 20_000);
    const job = agent.scrapeJob('default', 'app');

    await oldReceiver.close();
    const downFrom = exporter.stamps.length;
    await eventually('three scrapes with the receiver down, failing to send', () => exporter.stamps.length >= downFrom + 3 && agent.destinationStatus()[0]!.lastError !== null);
    expect(agent.destinationStatus()[0]!.pendingSamples).toBeGreaterThan(0);
    const scrapedBefore = [...exporter.stamps];

    const result = await agent.applyConfig(configYaml([{ name: 'app', targets: [exporter.target] }], [{ name: 'main', url: newReceiver.url }]));
    expect(result.destinations).toEqual({ added: [], changed: ['main'], removed: [], unchanged: [] });
    expect(result.jobs.unchanged).toEqual([{ instance: 'default', job: 'app' }]);
    expect(agent.scrapeJob('default', 'app')).toBe(job);
    expect(agent.destinationStatus().map((d) => d.url)).toEqual([newReceiver.url]);
    expect((await stat(path.join(dataDir, 'wal', 'main'))).isDirectory()).toBe(true);

    const deliveredOld = stampsAt(oldReceiver, 'app_seq');
    await newReceiver.waitFor(() => {
      const got = stampsAt(newReceiver, 'app_seq');
      return scrapedBefore.every((t) => deliveredOld.has(t) || got.has(t));
    }, 20_000);
    const got = stampsAt(newReceiver, 'app_seq');
    const lost = scrapedBefore.filter((t) => !deliveredOld.has(t) && !got.has(t));
    expect(lost).toEqual([]);
    // Everything scraped while the old receiver was down went to the new one.
    expect(scrapedBefore.slice(downFrom).every((t) => got.has(t))).toBe(true);
    // And scraping goes on into the new destination.
    const after = exporter.stamps.length;
    await newReceiver.waitFor(() => exporter.stamps.slice(after).some((t) => stampsAt(newReceiver, 'app_seq').has(t)), 20_000);
    expect((await agent.counters()).droppedByReason).toEqual({});
  });

  it('removes a destination: its queue stops, its WAL directory is deleted and its undelivered samples are counted', async () => {
    const exporter = await sequenceExporter('app_seq');
    const keep = await receiver();
    const gone = await receiver();
    const agent = await start(
      configYaml(
        [{ name: 'app', targets: [exporter.target] }],
        [
          { name: 'keep', url: keep.url },
          { name: 'gone', url: gone.url },
        ],
      ),
    );
    await gone.waitFor(() => gone.samples('app_seq').length >= 2, 20_000);
    // The removed destination's receiver is down: it has samples nobody can deliver any more.
    await gone.close();
    const closedAt = Date.now();
    await eventually('a failed send and samples pending for the destination that goes', () => {
      const d = agent.destinationStatus().find((s) => s.name === 'gone')!;
      return d.pendingSamples > 0 && (d.lastError?.at.getTime() ?? 0) >= closedAt;
    });
    expect(existsSync(path.join(dataDir, 'wal', 'gone'))).toBe(true);

    const result = await agent.applyConfig(configYaml([{ name: 'app', targets: [exporter.target] }], [{ name: 'keep', url: keep.url }]));
    expect(result.destinations).toEqual({ added: [], changed: [], removed: ['gone'], unchanged: ['keep'] });
    // The job's instance writes to other destinations now: it restarted.
    expect(result.jobs.changed).toEqual([{ instance: 'default', job: 'app' }]);
    expect(existsSync(path.join(dataDir, 'wal', 'gone'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'wal', 'keep'))).toBe(true);
    expect(agent.destinationStatus().map((d) => d.name)).toEqual(['keep']);
    expect(result.discardedSamples).toBeGreaterThan(0);
    const warning = logs.find((l) => l.message === 'destination removed with its WAL')!;
    expect(warning).toMatchObject({ level: 'warn', fields: { remote_name: 'gone', pending_samples: result.discardedSamples } });
    const c = await agent.counters();
    expect(c.droppedByReason).toEqual({ destination_removed: result.discardedSamples });
    const metrics = await (await fetch(`${agent.telemetryUrl}/metrics`)).text();
    expect(metrics).not.toMatch(/fleet_agent_remote_samples_pending\{remote_name="gone"\}/);

    const before = keep.samples('app_seq').length;
    await keep.waitFor(() => keep.samples('app_seq').length > before + 2, 20_000);
  });

  it('keeps an unchanged job running (same object, no scrape gap, nothing lost) while jobs and destinations around it change', async () => {
    const steady = await sequenceExporter('steady_seq');
    const other = await sequenceExporter('other_seq');
    const r = await receiver();
    const agent = await start(configYaml([{ name: 'steady', targets: [steady.target] }], [{ name: 'main', url: r.url }]));
    await r.waitFor(() => r.samples('steady_seq').length >= 3, 20_000);
    const job = agent.scrapeJob('default', 'steady')!;
    const scrapesBefore = steady.stamps.length;

    const result = await agent.applyConfig(
      configYaml(
        [
          { name: 'steady', targets: [steady.target] },
          { name: 'other', targets: [other.target] },
        ],
        [{ name: 'main', url: r.url, extra: "headers: { X-Scope-OrgID: team-a }" }],
      ),
    );
    expect(result.jobs).toEqual({ added: [{ instance: 'default', job: 'other' }], changed: [], removed: [], unchanged: [{ instance: 'default', job: 'steady' }] });
    expect(result.destinations.changed).toEqual(['main']);
    expect(agent.scrapeJob('default', 'steady')).toBe(job);

    await eventually('three more scrapes of the steady job', () => steady.stamps.length >= scrapesBefore + 3);
    await r.waitFor(() => r.requests.some((q) => q.headers['x-scope-orgid'] === 'team-a') && r.samples('other_seq').length > 0, 20_000);
    // The scrape count kept increasing at the job's interval across the apply: no gap.
    const gaps = steady.stamps.slice(1).map((t, i) => t - steady.stamps[i]!);
    expect(Math.max(...gaps)).toBeLessThan(1_900);
    // Every steady sample scraped so far is delivered once, none marked stale.
    const scraped = [...steady.stamps];
    await r.waitFor(() => scraped.every((t) => stampsAt(r, 'steady_seq').has(t)), 20_000);
    expect(r.samples('steady_seq').some((s) => s.sample.stale)).toBe(false);
  });

  it('restarts a changed job: series it keeps producing get no staleness marker, series of a target it dropped do', async () => {
    const a = await startExporter();
    const b = await startExporter();
    exporters.push(a, b);
    a.serve('app_info{side="a"} 1\n');
    b.serve('app_info{side="b"} 1\n');
    const r = await receiver();
    const agent = await start(configYaml([{ name: 'app', targets: [a.target, b.target] }], [{ name: 'main', url: r.url }]));
    await r.waitFor(() => ['a', 'b'].every((side) => r.samples('app_info').some((s) => s.labels.side === side)), 20_000);
    const job = agent.scrapeJob('default', 'app');

    const applied = Date.now();
    const result = await agent.applyConfig(configYaml([{ name: 'app', targets: [a.target] }], [{ name: 'main', url: r.url }]));
    expect(result.jobs.changed).toEqual([{ instance: 'default', job: 'app' }]);
    expect(agent.scrapeJob('default', 'app')).not.toBe(job);

    const staleOf = (metric: string, pick: (labels: Record<string, string>) => boolean) => r.samples(metric).filter((s) => pick(s.labels) && s.sample.stale);
    await r.waitFor(() => staleOf('app_info', (l) => l.side === 'b').length > 0 && staleOf('up', (l) => l.instance === b.target).length > 0, 20_000);
    // Target a goes on without an end-of-series marker, and is scraped by the new job.
    await r.waitFor(() => r.samples('app_info').some((s) => s.labels.side === 'a' && s.sample.timestamp > applied), 20_000);
    expect(staleOf('app_info', (l) => l.side === 'a')).toEqual([]);
    expect(staleOf('up', (l) => l.instance === a.target)).toEqual([]);
  });

  it('refuses a config it cannot run with an error naming what failed, and the previous config keeps delivering', async () => {
    const exporter = await sequenceExporter('app_seq');
    const r = await receiver();
    const original = configYaml([{ name: 'app', targets: [exporter.target] }], [{ name: 'main', url: r.url }]);
    const agent = await start(original);
    await r.waitFor(() => r.samples('app_seq').length >= 2, 20_000);
    const job = agent.scrapeJob('default', 'app');
    const missingCa = path.join(dir, 'missing-ca.pem');

    // A changed destination whose CA file does not exist (a new job alongside must not start).
    const other = await sequenceExporter('other_seq');
    const badTls = configYaml(
      [
        { name: 'app', targets: [exporter.target] },
        { name: 'other', targets: [other.target] },
      ],
      [{ name: 'main', url: r.url, extra: `tls_config: { ca_file: ${missingCa} }` }],
    );
    const tlsError = await agent.applyConfig(badTls).then(() => null, (err: unknown) => err as Error);
    expect(tlsError).toBeInstanceOf(ApplyConfigError);
    expect(tlsError!.message).toBe(`destination "main": tls_config.ca_file ${missingCa}: ENOENT`);

    // A new destination whose WAL directory cannot be created (a file is in the way).
    await mkdir(path.join(dataDir, 'wal'), { recursive: true });
    await writeFile(path.join(dataDir, 'wal', 'blocked'), 'not a directory');
    const blocked = await receiver();
    const badWal = configYaml(
      [{ name: 'app', targets: [exporter.target, other.target] }],
      [
        { name: 'main', url: r.url, extra: 'headers: { X-Changed: "1" }' },
        { name: 'blocked', url: blocked.url },
      ],
    );
    const walError = await agent.applyConfig(badWal).then(() => null, (err: unknown) => err as Error);
    expect(walError).toBeInstanceOf(ApplyConfigError);
    expect(walError!.message).toMatch(new RegExp(`^destination "blocked": cannot open its write-ahead log in ${path.join(dataDir, 'wal', 'blocked')}: E(EXIST|NOTDIR)`));
    expect((await stat(path.join(dataDir, 'wal', 'blocked'))).isFile()).toBe(true);

    // Nothing of either attempt ran: same job object, same destination, same config.
    expect(agent.scrapeJob('default', 'app')).toBe(job);
    expect(agent.scrapeJob('default', 'other')).toBeUndefined();
    expect(agent.destinationStatus().map((d) => [d.name, d.url])).toEqual([['main', r.url]]);
    expect(agent.appliedConfig).toBe(original);
    expect(other.stamps).toEqual([]);
    const after = exporter.stamps.length;
    await r.waitFor(() => exporter.stamps.slice(after, after + 2).length === 2 && exporter.stamps.slice(after, after + 2).every((t) => stampsAt(r, 'app_seq').has(t)), 20_000);
    expect(r.requests.some((q) => q.headers['x-changed'] !== undefined)).toBe(false);
    expect(blocked.requests).toEqual([]);
    // The error left no queued state behind: the next valid apply works.
    const ok = await agent.applyConfig(configYaml([{ name: 'app', targets: [exporter.target] }], [{ name: 'main', url: r.url, extra: 'headers: { X-Changed: "1" }' }]));
    expect(ok.destinations.changed).toEqual(['main']);
  });

  it('rolls back destinations already reopened when a later one cannot reopen its WAL, and recovers on the next apply', async () => {
    const exporter = await sequenceExporter('app_seq');
    const one = await receiver();
    const oneNew = await receiver();
    const two = await receiver();
    const agent = await start(
      configYaml(
        [{ name: 'app', targets: [exporter.target] }],
        [
          { name: 'one', url: one.url },
          { name: 'two', url: two.url },
        ],
      ),
    );
    await two.waitFor(() => one.samples('app_seq').length >= 2 && two.samples('app_seq').length >= 2, 20_000);
    // A directory where a segment file should be: the WAL of "two" cannot be opened again.
    const bogus = path.join(dataDir, 'wal', 'two', '99999999');
    await mkdir(bogus);

    const change = configYaml(
      [{ name: 'app', targets: [exporter.target] }],
      [
        { name: 'one', url: oneNew.url },
        { name: 'two', url: two.url, extra: 'headers: { X-Changed: "1" }' },
      ],
    );
    const err = await agent.applyConfig(change).then(() => null, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(ApplyConfigError);
    expect(err!.message).toMatch(/^destination "two": cannot open its write-ahead log in .*: EISDIR.*; it is stopped until a config that can open its WAL is applied/);
    // "one" was reopened with its new URL first, then put back.
    expect(agent.destinationStatus().map((d) => [d.name, d.url])).toEqual([['one', one.url]]);
    const toNewUrl = oneNew.counters.acceptedSamples;
    const before = one.samples('app_seq').length;
    await one.waitFor(() => one.samples('app_seq').length > before + 1, 20_000);
    expect(oneNew.counters.acceptedSamples).toBe(toNewUrl);
    expect(logs.some((l) => l.level === 'error' && l.message.startsWith('cannot restore a destination') && l.fields.remote_name === 'two')).toBe(true);

    // Once the directory is fixed, applying the config again brings "two" back with its WAL.
    await rm(bogus, { recursive: true });
    const result = await agent.applyConfig(change);
    expect(result.destinations).toEqual({ added: ['two'], changed: ['one'], removed: [], unchanged: [] });
    const twoBefore = two.samples('app_seq').length;
    await two.waitFor(() => two.samples('app_seq').length > twoBefore + 1 && oneNew.samples('app_seq').length > 0, 20_000);
    expect((await agent.counters()).droppedByReason.destination_unavailable).toBeGreaterThan(0);
  });

  it('serialises concurrent applies, and stop() waits for the apply in flight', async () => {
    const exporter = await sequenceExporter('app_seq');
    const r = await receiver();
    const agent = await start(EMPTY);
    const withX = configYaml([{ name: 'app', targets: [exporter.target] }], [{ name: 'x', url: r.url }]);
    const order: string[] = [];
    const first = agent.applyConfig(withX).then((res) => (order.push('first'), res));
    const second = agent.applyConfig(EMPTY).then((res) => (order.push('second'), res));
    const stopped = agent.stop().then(() => order.push('stop'));
    const third = agent.applyConfig(withX).then(
      () => order.push('third'),
      (err: Error) => order.push(`third: ${err.message}`),
    );
    agents.splice(agents.indexOf(agent), 1);
    expect((await first).destinations.added).toEqual(['x']);
    expect((await second).destinations.removed).toEqual(['x']);
    await stopped;
    await third;
    // The apply asked for after stop() is refused at once; the two before it ran, in order, before stop finished.
    expect(order).toEqual(['third: the agent is stopping: config not applied', 'first', 'second', 'stop']);
    expect(existsSync(path.join(dataDir, 'wal', 'x'))).toBe(false);
  });
});

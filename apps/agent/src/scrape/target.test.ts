/**
 * Targets of a scrape job: keep_dropped_targets (buildTargets), target_limit and discovery
 * errors per discoverer (ScrapeJob, with file_sd files and loopback exporters).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { compileRelabelConfigs, DEFAULT_RELABEL_CONFIG, type Label, type ScrapeConfig } from '@fleet/pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { eventually } from '../../../../e2e/support/wait.js';
import { SeriesTable } from '../series/series-table.js';
import { AgentMetrics } from '../telemetry/metrics.js';
import type { SampleColumns } from '../wal/format.js';
import { ScrapeJob } from './manager.js';
import { buildTargets } from './target.js';

/** A scrape job as the config parser would produce it, with test overrides. */
function job(overrides: Partial<ScrapeConfig> = {}): ScrapeConfig {
  return {
    jobName: 'limits',
    scrapeIntervalMs: 200,
    scrapeTimeoutMs: 150,
    metricsPath: '/metrics',
    scheme: 'http',
    params: {},
    honorLabels: false,
    honorTimestamps: true,
    staticConfigs: [],
    fileSdConfigs: [],
    kubernetesSdConfigs: [],
    ec2SdConfigs: [],
    dnsSdConfigs: [],
    httpSdConfigs: [],
    consulSdConfigs: [],
    relabelConfigs: [],
    metricRelabelConfigs: [],
    scrapeProtocols: ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText1.0.0', 'PrometheusText0.0.4'],
    enableCompression: true,
    sampleLimit: 0,
    bodySizeLimitBytes: 0,
    labelLimit: 0,
    labelNameLengthLimit: 0,
    labelValueLengthLimit: 0,
    targetLimit: 0,
    keepDroppedTargets: 0,
    ...overrides,
  };
}

describe('keep_dropped_targets', () => {
  const groups = [{ source: 'g', targets: ['a:1', 'b:1', 'c:1', 'keep:1'], labels: {} }];
  const dropAllBut = compileRelabelConfigs([{ ...DEFAULT_RELABEL_CONFIG, source_labels: ['__address__'], regex: 'keep:1', action: 'keep' }]);

  it('keeps the first N dropped targets and counts all of them', () => {
    const built = buildTargets(job({ keepDroppedTargets: 2 }), groups, dropAllBut);
    expect(built.targets.map((t) => t.url.host)).toEqual(['keep:1']);
    expect(built.dropped).toEqual([
      { address: 'a:1', reason: 'dropped by relabel_configs' },
      { address: 'b:1', reason: 'dropped by relabel_configs' },
    ]);
    expect(built.droppedCount).toBe(3);
  });

  it('keeps all of them with 0', () => {
    const built = buildTargets(job({ keepDroppedTargets: 0 }), groups, dropAllBut);
    expect(built.dropped.map((d) => d.address)).toEqual(['a:1', 'b:1', 'c:1']);
    expect(built.droppedCount).toBe(3);
  });
});

describe('ScrapeJob', () => {
  let dir: string;
  const servers: Server[] = [];
  const jobs: ScrapeJob[] = [];

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-target-limit-'));
  });
  afterEach(async () => {
    await Promise.all(jobs.splice(0).map((j) => j.stop({ stale: false })));
    for (const s of servers.splice(0)) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
    await rm(dir, { recursive: true, force: true });
  });

  async function exporter(): Promise<{ address: string; requests: IncomingMessage[] }> {
    const requests: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      requests.push(req);
      res.writeHead(200, { 'content-type': 'text/plain' }).end('app_metric 1\n');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    servers.push(server);
    return { address: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
  }

  /** Starts a job; returns it and every `up` sample it appended, by instance. */
  function run(config: ScrapeConfig): { job: ScrapeJob; ups: Array<{ instance: string; value: number }> } {
    const series = new SeriesTable();
    const ups: Array<{ instance: string; value: number }> = [];
    const appender = {
      append(columns: SampleColumns): Promise<void> {
        for (let i = 0; i < columns.count; i++) {
          const labels: readonly Label[] = series.get(columns.refs[i]!)!.labels;
          if (!labels.some((l) => l.name === '__name__' && l.value === 'up')) continue;
          const value = columns.valueView.getFloat64(i * 8, true);
          if (!Number.isNaN(value)) ups.push({ instance: labels.find((l) => l.name === 'instance')!.value, value });
        }
        return Promise.resolve();
      },
    };
    const scrapeJob = new ScrapeJob(config, { series, appender, metrics: new AgentMetrics(), log: () => undefined, env: {} });
    jobs.push(scrapeJob);
    scrapeJob.start();
    return { job: scrapeJob, ups };
  }

  it('over target_limit scrapes none of the targets, each reporting up = 0 with the error, until back under it', async () => {
    const exporters = await Promise.all([exporter(), exporter(), exporter()]);
    const file = path.join(dir, 'targets.json');
    await writeFile(file, JSON.stringify([{ targets: exporters.map((e) => e.address) }]));
    const { job: scrapeJob, ups } = run(job({ targetLimit: 2, fileSdConfigs: [{ files: [file], refreshIntervalMs: 60_000 }] }));

    const message = 'target_limit exceeded (number of targets: 3, limit: 2)';
    await eventually('every target failed with the target_limit error', () => {
      const { targets } = scrapeJob.status();
      return targets.length === 3 && targets.every((t) => t.lastScrapeAt !== null && t.lastError === message && !t.up);
    });
    expect(scrapeJob.status().targetLimitError).toBe(message);
    for (const e of exporters) expect(e.requests).toHaveLength(0);
    for (const e of exporters) expect(ups.filter((u) => u.instance === e.address).every((u) => u.value === 0)).toBe(true);
    expect(new Set(ups.map((u) => u.instance))).toEqual(new Set(exporters.map((e) => e.address)));

    await writeFile(file, JSON.stringify([{ targets: exporters.slice(0, 2).map((e) => e.address) }]));
    await eventually('the two remaining targets scraped again', () => {
      const { targets } = scrapeJob.status();
      return targets.length === 2 && targets.every((t) => t.up);
    });
    expect(scrapeJob.status().targetLimitError).toBeNull();
    expect(exporters[0]!.requests.length).toBeGreaterThan(0);
    expect(ups.some((u) => u.instance === exporters[0]!.address && u.value === 1)).toBe(true);
  });

  it('reports each discoverer’s error separately, keeping discoveryError as the latest one', async () => {
    const e = await exporter();
    const good = path.join(dir, 'good.json');
    await writeFile(good, JSON.stringify([{ targets: [e.address] }]));
    await writeFile(path.join(dir, 'broken.json'), '{ not json');
    const { job: scrapeJob } = run(
      job({
        staticConfigs: [{ targets: [e.address], labels: { from: 'static' } }],
        fileSdConfigs: [
          { files: [path.join(dir, 'missing.json')], refreshIntervalMs: 60_000 },
          { files: [good], refreshIntervalMs: 60_000 },
          { files: [path.join(dir, 'broken.json')], refreshIntervalMs: 60_000 },
        ],
      }),
    );
    await eventually('both failing discoverers reported', () => scrapeJob.status().discoveryErrors.length === 2);
    const errors = scrapeJob.status().discoveryErrors;
    expect(errors[0]).toBe(`file_sd ${path.join(dir, 'missing.json')}: file not found`);
    expect(errors[1]).toMatch(new RegExp(`^file_sd ${path.join(dir, 'broken.json').replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: `));
    expect(errors).toContain(scrapeJob.discoveryError);
    await eventually('the good file and the static target scraped', () => scrapeJob.status().targets.length === 2 && scrapeJob.status().targets.every((t) => t.up));
  });
});

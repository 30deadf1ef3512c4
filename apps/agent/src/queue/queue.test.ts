import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Label, RemoteWriteConfig } from '@fleet/pipeline';
import { DEFAULT_QUEUE_CONFIG, DEFAULT_RELABEL_CONFIG } from '@fleet/pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SendOutcome, WriteClient } from '../remote-write/client.js';
import { AgentMetrics } from '../telemetry/metrics.js';
import { allocColumns } from '../wal/format.js';
import { WriteAheadLog } from '../wal/wal.js';
import { RemoteWriteQueue, Resharder } from './queue.js';

/** A client answering from a script, then 200; records how many samples each attempt carried. */
class ScriptedClient implements WriteClient {
  attempts: number[] = [];
  delivered = 0;
  constructor(private readonly script: SendOutcome[]) {}
  async send(body: Uint8Array): Promise<SendOutcome> {
    // Each TimeSeries starts with tag 0x0a at top level; count them by walking the outer fields.
    let n = 0;
    for (let pos = 0; pos < body.length; ) {
      pos++;
      let len = 0;
      let shift = 1;
      for (;;) {
        const b = body[pos++]!;
        len += (b & 0x7f) * shift;
        shift *= 128;
        if (b < 128) break;
      }
      pos += len;
      n++;
    }
    this.attempts.push(n);
    const next = this.script.shift() ?? { ok: true, status: 200 };
    if (next.ok) this.delivered += n;
    return next;
  }
}

const error = (cls: 'server_error' | 'bad_request' | 'throttled') => ({ class: cls, code: null, message: cls, retryable: cls !== 'bad_request' });
const labels: Label[] = [{ name: '__name__', value: 'x' }, { name: 'job', value: 'j' }];

function config(overrides: Partial<RemoteWriteConfig['queueConfig']> = {}): RemoteWriteConfig {
  return {
    name: 'test',
    url: 'http://127.0.0.1:1/write',
    remoteTimeoutMs: 1000,
    headers: {},
    writeRelabelConfigs: [],
    queueConfig: { ...DEFAULT_QUEUE_CONFIG, minBackoffMs: 1, maxBackoffMs: 2, batchSendDeadlineMs: 10, ...overrides },
  };
}

async function counter(metrics: AgentMetrics, name: string, match: Record<string, string> = {}): Promise<number> {
  const m = await metrics.registry.getSingleMetric(name)!.get();
  return m.values.filter((v) => Object.entries(match).every(([k, val]) => v.labels[k] === val)).reduce((s, v) => s + v.value, 0);
}

describe('remote-write queue', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-queue-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  async function run(script: SendOutcome[], samples: number, queueConfig: Partial<RemoteWriteConfig['queueConfig']> = {}, writeRelabelConfigs: RemoteWriteConfig['writeRelabelConfigs'] = []) {
    const wal = await WriteAheadLog.open({ dir });
    const client = new ScriptedClient(script);
    const metrics = new AgentMetrics();
    const queue = new RemoteWriteQueue({ ...config(queueConfig), writeRelabelConfigs }, { wal, client, metrics, externalLabels: { cluster: 'c1' }, log: () => undefined, random: () => 0.5 });
    const cols = allocColumns(samples);
    for (let i = 0; i < samples; i++) {
      cols.refs[i] = 1;
      cols.timestamps[i] = 1_000 + i;
      new DataView(cols.valueBits.buffer).setFloat64(i * 8, i, true);
    }
    cols.count = samples;
    queue.start();
    await wal.append(cols, () => labels);
    const settled = async () =>
      (await counter(metrics, 'fleet_agent_remote_samples_sent_total')) +
      (await counter(metrics, 'fleet_agent_remote_samples_dropped_total')) +
      (await counter(metrics, 'fleet_agent_remote_samples_filtered_total'));
    for (let i = 0; i < 400 && (await settled()) < samples; i++) await new Promise((r) => setTimeout(r, 5));
    await queue.stop(100);
    return { client, metrics, wal };
  }

  it('retries 5xx until delivered: every sample arrives exactly once', async () => {
    const { client, metrics } = await run([{ ok: false, retryable: true, status: 503, error: error('server_error') }, { ok: false, retryable: true, status: 500, error: error('server_error') }], 10);
    expect(client.attempts).toEqual([10, 10, 10]);
    expect(client.delivered).toBe(10);
    expect(await counter(metrics, 'fleet_agent_remote_samples_sent_total')).toBe(10);
    expect(await counter(metrics, 'fleet_agent_remote_samples_retried_total')).toBe(20);
    expect(await counter(metrics, 'fleet_agent_remote_samples_dropped_total')).toBe(0);
  });

  it('drops a batch rejected with 400 and counts it under http_4xx', async () => {
    const { client, metrics } = await run([{ ok: false, retryable: false, dropReason: 'http_4xx', status: 400, error: error('bad_request') }], 5, { maxSamplesPerSend: 3 });
    expect(client.attempts).toEqual([3, 2]);
    expect(await counter(metrics, 'fleet_agent_remote_samples_dropped_total', { reason: 'http_4xx' })).toBe(3);
    expect(await counter(metrics, 'fleet_agent_remote_samples_sent_total')).toBe(2);
  });

  // Regression: a keep-list in write_relabel_configs showed as "dropped (100 %)" in red — samples
  // removed on purpose were counted with lost ones (reason write_relabel).
  it('counts samples write relabelling removes on purpose as filtered, not dropped', async () => {
    const keepOther = [{ ...DEFAULT_RELABEL_CONFIG, source_labels: ['__name__'], regex: 'other_metric', action: 'keep' as const }];
    const { client, metrics, wal } = await run([], 12, {}, keepOther);
    expect(await counter(metrics, 'fleet_agent_remote_samples_filtered_total', { remote_name: 'test' })).toBe(12);
    expect(await counter(metrics, 'fleet_agent_remote_samples_dropped_total')).toBe(0);
    expect(client.attempts).toEqual([]);
    expect(wal.pendingSamples).toBe(0);
  });

  it('splits by max_samples_per_send and acknowledges everything to the WAL', async () => {
    const { client, wal } = await run([], 25, { maxSamplesPerSend: 10 });
    expect(client.attempts).toEqual([10, 10, 5]);
    expect(wal.pendingSamples).toBe(0);
  });
});

describe('resharding', () => {
  it('sizes shards from send time per sample and the incoming rate, within min/max, with hysteresis', () => {
    let now = 0;
    const r = new Resharder(1, 50, () => now);
    // 20k samples/s in; sending takes 0.1 ms per sample → 2 shards of work, +10 %.
    now = 10_000;
    r.samplesIn = 200_000;
    r.samplesSent = 100_000;
    r.sendSeconds = 10;
    expect(r.desired(1, 0, null, new Date())).toBe(3);
    // Not yet 10 s later: unchanged.
    now = 15_000;
    expect(r.desired(3, 0, null, new Date())).toBe(3);
    // A big backlog asks for more, capped at max_shards.
    now = 20_000;
    r.samplesIn += 200_000;
    r.samplesSent += 100_000;
    r.sendSeconds += 1_000;
    expect(r.desired(3, 10_000_000, null, new Date())).toBe(50);
    // Within ±30 %: no change.
    now = 30_000;
    r.samplesIn += 200_000;
    r.samplesSent += 200_000;
    r.sendSeconds += 25;
    expect(r.desired(3, 0, null, new Date())).toBe(3);
  });

  it('does not reshard while sends are failing', () => {
    let now = 0;
    const r = new Resharder(1, 50, () => now);
    now = 10_000;
    r.samplesIn = 1_000_000;
    r.samplesSent = 1000;
    r.sendSeconds = 10;
    expect(r.desired(2, 5_000_000, { at: new Date(5) }, new Date(1))).toBe(2);
  });
});

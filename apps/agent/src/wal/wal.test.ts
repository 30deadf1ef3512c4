import { mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Label } from '@fleet/pipeline';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isStaleNaNAt, writeStaleNaN } from '../series/stale.js';
import { allocColumns, type SampleColumns } from './format.js';
import { WriteAheadLog, type WalReadBatch } from './wal.js';

const series = new Map<number, Label[]>([
  [1, [{ name: '__name__', value: 'up' }, { name: 'job', value: 'a' }]],
  [2, [{ name: '__name__', value: 'temp' }, { name: 'job', value: 'a' }]],
]);
const labelsOf = (ref: number) => series.get(ref);

function columns(samples: Array<[ref: number, ts: number, value: number | 'stale']>): SampleColumns {
  const c = allocColumns(samples.length);
  const view = new DataView(c.valueBits.buffer);
  samples.forEach(([ref, ts, v], i) => {
    c.refs[i] = ref;
    c.timestamps[i] = ts;
    if (v === 'stale') writeStaleNaN(view, i * 8);
    else view.setFloat64(i * 8, v, true);
  });
  c.count = samples.length;
  return c;
}

function samplesOf(batch: WalReadBatch): Array<[number, number, number | 'stale']> {
  const out: Array<[number, number, number | 'stale']> = [];
  for (const r of batch.records) {
    for (let i = 0; i < r.count; i++) {
      const at = 4 + i * 20;
      out.push([r.view.getUint32(at, true), r.view.getFloat64(at + 4, true), isStaleNaNAt(r.view, at + 12) ? 'stale' : r.view.getFloat64(at + 12, true)]);
    }
  }
  return out;
}

function ackAll(wal: WriteAheadLog, batch: WalReadBatch): void {
  for (const r of batch.records) wal.ack(r.pending, r.count);
  wal.settle();
}

describe('write-ahead log', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-wal-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('reads back what was appended, series first, and staleness markers bit-exact', async () => {
    const wal = await WriteAheadLog.open({ dir });
    await wal.append(columns([[1, 1000, 1], [2, 1000, 21.5], [2, 2000, 'stale']]), labelsOf);
    const batch = await wal.read(100);
    expect(batch.series).toEqual([{ ref: 1, labels: series.get(1) }, { ref: 2, labels: series.get(2) }]);
    expect(samplesOf(batch)).toEqual([[1, 1000, 1], [2, 1000, 21.5], [2, 2000, 'stale']]);
    expect(wal.pendingSamples).toBe(3);
    ackAll(wal, batch);
    expect(wal.pendingSamples).toBe(0);
    await wal.close();
  });

  it('replays undelivered samples after a restart, and only those', async () => {
    const first = await WriteAheadLog.open({ dir });
    await first.append(columns([[1, 1000, 1]]), labelsOf);
    ackAll(first, await first.read(100));
    await first.persistProgress();
    await first.append(columns([[1, 2000, 2], [2, 2000, 3]]), labelsOf);
    await first.read(100); // read but never acknowledged: in flight when the process dies
    await first.close();

    const second = await WriteAheadLog.open({ dir });
    expect(second.pendingSamples).toBe(2);
    const batch = await second.read(100);
    expect(batch.series.map((s) => s.ref).sort()).toEqual([1, 2]);
    expect(samplesOf(batch)).toEqual([[1, 2000, 2], [2, 2000, 3]]);
    await second.close();
  });

  it('cuts a torn record at the tail instead of failing', async () => {
    const wal = await WriteAheadLog.open({ dir });
    await wal.append(columns([[1, 1000, 1]]), labelsOf);
    await wal.append(columns([[1, 2000, 2]]), labelsOf);
    await wal.close();
    const seg = path.join(dir, '00000001');
    await truncate(seg, (await stat(seg)).size - 5);
    const reopened = await WriteAheadLog.open({ dir });
    expect(samplesOf(await reopened.read(100))).toEqual([[1, 1000, 1]]);
    await reopened.close();
  });

  it('deletes delivered segments and keeps the series later segments need in a checkpoint', async () => {
    const wal = await WriteAheadLog.open({ dir, segmentBytes: 200 });
    for (let t = 1; t <= 20; t++) await wal.append(columns([[1, t * 1000, t], [2, t * 1000, t]]), labelsOf);
    const segmentsBefore = (await readdir(dir)).filter((n) => /^\d{8}$/.test(n)).length;
    expect(segmentsBefore).toBeGreaterThan(3);
    const batch = await wal.read(30);
    ackAll(wal, batch);
    await wal.persistProgress();
    const segmentsAfter = (await readdir(dir)).filter((n) => /^\d{8}$/.test(n)).length;
    expect(segmentsAfter).toBeLessThan(segmentsBefore);
    await wal.close();

    const reopened = await WriteAheadLog.open({ dir, segmentBytes: 200 });
    const rest = await reopened.read(1000);
    expect(rest.series.map((s) => s.ref).sort()).toEqual([1, 2]);
    expect(samplesOf(rest).length + samplesOf(batch).length).toBe(40);
    await reopened.close();
  });

  it('drops the oldest unread segments beyond its size bound, counting exactly what it lost', async () => {
    const drops: Array<[string, number]> = [];
    const wal = await WriteAheadLog.open({ dir, segmentBytes: 200, maxBytes: 600, onDrop: (reason, n) => drops.push([reason, n]) });
    for (let t = 1; t <= 30; t++) await wal.append(columns([[1, t * 1000, t]]), labelsOf);
    const lost = drops.reduce((n, [, k]) => n + k, 0);
    expect(drops.every(([reason]) => reason === 'wal_full')).toBe(true);
    expect(wal.sizeBytes).toBeLessThanOrEqual(600 + 200);
    const kept = samplesOf(await wal.read(1000));
    expect(kept.length + lost).toBe(30);
    expect(kept.at(-1)).toEqual([1, 30_000, 30]);
    await wal.close();
  });

  it('drops undelivered samples older than its age bound as too_old', async () => {
    const drops: Array<[string, number]> = [];
    let now = 10_000_000;
    const wal = await WriteAheadLog.open({ dir, segmentBytes: 100, maxAgeMs: 60_000, now: () => now, onDrop: (reason, n) => drops.push([reason, n]) });
    await wal.append(columns([[1, now - 120_000, 1], [1, now - 119_000, 2]]), labelsOf);
    now += 1000;
    await wal.append(columns([[1, now, 3]]), labelsOf);
    expect(drops).toEqual([['too_old', 2]]);
    expect(samplesOf(await wal.read(100))).toEqual([[1, now, 3]]);
    await wal.close();
  });
});

import { mkdir, open, readFile, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Label } from '@fleet/pipeline';
import {
  decodeRecords,
  encodeSamplesRecord,
  encodeSeriesRecord,
  RECORD_SAMPLES,
  SAMPLE_BYTES,
  type SampleColumns,
} from './format.js';

/** A place in the log: segment number and byte offset within it. */
export interface WalPosition {
  segment: number;
  offset: number;
}

/** Why the log discarded samples before they were delivered. */
export type WalDropReason = 'wal_full' | 'too_old';

/** Settings of one destination's write-ahead log. */
export interface WalOptions {
  dir: string;
  /** Segment size at which a new segment starts (default 128 MiB: fewer checkpoints). */
  segmentBytes?: number;
  /** Upper bound of the log's size on disk; older undelivered segments are dropped beyond it. */
  maxBytes?: number;
  /** Undelivered samples older than this are dropped with their segment (0 = keep forever). */
  maxAgeMs?: number;
  /** Told of every sample the log discards (for the `dropped{reason}` counters). */
  onDrop?: (reason: WalDropReason, samples: number) => void;
  /** Whether a series is still in use (checkpoints keep only those). */
  isLive?: (ref: number) => boolean;
  now?: () => number;
}

/**
 * A SAMPLES record handed to the consumer. `remaining` counts samples not yet delivered or
 * dropped; the consumer decrements it and calls {@link WriteAheadLog.settle}.
 */
export interface PendingRecord {
  readonly segment: number;
  readonly end: number;
  remaining: number;
}

/** What {@link WriteAheadLog.read} returns: new series, then samples in log order. */
export interface WalReadBatch {
  series: Array<{ ref: number; labels: Label[] }>;
  records: Array<{ pending: PendingRecord; view: DataView; count: number }>;
  samples: number;
}

interface SegmentInfo {
  n: number;
  size: number;
  /** Samples written to this segment. */
  samples: number;
  /** Newest sample timestamp written (ms). */
  maxTs: number;
  /** End offset and sample count of each SAMPLES record, to count exactly what a drop loses. */
  records: Array<{ end: number; count: number }>;
}

const SEGMENT_NAME = /^(\d{8})$/;
const segName = (n: number) => String(n).padStart(8, '0');
const READ_CHUNK = 4 << 20;

/**
 * The write-ahead log of one remote-write destination. Samples are appended (after their series)
 * before they are queued; the queue reads them back in order, and the log keeps everything not
 * yet delivered across restarts. Delivered data is truncated segment by segment; a checkpoint
 * file carries the series that later segments still refer to.
 *
 * On disk: `<dir>/<segment>` files, `<dir>/checkpoint` (SERIES records) and `<dir>/progress.json`
 * (the position up to which every sample was delivered or counted as dropped).
 */
export class WriteAheadLog {
  private segments: SegmentInfo[] = [];
  private fh: FileHandle | null = null;
  private writeChain: Promise<void> = Promise.resolve();
  private readPos: WalPosition = { segment: 0, offset: 0 };
  private watermark: WalPosition = { segment: 0, offset: 0 };
  private persistedWatermark = '';
  private readonly inflight: PendingRecord[] = [];
  private inflightHead = 0;
  private waiter: (() => void) | null = null;
  private readonly seriesLabels = new Map<number, readonly Label[]>();
  /** Series the reader must announce before samples that use them (from checkpoint/replay). */
  private pendingSeries: Array<{ ref: number; labels: Label[] }> = [];
  private readonly writtenSeries = new Set<number>();
  /** Series already handed to the reader's consumer (each is announced once). */
  private readonly announced = new Set<number>();
  private closed = false;
  private persistTimer: NodeJS.Timeout | null = null;
  private readonly segmentBytes: number;
  private readonly now: () => number;

  private constructor(private readonly options: WalOptions) {
    this.segmentBytes = options.segmentBytes ?? 128 << 20;
    this.now = options.now ?? Date.now;
  }

  /** Opens (creating if needed) the log in `options.dir` and prepares the replay of undelivered data. */
  static async open(options: WalOptions): Promise<WriteAheadLog> {
    const wal = new WriteAheadLog(options);
    await wal.init();
    return wal;
  }

  private get dir(): string {
    return this.options.dir;
  }

  private async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    // Checkpoint: series referred to by segments whose own SERIES records were truncated.
    const checkpoint = await readFile(path.join(this.dir, 'checkpoint')).catch(() => null);
    if (checkpoint) {
      for (const r of decodeRecords(checkpoint, 0).records) {
        if (r.type !== RECORD_SAMPLES) for (const s of r.series) this.registerSeries(s.ref, s.labels);
      }
    }
    const progress = await readFile(path.join(this.dir, 'progress.json'), 'utf8').then(
      (t) => JSON.parse(t) as WalPosition,
      () => null,
    );
    const names = (await readdir(this.dir)).filter((n) => SEGMENT_NAME.test(n)).sort();
    for (const name of names) {
      const n = Number(name);
      const info = await this.scanSegment(n, progress);
      this.segments.push(info);
    }
    if (this.segments.length === 0) {
      this.segments.push({ n: 1, size: 0, samples: 0, maxTs: 0, records: [] });
    }
    const first = this.segments[0]!;
    this.watermark = progress && progress.segment >= first.n ? progress : { segment: first.n, offset: 0 };
    this.readPos = { ...this.watermark };
    this.persistedWatermark = JSON.stringify(this.watermark);
    const last = this.segments.at(-1)!;
    this.fh = await open(path.join(this.dir, segName(last.n)), 'a');
    // Announce every known series to the reader first (the consumer needs labels for replayed samples).
    this.pendingSeries = [...this.seriesLabels].map(([ref, labels]) => ({ ref, labels: [...labels] }));
  }

  /** Reads a segment once at start-up: its series, sample count and newest timestamp; cuts a torn tail. */
  private async scanSegment(n: number, progress: WalPosition | null): Promise<SegmentInfo> {
    const file = path.join(this.dir, segName(n));
    const buf = await readFile(file);
    const { records, consumed } = decodeRecords(buf, 0);
    if (consumed < buf.length) {
      // A crash mid-write leaves a partial record: keep what is whole.
      await writeFile(file, buf.subarray(0, consumed));
    }
    let samples = 0;
    let maxTs = 0;
    const index: Array<{ end: number; count: number }> = [];
    for (const r of records) {
      if (r.type === RECORD_SAMPLES) {
        const undelivered = !progress || n > progress.segment || (n === progress.segment && r.end > progress.offset);
        if (undelivered) {
          samples += r.count;
          index.push({ end: r.end, count: r.count });
        }
        for (let i = 0; i < r.count; i++) {
          const ts = r.payload.getFloat64(4 + i * SAMPLE_BYTES + 4, true);
          if (ts > maxTs) maxTs = ts;
        }
      } else {
        for (const s of r.series) this.registerSeries(s.ref, s.labels);
      }
    }
    return { n, size: consumed, samples, maxTs, records: index };
  }

  private registerSeries(ref: number, labels: readonly Label[]): void {
    this.seriesLabels.set(ref, labels);
    this.writtenSeries.add(ref);
  }

  /** Every series the log knows (for restoring the agent's series table after a restart). */
  knownSeries(): IterableIterator<[number, readonly Label[]]> {
    return this.seriesLabels.entries();
  }

  /** Samples appended but neither delivered nor dropped yet (including ones read and in flight). */
  get pendingSamples(): number {
    let n = 0;
    for (const s of this.segments) n += s.samples;
    return n;
  }

  /** Bytes on disk in segments. */
  get sizeBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  /**
   * Appends samples, preceded by a SERIES record for every referenced series this log does not
   * hold yet (`labelsOf` looks them up). Resolves once written to the file (not fsynced: the
   * page cache survives a process crash).
   */
  append(columns: SampleColumns, labelsOf: (ref: number) => readonly Label[] | undefined): Promise<void> {
    if (this.closed) return Promise.reject(new Error('write-ahead log is closed'));
    const fresh: Array<{ ref: number; labels: readonly Label[] }> = [];
    let maxTs = 0;
    for (let i = 0; i < columns.count; i++) {
      const ref = columns.refs[i]!;
      if (!this.writtenSeries.has(ref)) {
        const labels = labelsOf(ref);
        if (labels) {
          this.registerSeries(ref, labels);
          fresh.push({ ref, labels });
        }
      }
      if (columns.timestamps[i]! > maxTs) maxTs = columns.timestamps[i]!;
    }
    const parts: Uint8Array[] = [];
    if (fresh.length) parts.push(encodeSeriesRecord(fresh));
    if (columns.count) parts.push(encodeSamplesRecord(columns));
    const run = this.writeChain.then(() => this.writeRecords(parts, columns.count, maxTs));
    this.writeChain = run.catch(() => undefined);
    return run;
  }

  private async writeRecords(parts: Uint8Array[], samples: number, maxTs: number): Promise<void> {
    const bytes = parts.reduce((s, p) => s + p.length, 0);
    if (bytes === 0) return;
    let seg = this.segments.at(-1)!;
    if (seg.size > 0 && seg.size + bytes > this.segmentBytes) {
      await this.fh!.close();
      seg = { n: seg.n + 1, size: 0, samples: 0, maxTs: 0, records: [] };
      this.segments.push(seg);
      this.fh = await open(path.join(this.dir, segName(seg.n)), 'a');
    }
    const buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    await this.fh!.write(buf, 0, buf.length);
    seg.size += buf.length;
    if (samples) seg.records.push({ end: seg.size, count: samples });
    seg.samples += samples;
    if (maxTs > seg.maxTs) seg.maxTs = maxTs;
    this.enforceBounds();
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Resolves when there is something to read (or the log closes). */
  waitForData(): Promise<void> {
    if (this.closed || this.hasUnread()) return Promise.resolve();
    return new Promise((resolve) => {
      const prev = this.waiter;
      this.waiter = () => {
        prev?.();
        resolve();
      };
    });
  }

  private hasUnread(): boolean {
    if (this.pendingSeries.length) return true;
    const last = this.segments.at(-1)!;
    return this.readPos.segment < last.n || this.readPos.offset < last.size;
  }

  /**
   * Reads the next records after the read position, up to about `maxSamples` samples. Returns
   * an empty batch when caught up. Samples before the persisted progress are never returned.
   */
  async read(maxSamples: number): Promise<WalReadBatch> {
    const batch: WalReadBatch = { series: [], records: [], samples: 0 };
    const announce = (s: { ref: number; labels: Label[] }) => {
      if (this.announced.has(s.ref)) return;
      this.announced.add(s.ref);
      batch.series.push(s);
    };
    this.pendingSeries.forEach(announce);
    this.pendingSeries = [];
    while (batch.samples < maxSamples && !this.closed) {
      const seg = this.segments.find((s) => s.n === this.readPos.segment);
      if (!seg) {
        // The segment was dropped (bounds) or truncated: continue with the next one that exists.
        const next = this.segments.find((s) => s.n > this.readPos.segment);
        if (!next) break;
        this.readPos = { segment: next.n, offset: 0 };
        continue;
      }
      if (this.readPos.offset >= seg.size) {
        const next = this.segments.find((s) => s.n > seg.n);
        if (!next) break;
        this.readPos = { segment: next.n, offset: 0 };
        continue;
      }
      const length = Math.min(seg.size - this.readPos.offset, READ_CHUNK);
      const buf = Buffer.allocUnsafe(length);
      if (!(await this.readAt(seg.n, buf, this.readPos.offset))) continue;
      // A bound may have dropped the segment (and counted its unread samples) while we read.
      if (!this.segments.includes(seg)) continue;
      const { records, consumed } = decodeRecords(buf, 0);
      if (consumed === 0) {
        // A record longer than the chunk: read it whole.
        const header = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
        const whole = Buffer.allocUnsafe(9 + header.getUint32(1, true));
        if (!(await this.readAt(seg.n, whole, this.readPos.offset)) || !this.segments.includes(seg)) continue;
        records.push(...decodeRecords(whole, 0).records);
        if (!records.length) throw new Error(`write-ahead log ${this.dir}: unreadable record in segment ${seg.n} at ${this.readPos.offset}`);
      }
      const base = this.readPos.offset;
      for (const r of records) {
        const end = base + r.end;
        if (r.type === RECORD_SAMPLES) {
          const pending: PendingRecord = { segment: seg.n, end, remaining: r.count };
          this.inflight.push(pending);
          batch.records.push({ pending, view: r.payload, count: r.count });
          batch.samples += r.count;
        } else {
          r.series.forEach(announce);
        }
        this.readPos = { segment: seg.n, offset: end };
        if (batch.samples >= maxSamples) break;
      }
    }
    return batch;
  }

  /** Reads `buf.length` bytes of a segment at `offset`; false when the segment no longer exists. */
  private async readAt(segment: number, buf: Buffer, offset: number): Promise<boolean> {
    let fh: FileHandle;
    try {
      fh = await open(path.join(this.dir, segName(segment)), 'r');
    } catch (err) {
      if ((err as { code?: string }).code === 'ENOENT') return false;
      throw err;
    }
    try {
      await fh.read(buf, 0, buf.length, offset);
      return true;
    } finally {
      await fh.close();
    }
  }

  /** Marks `n` samples of a record delivered or dropped; call {@link settle} after a batch of acks. */
  ack(record: PendingRecord, n: number): void {
    record.remaining -= n;
    const seg = this.segments.find((s) => s.n === record.segment);
    if (seg) seg.samples = Math.max(0, seg.samples - n);
  }

  /**
   * Advances the delivered position over every settled record, persists it (debounced) and
   * truncates fully delivered segments.
   */
  settle(): void {
    let moved = false;
    while (this.inflightHead < this.inflight.length && this.inflight[this.inflightHead]!.remaining <= 0) {
      const r = this.inflight[this.inflightHead++]!;
      this.watermark = { segment: r.segment, offset: r.end };
      moved = true;
    }
    if (this.inflightHead > 1024 && this.inflightHead * 2 > this.inflight.length) {
      this.inflight.splice(0, this.inflightHead);
      this.inflightHead = 0;
    }
    if (moved) this.schedulePersist();
  }

  private schedulePersist(): void {
    if (this.persistTimer || this.closed) return;
    this.persistTimer = setTimeout(() => {
      this.persistTimer = null;
      void this.persistProgress();
    }, 250);
  }

  /** Writes progress.json and deletes segments that are wholly delivered. */
  async persistProgress(): Promise<void> {
    const text = JSON.stringify(this.watermark);
    if (text !== this.persistedWatermark) {
      const tmp = path.join(this.dir, 'progress.json.tmp');
      await writeFile(tmp, text);
      await rename(tmp, path.join(this.dir, 'progress.json'));
      this.persistedWatermark = text;
    }
    await this.truncateDelivered();
  }

  private async truncateDelivered(): Promise<void> {
    const doomed = this.segments.filter((s) => s.n < this.watermark.segment);
    if (!doomed.length) return;
    await this.writeCheckpoint();
    for (const s of doomed) {
      this.segments = this.segments.filter((x) => x !== s);
      await rm(path.join(this.dir, segName(s.n)), { force: true });
    }
  }

  private checkpointChain: Promise<void> = Promise.resolve();

  /** Writes the checkpoint; calls are serialised (they share the temp file). */
  private writeCheckpoint(): Promise<void> {
    const run = this.checkpointChain.then(() => this.writeCheckpointNow());
    this.checkpointChain = run.catch(() => undefined);
    return run;
  }

  private async writeCheckpointNow(): Promise<void> {
    const live = [...this.seriesLabels].filter(([ref]) => this.options.isLive?.(ref) ?? true);
    if (this.options.isLive) {
      for (const [ref] of this.seriesLabels) {
        if (!this.options.isLive(ref)) {
          this.seriesLabels.delete(ref);
          this.writtenSeries.delete(ref);
        }
      }
    }
    const tmp = path.join(this.dir, 'checkpoint.tmp');
    await writeFile(tmp, encodeSeriesRecord(live.map(([ref, labels]) => ({ ref, labels }))));
    await rename(tmp, path.join(this.dir, 'checkpoint'));
  }

  /** Drops the oldest undelivered segments beyond the size or age bound, counting their samples. */
  private enforceBounds(): void {
    const { maxBytes = 0, maxAgeMs = 0, onDrop } = this.options;
    const now = this.now();
    while (this.segments.length > 1) {
      const oldest = this.segments[0]!;
      const tooBig = maxBytes > 0 && this.sizeBytes > maxBytes;
      const tooOld = maxAgeMs > 0 && oldest.maxTs > 0 && now - oldest.maxTs > maxAgeMs;
      if (!tooBig && !tooOld) break;
      // Samples not yet read are lost; ones already read stay in flight and settle normally.
      let unread = 0;
      if (this.readPos.segment < oldest.n) unread = this.countSamplesAfter(oldest, -1);
      else if (this.readPos.segment === oldest.n) unread = this.countSamplesAfter(oldest, this.readPos.offset);
      if (unread > 0) onDrop?.(tooOld ? 'too_old' : 'wal_full', unread);
      oldest.samples -= unread;
      this.segments.shift();
      if (this.readPos.segment <= oldest.n) this.readPos = { segment: this.segments[0]!.n, offset: 0 };
      if (this.watermark.segment <= oldest.n && this.inflightHead >= this.inflight.length) {
        this.watermark = { segment: this.segments[0]!.n, offset: 0 };
      }
      void rm(path.join(this.dir, segName(oldest.n)), { force: true });
      void this.writeCheckpoint();
    }
  }

  private countSamplesAfter(seg: SegmentInfo, offset: number): number {
    let n = 0;
    for (const r of seg.records) if (r.end > offset) n += r.count;
    return n;
  }

  /** Flushes progress and closes files. */
  async close(): Promise<void> {
    if (this.closed) return;
    await this.writeChain;
    this.closed = true;
    if (this.persistTimer) clearTimeout(this.persistTimer);
    this.persistTimer = null;
    const text = JSON.stringify(this.watermark);
    if (text !== this.persistedWatermark) {
      await writeFile(path.join(this.dir, 'progress.json'), text);
    }
    await this.fh?.close();
    this.fh = null;
    this.wake();
  }

  /** Removes a log directory entirely (destination removed from the config). */
  static async destroy(dir: string): Promise<void> {
    await rm(dir, { recursive: true, force: true });
  }

  /** Sizes on disk, for `wal_bytes`. */
  static async diskBytes(dir: string): Promise<number> {
    let total = 0;
    for (const n of await readdir(dir).catch(() => [] as string[])) total += (await stat(path.join(dir, n)).catch(() => ({ size: 0 }))).size;
    return total;
  }
}

import { compileRelabelConfigs, relabel, sortLabels, type CompiledRelabel, type Label, type RemoteWriteConfig } from '@fleet/pipeline';
import type { ClassifiedError } from '@fleet/aws';
import { encodeLabels, encodeWriteRequest, type SampleBatch } from '../remote-write/encode.js';
import type { DropReason, SendFailureFacts, WriteClient } from '../remote-write/client.js';
import { isStaleNaNAt } from '../series/stale.js';
import type { AgentMetrics } from '../telemetry/metrics.js';
import type { PendingRecord, WriteAheadLog } from '../wal/wal.js';

/**
 * The last failure of a destination, for heartbeats, `doctor` and the dashboard: its
 * classification, plus what the client knew about it (endpoint, stage, peer address, measured
 * clock offset; see {@link SendFailureFacts}) when it reported that.
 */
export interface DestinationError extends ClassifiedError, Partial<SendFailureFacts> {
  at: Date;
  status: number | null;
}

/** What a queue needs besides its config. */
export interface QueueDeps {
  wal: WriteAheadLog;
  client: WriteClient;
  metrics: AgentMetrics;
  externalLabels: Record<string, string>;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  random?: () => number;
}

const READ_BATCH = 10_000;

/**
 * The send side of one destination: reads its WAL in order, applies external labels and
 * `write_relabel_configs` once per series, spreads samples over shards by series (so each
 * series stays in order), batches by `max_samples_per_send` / `batch_send_deadline`, and sends
 * with retries. Every sample ends as sent, filtered (removed on purpose by write relabelling) or
 * dropped-with-a-reason; only then is it acknowledged to the WAL.
 */
export class RemoteWriteQueue {
  /** Encoded labels per series id (dense ids: an array beats a Map); null = dropped by write relabelling. */
  private readonly seriesBytes: Array<Uint8Array | null | undefined> = [];
  private readonly relabelRules: CompiledRelabel[];
  private shards: Shard[];
  private readonly resharding: Resharder;
  private stopping = false;
  private readLoop: Promise<void> | null = null;
  lastError: DestinationError | null = null;
  lastSuccessAt: Date | null = null;

  constructor(
    readonly config: RemoteWriteConfig,
    private readonly deps: QueueDeps,
  ) {
    this.relabelRules = compileRelabelConfigs(config.writeRelabelConfigs);
    const n = Math.max(1, config.queueConfig.minShards);
    this.shards = Array.from({ length: n }, () => new Shard(this));
    this.resharding = new Resharder(config.queueConfig.minShards, config.queueConfig.maxShards);
    deps.metrics.shards.set({ remote_name: config.name }, n);
  }

  /**
   * Changes the number of shards (between min_shards and max_shards) when the resharder asks:
   * waits until every shard has sent what it holds, so each series stays in order.
   */
  private async reshardIfDue(): Promise<void> {
    const want = this.resharding.desired(this.shards.length, this.deps.wal.pendingSamples, this.lastError, this.lastSuccessAt);
    if (want === this.shards.length) return;
    for (const s of this.shards) s.flush();
    while (!this.stopping && this.shards.some((s) => s.length > 0 || s.busy)) await Promise.all(this.shards.map((s) => s.drained()));
    if (this.stopping) return;
    for (const s of this.shards) s.stop();
    this.deps.log('info', 'resharding', { remote_name: this.name, from: this.shards.length, to: want });
    this.shards = Array.from({ length: want }, () => new Shard(this));
    this.deps.metrics.shards.set({ remote_name: this.name }, want);
  }

  get name(): string {
    return this.config.name;
  }

  /** Starts reading the WAL and sending. */
  start(): void {
    this.readLoop ??= this.run().catch((err: unknown) => {
      this.deps.log('error', 'remote-write queue stopped on an internal error', { remote_name: this.name, err: String(err) });
    });
  }

  private async run(): Promise<void> {
    const { wal } = this.deps;
    while (!this.stopping) {
      await this.reshardIfDue();
      const batch = await wal.read(READ_BATCH);
      for (const s of batch.series) this.addSeries(s.ref, s.labels);
      for (const r of batch.records) {
        const view = r.view;
        for (let i = 0; i < r.count; i++) {
          const at = 4 + i * 20;
          const ref = view.getUint32(at, true);
          const ts = view.getFloat64(at + 4, true);
          const stale = isStaleNaNAt(view, at + 12);
          const value = stale ? NaN : view.getFloat64(at + 12, true);
          const labels = this.seriesBytes[ref];
          if (!labels) {
            if (labels === null) this.filter([r.pending]);
            else this.drop('invalid_labels', [r.pending]);
            continue;
          }
          const shard = this.shards[ref % this.shards.length]!;
          if (shard.full) {
            await shard.space();
            if (this.stopping) return; // the rest stays in the WAL
          }
          shard.push(labels, ts, value, stale, r.pending);
        }
        this.resharding.samplesIn += r.count;
      }
      this.refreshGauges();
      if (batch.samples === 0 && batch.series.length === 0 && !this.stopping) await wal.waitForData();
    }
  }

  private addSeries(ref: number, labels: readonly Label[]): void {
    let out: Label[] | null = [...labels];
    const present = new Set(labels.map((l) => l.name));
    for (const [name, value] of Object.entries(this.deps.externalLabels)) if (!present.has(name) && value !== '') out.push({ name, value });
    out = this.relabelRules.length ? relabel(out, this.relabelRules) : sortLabels(out).filter((l) => l.value !== '');
    this.seriesBytes[ref] = out && out.length ? encodeLabels(out) : null;
  }

  /** Counts samples as dropped and acknowledges them. */
  drop(reason: DropReason, records: readonly PendingRecord[]): void {
    this.deps.metrics.samplesDropped.inc({ remote_name: this.name, reason }, records.length);
    this.ack(records);
  }

  /**
   * Counts samples that `write_relabel_configs` removed on purpose (not sent, not lost: apart from
   * the drops) and acknowledges them.
   */
  filter(records: readonly PendingRecord[]): void {
    this.deps.metrics.samplesFiltered.inc({ remote_name: this.name }, records.length);
    this.ack(records);
  }

  /** Acknowledges samples to the WAL, one call per run of samples of the same record. */
  private ack(records: readonly PendingRecord[]): void {
    let i = 0;
    while (i < records.length) {
      const r = records[i]!;
      let j = i + 1;
      while (j < records.length && records[j] === r) j++;
      this.deps.wal.ack(r, j - i);
      i = j;
    }
    this.deps.wal.settle();
  }

  /** Acknowledges delivered samples. */
  delivered(batch: Batch): void {
    let newest = 0;
    for (let i = 0; i < batch.count; i++) if (batch.timestamps[i]! > newest) newest = batch.timestamps[i]!;
    this.ack(batch.records);
    this.deps.metrics.samplesSent.inc({ remote_name: this.name }, batch.count);
    const gauge = this.deps.metrics.highestSent;
    if (newest / 1000 > (this.highestSent ?? 0)) {
      this.highestSent = newest / 1000;
      gauge.set({ remote_name: this.name }, this.highestSent);
    }
    this.lastSuccessAt = new Date();
  }

  private highestSent: number | undefined;

  /** Records a failed attempt (metrics + last error) and logs it. */
  failed(error: ClassifiedError, status: number | null, samples: number, retrying: boolean, facts?: SendFailureFacts): void {
    this.lastError = { ...error, ...facts, status, at: new Date() };
    this.deps.metrics.failedSends.inc({ remote_name: this.name, class: error.class });
    if (retrying) this.deps.metrics.samplesRetried.inc({ remote_name: this.name }, samples);
    this.deps.log(retrying ? 'warn' : 'error', retrying ? 'send failed; will retry' : 'send failed; samples dropped', {
      remote_name: this.name,
      status,
      class: error.class,
      code: error.code,
      error: error.message,
      ...(facts?.stage ? { stage: facts.stage, endpoint: facts.endpoint } : {}),
      samples,
    });
  }

  /** Records the duration of one send attempt (and, when it succeeded, how many samples it carried). */
  observeSend(seconds: number, delivered: number): void {
    this.deps.metrics.sendDuration.observe({ remote_name: this.name }, seconds);
    if (delivered > 0) {
      this.resharding.sendSeconds += seconds;
      this.resharding.samplesSent += delivered;
    }
  }

  get queueConfig() {
    return this.config.queueConfig;
  }

  get client(): WriteClient {
    return this.deps.client;
  }

  get random(): () => number {
    return this.deps.random ?? Math.random;
  }

  get stopped(): boolean {
    return this.stopping;
  }

  private refreshGauges(): void {
    this.deps.metrics.samplesPending.set({ remote_name: this.name }, this.deps.wal.pendingSamples);
    this.deps.metrics.walBytes.set({ remote_name: this.name }, this.deps.wal.sizeBytes);
  }

  /** Samples buffered in shards (read from the WAL, not yet settled). */
  get buffered(): number {
    return this.shards.reduce((n, s) => n + s.length, 0);
  }

  /**
   * Stops reading, gives in-flight sends up to `graceMs` to finish, and closes the WAL (what
   * was not delivered stays in it for the next start).
   */
  async stop(graceMs = 5_000): Promise<void> {
    this.stopping = true;
    for (const s of this.shards) s.stop();
    await Promise.race([Promise.all(this.shards.map((s) => s.idle())), new Promise((r) => setTimeout(r, graceMs).unref())]);
    await this.deps.wal.close();
    await this.readLoop;
  }
}

/** A batch taken from a shard: the encoder's columns plus each sample's WAL record. */
interface Batch extends SampleBatch {
  records: PendingRecord[];
}

/**
 * One sender: a ring buffer of samples (columns, no object per sample) and at most one request
 * in flight.
 */
class Shard {
  private readonly cap: number;
  private readonly labels: Array<Uint8Array | undefined>;
  private readonly ts: Float64Array;
  private readonly values: Float64Array;
  private readonly stale: Uint8Array;
  private readonly records: Array<PendingRecord | undefined>;
  private head = 0;
  private count = 0;
  private sending: Promise<void> | null = null;
  private deadline: NodeJS.Timeout | null = null;
  private spaceWaiters: Array<() => void> = [];
  private backoffTimer: { timer: NodeJS.Timeout; resolve: () => void } | null = null;

  constructor(private readonly q: RemoteWriteQueue) {
    this.cap = Math.max(q.queueConfig.capacity, q.queueConfig.maxSamplesPerSend);
    this.labels = new Array<Uint8Array | undefined>(this.cap);
    this.ts = new Float64Array(this.cap);
    this.values = new Float64Array(this.cap);
    this.stale = new Uint8Array(this.cap);
    this.records = new Array<PendingRecord | undefined>(this.cap);
  }

  get length(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.cap;
  }

  space(): Promise<void> {
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  push(labels: Uint8Array, ts: number, value: number, stale: boolean, record: PendingRecord): void {
    const at = (this.head + this.count) % this.cap;
    this.labels[at] = labels;
    this.ts[at] = ts;
    this.values[at] = value;
    this.stale[at] = stale ? 1 : 0;
    this.records[at] = record;
    this.count++;
    if (this.count >= this.q.queueConfig.maxSamplesPerSend) this.kick();
    else this.deadline ??= setTimeout(() => {
      this.deadline = null;
      this.kick();
    }, this.q.queueConfig.batchSendDeadlineMs);
  }

  private kick(): void {
    if (this.sending || this.count === 0) return;
    if (this.deadline) {
      clearTimeout(this.deadline);
      this.deadline = null;
    }
    this.sending = this.drain().finally(() => {
      this.sending = null;
      if (this.count >= this.q.queueConfig.maxSamplesPerSend && !this.q.stopped) this.kick();
      else if (this.count > 0 && !this.q.stopped) {
        this.deadline ??= setTimeout(() => {
          this.deadline = null;
          this.kick();
        }, this.q.queueConfig.batchSendDeadlineMs);
      }
    });
  }

  /** Removes up to `max` samples from the head, skipping (and dropping) ones older than `oldestMs`. */
  private take(max: number, oldestMs: number): { batch: Batch; tooOld: PendingRecord[] } {
    const n = Math.min(max, this.count);
    const batch: Batch = { count: 0, labels: new Array<Uint8Array>(n), timestamps: new Float64Array(n), values: new Float64Array(n), stale: new Uint8Array(n), records: new Array<PendingRecord>(n) };
    const tooOld: PendingRecord[] = [];
    for (let k = 0; k < n; k++) {
      const i = (this.head + k) % this.cap;
      const record = this.records[i]!;
      if (this.ts[i]! < oldestMs) tooOld.push(record);
      else {
        const j = batch.count++;
        batch.labels[j] = this.labels[i]!;
        batch.timestamps[j] = this.ts[i]!;
        batch.values[j] = this.values[i]!;
        batch.stale[j] = this.stale[i]!;
        batch.records[j] = record;
      }
      this.labels[i] = undefined;
      this.records[i] = undefined;
    }
    batch.labels.length = batch.count;
    batch.records.length = batch.count;
    this.head = (this.head + n) % this.cap;
    this.count -= n;
    const waiters = this.spaceWaiters;
    this.spaceWaiters = [];
    for (const w of waiters) w();
    return { batch, tooOld };
  }

  private async drain(): Promise<void> {
    const cfg = this.q.queueConfig;
    const { batch, tooOld } = this.take(cfg.maxSamplesPerSend, cfg.sampleAgeLimitMs > 0 ? Date.now() - cfg.sampleAgeLimitMs : -Infinity);
    if (tooOld.length) this.q.drop('too_old', tooOld);
    if (!batch.count) return;
    const request = encodeWriteRequest(batch);
    let attempt = 0;
    for (;;) {
      const started = performance.now();
      const outcome = await this.q.client.send(request);
      this.q.observeSend((performance.now() - started) / 1000, outcome.ok ? batch.count : 0);
      if (outcome.ok) {
        this.q.delivered(batch);
        return;
      }
      if (!outcome.retryable) {
        this.q.failed(outcome.error, outcome.status, batch.count, false, outcome.facts);
        this.q.drop(outcome.dropReason ?? 'http_4xx', batch.records);
        return;
      }
      this.q.failed(outcome.error, outcome.status, batch.count, true, outcome.facts);
      if (this.q.stopped) return; // stays in the WAL: sent again after the restart
      const backoff = Math.min(cfg.maxBackoffMs, cfg.minBackoffMs * 2 ** attempt);
      const jittered = backoff / 2 + this.q.random() * (backoff / 2);
      attempt++;
      await this.sleep(outcome.retryAfterMs !== undefined ? Math.min(outcome.retryAfterMs, 5 * 60_000) : jittered);
      if (this.q.stopped) return;
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.backoffTimer = null;
        resolve();
      }, ms);
      this.backoffTimer = { timer, resolve };
    });
  }

  stop(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
    if (this.backoffTimer) {
      clearTimeout(this.backoffTimer.timer);
      this.backoffTimer.resolve();
      this.backoffTimer = null;
    }
    for (const w of this.spaceWaiters) w();
    this.spaceWaiters = [];
  }

  idle(): Promise<void> {
    return this.sending ?? Promise.resolve();
  }

  /** Sends what is buffered now instead of waiting for the batch deadline. */
  flush(): void {
    this.kick();
  }

  get busy(): boolean {
    return this.sending !== null;
  }

  /** Resolves when the current send finishes (or shortly when idle); callers re-check. */
  async drained(): Promise<void> {
    await (this.sending ?? new Promise<void>((r) => setTimeout(r, 10)));
    if (!this.sending && this.count > 0) this.kick();
  }
}

/**
 * Decides how many shards a destination needs, as Prometheus does: the time one sample takes to
 * send, times the rate samples come in plus a share of the backlog, with ±30 % hysteresis. It
 * re-evaluates every 10 s and never grows while sends are failing (more shards would not help).
 */
export class Resharder {
  samplesIn = 0;
  samplesSent = 0;
  sendSeconds = 0;
  private last: { at: number; in: number; sent: number; seconds: number };

  constructor(
    private readonly min: number,
    private readonly max: number,
    private readonly now: () => number = Date.now,
    private readonly intervalMs = 10_000,
  ) {
    this.last = { at: now(), in: 0, sent: 0, seconds: 0 };
  }

  desired(current: number, backlog: number, lastError: { at: Date } | null, lastSuccess: Date | null): number {
    const now = this.now();
    const dt = (now - this.last.at) / 1000;
    if (dt * 1000 < this.intervalMs) return current;
    const inRate = (this.samplesIn - this.last.in) / dt;
    const sent = this.samplesSent - this.last.sent;
    const seconds = this.sendSeconds - this.last.seconds;
    this.last = { at: now, in: this.samplesIn, sent: this.samplesSent, seconds: this.sendSeconds };
    if (sent === 0) return current;
    const failing = lastError !== null && (lastSuccess === null || lastError.at > lastSuccess);
    const timePerSample = seconds / sent;
    // Catch up on the backlog within about 30 s.
    const need = timePerSample * (inRate + backlog / 30);
    let want = Math.ceil(need * 1.1);
    want = Math.min(this.max, Math.max(this.min, want));
    if (failing) return current;
    if (want > current * 1.3 || want < current * 0.7) return want;
    return current;
  }
}


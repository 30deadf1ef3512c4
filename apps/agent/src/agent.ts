import { readFileSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClockOffset, ManagedCredentials, createRequestSigner, type CredentialStatus } from '@fleet/aws';
import { compileRelabelConfigs, type AgentConfig, type HttpClientConfig, type Label } from '@fleet/pipeline';
import type { Dispatcher } from 'undici';
import { checkDestinationName, desiredState, diffByFingerprint, jobKey, type DestinationSpec, type JobRef, type JobSpec, type KeyedDiff } from './apply/plan.js';
import { StaleHandoff } from './apply/stale-handoff.js';
import { RemoteWriteQueue, type DestinationError } from './queue/queue.js';
import { RemoteWriteClient } from './remote-write/client.js';
import { createHttpDispatcher } from './remote-write/http.js';
import type { TargetHealth } from './scrape/loop.js';
import { ScrapeJob } from './scrape/manager.js';
import { SeriesTable } from './series/series-table.js';
import { AgentMetrics } from './telemetry/metrics.js';
import { startTelemetryServer } from './telemetry/server.js';
import { AGENT_VERSION } from './version.js';
import { allocColumns, type SampleColumns } from './wal/format.js';
import { WriteAheadLog } from './wal/wal.js';

export type { JobRef } from './apply/plan.js';

/** Structured log function (the CLI backs it with pino). */
export type AgentLog = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** How to run an agent. */
export interface AgentOptions {
  /** The config to start with; it may have no instances (an enrolled agent no pipeline selects yet). */
  config: AgentConfig;
  /** State directory: `wal/<destination>/` lives here. */
  dataDir: string;
  /** Address of the self-metrics endpoint (`host:port`; port 0 picks one). */
  listen: string;
  log: AgentLog;
  /** WAL bounds per destination (defaults: 1 GiB, 4 h). */
  walMaxBytes?: number;
  walMaxAgeMs?: number;
}

/**
 * How a destination signs its requests (its `sigv4` block without the secrets), for heartbeats
 * and diagnosis.
 */
export interface DestinationSigning {
  service: string;
  region: string;
  /** The role assumed on top of the base credentials (cross-account), or null. */
  roleArn: string | null;
  /** The shared-files profile the base credentials come from, or null for the SDK's default chain. */
  profile: string | null;
  /** True when the config carries static access keys. */
  staticKeys: boolean;
}

/** A destination's state, for heartbeats, `doctor` and tests. */
export interface DestinationStatus {
  name: string;
  url: string;
  /** Null when the destination does not sign (no `sigv4` block). */
  sigv4: DestinationSigning | null;
  pendingSamples: number;
  walBytes: number;
  lastError: DestinationError | null;
  lastSuccessAt: Date | null;
  credentials: CredentialStatus | null;
  clockOffsetMs: number | null;
}

/**
 * What {@link Agent.applyConfig} changed. Destinations are named; jobs are identified by their
 * instance and job name. Everything listed `unchanged` kept running untouched.
 */
export interface ApplyResult {
  /** Destination names. */
  destinations: KeyedDiff;
  jobs: { added: JobRef[]; changed: JobRef[]; removed: JobRef[]; unchanged: JobRef[] };
  /**
   * Undelivered samples discarded with the WALs of removed destinations; they are counted in
   * `fleet_agent_remote_samples_dropped_total{reason="destination_removed"}`.
   */
  discardedSamples: number;
}

/**
 * Totals of the agent's self-metrics (sums over every destination, including removed ones for
 * the counters), for heartbeats. Read from the same prom-client metrics `/metrics` serves.
 */
export interface AgentCounters {
  /** `fleet_agent_samples_scraped_total`. */
  samplesScraped: number;
  /** `fleet_agent_remote_samples_sent_total`. */
  samplesSent: number;
  /** `fleet_agent_remote_samples_dropped_total`, all reasons (lost samples). */
  samplesDropped: number;
  /** `fleet_agent_remote_samples_filtered_total`: removed on purpose by write relabelling (not lost). */
  samplesFiltered: number;
  /** `fleet_agent_remote_samples_retried_total`. */
  samplesRetried: number;
  /** `fleet_agent_remote_samples_pending` of the running destinations. */
  pendingSamples: number;
  /** `fleet_agent_wal_bytes` of the running destinations. */
  walBytes: number;
  /** `fleet_agent_remote_samples_dropped_total` by `reason`. */
  droppedByReason: Record<string, number>;
}

/**
 * A config that could not be applied. The message names what failed (`destination "amp":
 * tls_config.ca_file /etc/ca.pem: ENOENT`) and is meant to be reported as is.
 */
export class ApplyConfigError extends Error {
  override readonly name = 'ApplyConfigError';
}

/** The send side of a destination before it has a WAL. */
interface Transport {
  dispatcher: Dispatcher;
  client: RemoteWriteClient;
  credentials?: ManagedCredentials;
  clock?: ClockOffset;
}

interface Destination {
  spec: DestinationSpec;
  dir: string;
  wal: WriteAheadLog;
  queue: RemoteWriteQueue;
  credentials?: ManagedCredentials;
  clock?: ClockOffset;
  /** Stops the queue (closing the WAL); `abort` cuts requests still in flight after the queue's grace. */
  close(options?: { abort?: boolean }): Promise<void>;
}

interface JobSlot {
  spec: JobSpec;
  job: ScrapeJob;
  /** Set while the job stops for a restart: its end-of-run staleness markers are held here. */
  holding: StaleHandoff | null;
  /** Set after a restart: markers of the previous job waiting for this one's first scrapes. */
  observing: { handoff: StaleHandoff; timer: NodeJS.Timeout } | null;
}

/**
 * A running agent: scrape jobs → per-destination WAL → queue → signed remote write, plus the
 * self-metrics endpoint. Data of every destination survives restarts in its WAL, and
 * {@link applyConfig} replaces the config live.
 */
export class Agent {
  private readonly destinations = new Map<string, Destination>();
  private readonly jobs = new Map<string, JobSlot>();
  /** Samples for destinations being reopened, written to the new WAL once it is open. */
  private readonly held = new Map<string, SampleColumns[]>();
  private readonly timers: NodeJS.Timeout[] = [];
  private telemetry: { url: string; close(): Promise<void> } | null = null;
  private ready = false;
  private stopping = false;
  private applying: Promise<unknown> = Promise.resolve();
  private config: AgentConfig;
  /** When this agent started: its counters (the self-metrics) count from here. */
  readonly startedAt = new Date();
  readonly metrics = new AgentMetrics();
  readonly series = new SeriesTable();
  private readonly labelsOf = (ref: number): readonly Label[] | undefined => this.series.get(ref)?.labels;

  private constructor(private readonly options: AgentOptions) {
    this.config = options.config;
    this.metrics.onCollect(() => this.refreshGauges());
  }

  /**
   * Opens WALs (replaying undelivered data), starts queues, scrape jobs and the telemetry server.
   * A config without instances runs only the telemetry server (`/-/ready` answers 200).
   * @throws ApplyConfigError naming the destination or job that cannot start.
   */
  static async start(options: AgentOptions): Promise<Agent> {
    const agent = new Agent(options);
    try {
      await agent.init();
    } catch (err) {
      await agent.stop().catch(() => undefined);
      throw err;
    }
    return agent;
  }

  /** URL of the self-metrics endpoint. */
  get telemetryUrl(): string {
    return this.telemetry?.url ?? '';
  }

  /** The config last applied successfully (the start config until an apply succeeds). */
  get appliedConfig(): AgentConfig {
    return this.config;
  }

  /** `wal_directory` of the config when it names one (Grafana Agent), else `<state dir>/wal`. */
  private get walRoot(): string {
    return this.config.walDirectory ? path.resolve(this.config.walDirectory) : path.join(this.options.dataDir, 'wal');
  }

  private async init(): Promise<void> {
    const { config, log } = this.options;
    const wanted = desiredState(config).destinations;
    // WALs of destinations no longer configured cannot be delivered: remove them.
    for (const name of await readdir(this.walRoot).catch(() => [] as string[])) {
      // Only directories that are WALs of ours: a wal_directory may be shared with other files.
      if (!wanted.has(name) && (await isWalDirectory(path.join(this.walRoot, name)))) {
        log('warn', 'removing the WAL of a destination that is no longer configured', { remote_name: name });
        await WriteAheadLog.destroy(path.join(this.walRoot, name));
      }
    }
    this.telemetry = await startTelemetryServer({ listen: this.options.listen, metrics: this.metrics, ready: () => this.ready });
    await this.applyNow(config, true);
    this.timers.push(setInterval(() => this.housekeeping(), 60_000));
    this.ready = true;
    log('info', 'agent started', {
      version: AGENT_VERSION,
      jobs: this.jobs.size,
      destinations: [...this.destinations.keys()],
      telemetry: this.telemetry.url,
      pending: [...this.destinations.values()].reduce((n, d) => n + d.wal.pendingSamples, 0),
    });
  }

  /**
   * Applies a new config live, without restarting the process. Calls are serialised (each runs
   * after the previous one settled); once {@link stop} was called, calls are refused.
   *
   * - Destinations (by name): added ones are opened and started; removed ones are stopped and
   *   their WAL deleted (their undelivered samples are counted as dropped with reason
   *   `destination_removed` and logged); changed ones (any field of their remote_write, or the
   *   global external labels) are stopped and reopened on the same WAL directory, so every
   *   undelivered sample is sent with the new settings (samples scraped meanwhile are held in
   *   memory and written to the reopened WAL); unchanged ones keep running untouched.
   * - Scrape jobs (by instance and job name): unchanged ones (same config, same destination
   *   names) keep running untouched; removed ones stop with staleness markers; changed ones are
   *   restarted with the new config, and — as Prometheus does on reload — only series the new
   *   job no longer produces get staleness markers, once it has scraped each target (see
   *   {@link StaleHandoff}).
   * - Everything that can fail (TLS and credential files, relabel rules, opening new WALs) is
   *   prepared before anything running is touched; if reopening a changed destination's WAL
   *   fails, the destinations already changed go back to their previous settings. Either way the
   *   previous config keeps running and the call rejects with an {@link ApplyConfigError}.
   *
   * @returns what was added, changed, removed and left alone.
   */
  applyConfig(config: AgentConfig): Promise<ApplyResult> {
    // Applies asked for before stop() run (stop waits for them); later ones are refused.
    if (this.stopping) return Promise.reject(new ApplyConfigError('the agent is stopping: config not applied'));
    const run = this.applying.then(() => this.applyNow(config, false));
    this.applying = run.catch(() => undefined);
    return run;
  }

  private async applyNow(config: AgentConfig, initial: boolean): Promise<ApplyResult> {
    const { log } = this.options;
    const want = desiredState(config);
    const destDiff = diffByFingerprint(new Map([...this.destinations].map(([n, d]) => [n, d.spec])), want.destinations);
    const jobDiff = diffByFingerprint(new Map([...this.jobs].map(([k, s]) => [k, s.spec])), want.jobs);
    const ref = (spec: JobSpec): JobRef => ({ instance: spec.instance, job: spec.config.jobName });
    const wanted = (keys: string[]) => keys.map((k) => ref(want.jobs.get(k)!));
    const removedJobs = jobDiff.removed.map((k) => ref(this.jobs.get(k)!.spec));

    // 1. Prepare everything that can fail; nothing running is touched yet.
    const transports = new Map<string, Transport>();
    const added: Array<{ destination: Destination; existed: boolean }> = [];
    const fresh = new Map<string, JobSlot>();
    try {
      for (const name of destDiff.changed) {
        transports.set(name, attempt(`destination "${name}"`, () => this.prepareTransport(want.destinations.get(name)!)));
      }
      for (const name of destDiff.added) added.push(await this.openNewDestination(want.destinations.get(name)!));
      for (const key of [...jobDiff.added, ...jobDiff.changed]) {
        const spec = want.jobs.get(key)!;
        fresh.set(key, attempt(`scrape job "${spec.config.jobName}" of instance "${spec.instance}"`, () => this.createJob(spec)));
      }
    } catch (err) {
      await this.discard(transports, added, fresh);
      throw err;
    }

    // 2. Reopen changed destinations on their WALs: the one step that can still fail.
    const swapped: Destination[] = [];
    for (const name of destDiff.changed) {
      const previous = this.destinations.get(name)!;
      const transport = transports.get(name)!;
      transports.delete(name);
      this.hold(name);
      try {
        await this.reopen(previous, want.destinations.get(name)!, transport);
      } catch (err) {
        const restored = await this.restore(previous);
        this.releaseHeld(name);
        for (const p of swapped.reverse()) {
          this.hold(p.spec.config.name);
          await this.restore(p);
          this.releaseHeld(p.spec.config.name);
        }
        await this.discard(transports, added, fresh);
        throw new ApplyConfigError(
          `destination "${name}": ${(err as Error).message}; ${
            restored ? 'the previous config keeps running' : 'it is stopped until a config that can open its WAL is applied; the rest of the previous config keeps running'
          }`,
          { cause: err },
        );
      }
      swapped.push(previous);
      this.releaseHeld(name);
    }

    // 3. From here nothing fails: start added destinations, then swap jobs, then remove.
    for (const { destination } of added) this.install(destination);

    const stops: Array<Promise<void>> = [];
    for (const key of jobDiff.removed) {
      const slot = this.jobs.get(key)!;
      this.jobs.delete(key);
      this.releaseHandoff(slot);
      stops.push(this.stopJob(slot, true));
    }
    const handoffs = new Map<string, StaleHandoff>();
    for (const key of jobDiff.changed) {
      const old = this.jobs.get(key)!;
      this.releaseHandoff(old);
      const handoff = new StaleHandoff(old.spec.destinations, new Set(want.jobs.get(key)!.destinations));
      old.holding = handoff;
      handoffs.set(key, handoff);
      stops.push(this.stopJob(old, true));
    }
    await Promise.all(stops);
    for (const [key, slot] of fresh) {
      this.jobs.set(key, slot);
      const handoff = handoffs.get(key);
      if (handoff && handoff.held > 0) this.observe(slot, handoff);
      slot.job.start();
    }

    let discardedSamples = 0;
    for (const name of destDiff.removed) discardedSamples += await this.removeDestination(name);

    this.config = config;
    const result: ApplyResult = {
      destinations: destDiff,
      jobs: {
        added: wanted(jobDiff.added),
        changed: wanted(jobDiff.changed),
        removed: removedJobs,
        unchanged: wanted(jobDiff.unchanged),
      },
      discardedSamples,
    };
    if (!initial) {
      log('info', 'config applied', {
        destinations: { added: destDiff.added, changed: destDiff.changed, removed: destDiff.removed, unchanged: destDiff.unchanged.length },
        jobs: { added: result.jobs.added.length, changed: result.jobs.changed.length, removed: result.jobs.removed.length, unchanged: result.jobs.unchanged.length },
      });
    }
    return result;
  }

  /** Everything of a destination that can fail before it has a WAL: names, files, TLS, credentials, relabel rules. */
  private prepareTransport(spec: DestinationSpec): Transport {
    const rw = spec.config;
    checkDestinationName(rw.name);
    checkHttpClientFiles(rw);
    compileRelabelConfigs(rw.writeRelabelConfigs);
    // tls_config, proxy_url / proxy_from_environment, follow_redirects and enable_http2 of the destination.
    const dispatcher = createHttpDispatcher(rw, { connections: rw.queueConfig.maxShards });
    try {
      let credentials: ManagedCredentials | undefined;
      let clock: ClockOffset | undefined;
      let signer;
      if (rw.sigv4) {
        credentials = new ManagedCredentials({
          region: rw.sigv4.region,
          accessKey: rw.sigv4.accessKey,
          secretKey: rw.sigv4.secretKey,
          profile: rw.sigv4.profile,
          roleArn: rw.sigv4.roleArn,
          externalId: rw.sigv4.externalId,
          sessionName: `fleet-agent-${os.hostname()}`.replace(/[^\w+=,.@-]/g, '-').slice(0, 64),
        });
        clock = new ClockOffset();
        signer = createRequestSigner({ service: rw.sigv4.service, region: rw.sigv4.region, credentials, clock });
      }
      const client = new RemoteWriteClient(rw, { userAgent: `fleet-agent/${AGENT_VERSION}`, dispatcher, signer, credentials, clock });
      return { dispatcher, client, ...(credentials ? { credentials } : {}), ...(clock ? { clock } : {}) };
    } catch (err) {
      void dispatcher.close();
      throw err;
    }
  }

  private async openWal(name: string, dir: string): Promise<WriteAheadLog> {
    const { log } = this.options;
    try {
      return await WriteAheadLog.open({
        dir,
        maxBytes: this.options.walMaxBytes ?? 1 << 30,
        maxAgeMs: this.options.walMaxAgeMs ?? 4 * 3_600_000,
        isLive: (ref) => this.series.get(ref) !== undefined,
        onDrop: (reason, samples) => {
          this.metrics.samplesDropped.inc({ remote_name: name, reason }, samples);
          log('warn', 'WAL bound reached: samples dropped', { remote_name: name, reason, samples });
        },
      });
    } catch (err) {
      throw new Error(`cannot open its write-ahead log in ${dir}: ${(err as Error).message}`, { cause: err });
    }
  }

  private assemble(spec: DestinationSpec, transport: Transport, wal: WriteAheadLog, dir: string): Destination {
    const queue = new RemoteWriteQueue(spec.config, { wal, client: transport.client, metrics: this.metrics, externalLabels: spec.externalLabels, log: this.options.log });
    return {
      spec,
      dir,
      wal,
      queue,
      ...(transport.credentials ? { credentials: transport.credentials } : {}),
      ...(transport.clock ? { clock: transport.clock } : {}),
      close: async (options) => {
        await queue.stop();
        if (options?.abort) await transport.dispatcher.destroy();
        else await transport.dispatcher.close();
      },
    };
  }

  /**
   * Opens an added destination (not started). A WAL directory already there was written by this
   * process (startup removes unconfigured ones), so its undelivered data is kept and sent.
   */
  private async openNewDestination(spec: DestinationSpec): Promise<{ destination: Destination; existed: boolean }> {
    const name = spec.config.name;
    const transport = attempt(`destination "${name}"`, () => this.prepareTransport(spec));
    const dir = path.join(this.walRoot, name);
    const existed = await stat(dir).then(
      () => true,
      () => false,
    );
    try {
      const wal = await this.openWal(name, dir);
      return { destination: this.assemble(spec, transport, wal, dir), existed };
    } catch (err) {
      await transport.dispatcher.close();
      if (!existed) await WriteAheadLog.destroy(dir).catch(() => undefined);
      throw new ApplyConfigError(`destination "${name}": ${(err as Error).message}`, { cause: err });
    }
  }

  /** Registers a destination's series (ids from its WAL), makes it reachable by name and starts its queue. */
  private install(d: Destination): void {
    const now = Date.now();
    for (const [ref, labels] of d.wal.knownSeries()) {
      const entry = this.series.restore(ref, labels);
      if (entry.lastAppendMs === 0) entry.lastAppendMs = now;
    }
    this.destinations.set(d.spec.config.name, d);
    d.queue.start();
  }

  /** Stops a destination and reopens its WAL directory with new settings (appends are held meanwhile). */
  private async reopen(previous: Destination, spec: DestinationSpec, transport: Transport): Promise<void> {
    await previous.close({ abort: true });
    this.destinations.delete(spec.config.name);
    await this.openOn(spec, transport, previous.dir);
  }

  /** Opens the WAL in `dir` for a destination and starts it; the transport is closed if that fails. */
  private async openOn(spec: DestinationSpec, transport: Transport, dir: string): Promise<void> {
    let wal: WriteAheadLog;
    try {
      wal = await this.openWal(spec.config.name, dir);
    } catch (err) {
      await transport.dispatcher.close();
      throw err;
    }
    this.install(this.assemble(spec, transport, wal, dir));
  }

  /** Rollback: runs a destination with its previous settings again; false when even that fails. */
  private async restore(previous: Destination): Promise<boolean> {
    const name = previous.spec.config.name;
    const current = this.destinations.get(name);
    try {
      if (current) {
        this.destinations.delete(name);
        await current.close({ abort: true });
      }
      await this.openOn(previous.spec, this.prepareTransport(previous.spec), previous.dir);
      return true;
    } catch (err) {
      this.forgetDestinationMetrics(name);
      this.options.log('error', 'cannot restore a destination after a failed config apply; it is stopped', { remote_name: name, error: (err as Error).message });
      return false;
    }
  }

  /** Undoes step 1 of an apply: closes prepared transports, added destinations and jobs that never started. */
  private async discard(transports: Map<string, Transport>, added: Array<{ destination: Destination; existed: boolean }>, fresh: Map<string, JobSlot>): Promise<void> {
    await Promise.all([
      ...[...transports.values()].map((t) => t.dispatcher.close().catch(() => undefined)),
      ...added.map(async ({ destination, existed }) => {
        await destination.close({ abort: true }).catch(() => undefined);
        this.forgetDestinationMetrics(destination.spec.config.name);
        if (!existed) await WriteAheadLog.destroy(destination.dir).catch(() => undefined);
      }),
      ...[...fresh.values()].map((s) => s.job.stop({ stale: false }).catch(() => undefined)),
    ]);
  }

  /** Stops a removed destination and deletes its WAL; returns the undelivered samples it held. */
  private async removeDestination(name: string): Promise<number> {
    const d = this.destinations.get(name)!;
    this.destinations.delete(name);
    await d.close({ abort: true });
    const pending = d.wal.pendingSamples;
    try {
      await WriteAheadLog.destroy(d.dir);
    } catch (err) {
      this.options.log('error', 'cannot delete the WAL of a removed destination', { remote_name: name, dir: d.dir, error: (err as Error).message });
    }
    this.forgetDestinationMetrics(name);
    if (pending > 0) this.metrics.samplesDropped.inc({ remote_name: name, reason: 'destination_removed' }, pending);
    this.options.log(pending > 0 ? 'warn' : 'info', 'destination removed with its WAL', { remote_name: name, pending_samples: pending });
    return pending;
  }

  /** Removes the per-destination gauges of a destination that no longer runs (counters keep their totals). */
  private forgetDestinationMetrics(name: string): void {
    const m = this.metrics;
    for (const g of [m.samplesPending, m.walBytes, m.shards, m.highestSent, m.clockOffset, m.credentialExpiry]) g.remove({ remote_name: name });
  }

  /** A scrape job (not started) whose appender resolves its destinations by name on every append. */
  private createJob(spec: JobSpec): JobSlot {
    checkHttpClientFiles(spec.config);
    // The appender is called only after start(), when the slot exists.
    const holder: { slot?: JobSlot } = {};
    const job = new ScrapeJob(spec.config, {
      series: this.series,
      appender: { append: (columns) => this.appendFromJob(holder.slot!, columns) },
      metrics: this.metrics,
      log: this.options.log,
    });
    holder.slot = { spec, job, holding: null, observing: null };
    return holder.slot;
  }

  private appendFromJob(slot: JobSlot, columns: SampleColumns): Promise<void> {
    if (!columns.count) return Promise.resolve();
    if (slot.holding && StaleHandoff.onlyStale(columns)) {
      slot.holding.hold(columns);
      return Promise.resolve();
    }
    slot.observing?.handoff.observe(columns);
    const names = slot.spec.destinations;
    if (names.length === 1) return this.appendTo(names[0]!, columns);
    return Promise.all(names.map((n) => this.appendTo(n, columns))).then(() => undefined);
  }

  /** Appends to the destination's current WAL, or holds a copy while the destination is reopened. */
  private appendTo(name: string, columns: SampleColumns): Promise<void> {
    const held = this.held.get(name);
    if (held) {
      held.push(copyColumns(columns));
      return Promise.resolve();
    }
    this.metrics.samplesIn.inc({ remote_name: name }, columns.count);
    const d = this.destinations.get(name);
    if (!d) {
      // Only after a failed rollback left the destination stopped: counted, so in = sent + filtered + dropped + pending.
      this.metrics.samplesDropped.inc({ remote_name: name, reason: 'destination_unavailable' }, columns.count);
      return Promise.resolve();
    }
    return d.wal.append(columns, this.labelsOf);
  }

  private hold(name: string): void {
    if (!this.held.has(name)) this.held.set(name, []);
  }

  /** Writes what was held for a destination, in order, before anything appended later. */
  private releaseHeld(name: string): void {
    const held = this.held.get(name);
    if (!held) return;
    this.held.delete(name);
    for (const columns of held) {
      this.appendTo(name, columns).catch((err: unknown) => {
        this.options.log('error', 'cannot write samples held while the destination was reopened', { remote_name: name, error: (err as Error).message });
      });
    }
  }

  private async stopJob(slot: JobSlot, stale: boolean): Promise<void> {
    try {
      await slot.job.stop({ stale });
    } catch (err) {
      this.options.log('error', 'scrape job did not stop cleanly', { instance: slot.spec.instance, job: slot.spec.config.jobName, error: (err as Error).message });
    }
  }

  /**
   * Watches a restarted job until it has scraped every target once (or two intervals plus a
   * timeout have passed), then writes the previous job's markers for series it did not continue.
   */
  private observe(slot: JobSlot, handoff: StaleHandoff): void {
    const { scrapeIntervalMs, scrapeTimeoutMs } = slot.spec.config;
    const deadline = Date.now() + 2 * scrapeIntervalMs + scrapeTimeoutMs;
    const timer = setInterval(
      () => {
        const targets = slot.job.status().targets;
        if ((targets.length > 0 && targets.every((t) => t.lastScrapeAt !== null)) || Date.now() >= deadline) this.releaseHandoff(slot);
      },
      Math.min(500, Math.max(50, scrapeIntervalMs / 4)),
    );
    timer.unref();
    slot.observing = { handoff, timer };
  }

  private releaseHandoff(slot: JobSlot): void {
    const o = slot.observing;
    if (!o) return;
    slot.observing = null;
    clearInterval(o.timer);
    for (const { destination, columns } of o.handoff.release()) {
      if (!this.destinations.has(destination) && !this.held.has(destination)) continue; // removed meanwhile
      this.appendTo(destination, columns).catch((err: unknown) => {
        this.options.log('error', 'cannot write staleness markers of a restarted job', { remote_name: destination, error: (err as Error).message });
      });
    }
  }

  private housekeeping(): void {
    this.series.forgetOlderThan(Date.now() - (this.options.walMaxAgeMs ?? 4 * 3_600_000) - 600_000);
  }

  /** Sets the live gauges (called whenever /metrics is collected). */
  private refreshGauges(): void {
    const now = Date.now();
    this.metrics.credentialInfo.reset();
    for (const d of this.destinations.values()) {
      const labels = { remote_name: d.spec.config.name };
      this.metrics.samplesPending.set(labels, d.wal.pendingSamples);
      this.metrics.walBytes.set(labels, d.wal.sizeBytes);
      if (d.clock) this.metrics.clockOffset.set(labels, d.clock.offsetMs / 1000);
      const creds = d.credentials?.status();
      if (creds?.expiration) this.metrics.credentialExpiry.set(labels, (creds.expiration.getTime() - now) / 1000);
      if (creds?.source) this.metrics.credentialInfo.set({ ...labels, source: creds.source, caller_arn: creds.callerArn ?? '' }, 1);
    }
  }

  /**
   * Totals for heartbeats, read from the agent's prom-client metrics (the values `/metrics`
   * serves; gauges are refreshed first). Async because prom-client's `get()` is.
   */
  async counters(): Promise<AgentCounters> {
    const m = this.metrics;
    const [scraped, sent, dropped, filtered, retried, pending, wal] = await Promise.all([
      m.samplesScraped.get(),
      m.samplesSent.get(),
      m.samplesDropped.get(),
      m.samplesFiltered.get(),
      m.samplesRetried.get(),
      m.samplesPending.get(),
      m.walBytes.get(),
    ]);
    const total = (metric: { values: Array<{ value: number }> }) => metric.values.reduce((n, v) => n + v.value, 0);
    const droppedByReason: Record<string, number> = {};
    for (const v of dropped.values) {
      const reason = String(v.labels.reason ?? 'unknown');
      droppedByReason[reason] = (droppedByReason[reason] ?? 0) + v.value;
    }
    return {
      samplesScraped: total(scraped),
      samplesSent: total(sent),
      samplesDropped: total(dropped),
      samplesFiltered: total(filtered),
      samplesRetried: total(retried),
      pendingSamples: total(pending),
      walBytes: total(wal),
      droppedByReason,
    };
  }

  /** Per-destination state. */
  destinationStatus(): DestinationStatus[] {
    return [...this.destinations.values()].map((d) => ({
      name: d.spec.config.name,
      url: d.spec.config.url,
      sigv4: signingOf(d.spec.config),
      pendingSamples: d.wal.pendingSamples,
      walBytes: d.wal.sizeBytes,
      lastError: d.queue.lastError,
      lastSuccessAt: d.queue.lastSuccessAt,
      credentials: d.credentials?.status() ?? null,
      clockOffsetMs: d.clock?.offsetMs ?? null,
    }));
  }

  /** Health of every scrape target. */
  targetStatus(): TargetHealth[] {
    return [...this.jobs.values()].flatMap((s) => s.job.status().targets);
  }

  /** Service discovery that fails now, per job (the job keeps its last good targets). */
  discoveryStatus(): Array<{ job: string; mechanism: string; error: string }> {
    return [...this.jobs.values()].flatMap((s) => s.job.status().discoveryFailures.map((f) => ({ job: s.job.config.jobName, ...f })));
  }

  /** Jobs (also their discovery blocks) and destinations that skip TLS verification. */
  insecureTls(): string[] {
    const out: string[] = [];
    for (const s of this.jobs.values()) {
      const c = s.job.config;
      const blocks = [c, ...c.kubernetesSdConfigs, ...c.ec2SdConfigs, ...c.httpSdConfigs, ...c.consulSdConfigs];
      if (blocks.some((b) => b.tlsConfig?.insecureSkipVerify)) out.push(`job ${c.jobName}`);
    }
    for (const d of this.destinations.values()) if (d.spec.config.tlsConfig?.insecureSkipVerify) out.push(`destination ${d.spec.config.name}`);
    return out;
  }

  /**
   * The running job object of (instance, job), for diagnostics and tests: the same object as long
   * as applies leave the job unchanged, a new one after a restart.
   */
  scrapeJob(instance: string, job: string): ScrapeJob | undefined {
    return this.jobs.get(jobKey(instance, job))?.job;
  }

  /**
   * Waits for an apply in flight, stops scraping (no staleness markers: the series resume after
   * a restart; markers still held for a restarted job are dropped for the same reason), lets
   * in-flight sends finish briefly, persists WAL progress and closes everything.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.applying;
    this.ready = false;
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    const slots = [...this.jobs.values()];
    this.jobs.clear();
    for (const s of slots) if (s.observing) clearInterval(s.observing.timer);
    await Promise.all(slots.map((s) => this.stopJob(s, false)));
    const dests = [...this.destinations.values()];
    this.destinations.clear();
    await Promise.all(dests.map((d) => d.close()));
    await this.telemetry?.close();
    this.telemetry = null;
  }
}

function signingOf(rw: DestinationSpec['config']): DestinationSigning | null {
  const s = rw.sigv4;
  return s ? { service: s.service, region: s.region, roleArn: s.roleArn ?? null, profile: s.profile ?? null, staticKeys: Boolean(s.accessKey && s.secretKey) } : null;
}

/** Runs a preparation step, prefixing its error with what was being prepared. */
function attempt<T>(what: string, step: () => T): T {
  try {
    return step();
  } catch (err) {
    if (err instanceof ApplyConfigError) throw err;
    throw new ApplyConfigError(`${what}: ${(err as Error).message}`, { cause: err });
  }
}

/** Secret files of basic_auth / authorization must be readable when a config is applied (they are re-read on every request). */
function checkHttpClientFiles(config: HttpClientConfig): void {
  const check = (what: string, file: string | undefined) => {
    if (!file) return;
    try {
      readFileSync(file);
    } catch (err) {
      throw new Error(`${what} ${file}: ${(err as { code?: string }).code ?? 'cannot read'}`, { cause: err });
    }
  };
  check('basic_auth.password_file', config.basicAuth?.passwordFile);
  check('authorization.credentials_file', config.authorization?.credentialsFile);
}

function copyColumns(columns: SampleColumns): SampleColumns {
  const out = allocColumns(columns.count);
  out.refs.set(columns.refs.subarray(0, columns.count));
  out.timestamps.set(columns.timestamps.subarray(0, columns.count));
  out.valueBits.set(columns.valueBits.subarray(0, columns.count * 8));
  out.count = columns.count;
  return out;
}

/** Whether a directory holds one of our WALs (its `progress.json` or `checkpoint`). */
async function isWalDirectory(dir: string): Promise<boolean> {
  for (const marker of ['progress.json', 'checkpoint']) {
    if (await stat(path.join(dir, marker)).then((s) => s.isFile(), () => false)) return true;
  }
  return false;
}

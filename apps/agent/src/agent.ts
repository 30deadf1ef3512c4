import { readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ClockOffset, ManagedCredentials, createRequestSigner, type CredentialStatus } from '@fleet/aws';
import type { AgentConfig, RemoteWriteConfig } from '@fleet/pipeline';
import { RemoteWriteQueue, type DestinationError } from './queue/queue.js';
import { RemoteWriteClient } from './remote-write/client.js';
import { createDispatcher } from './remote-write/http.js';
import type { Appender } from './scrape/appender.js';
import type { TargetHealth } from './scrape/loop.js';
import { ScrapeJob } from './scrape/manager.js';
import { SeriesTable } from './series/series-table.js';
import { AgentMetrics } from './telemetry/metrics.js';
import { startTelemetryServer } from './telemetry/server.js';
import { AGENT_VERSION } from './version.js';
import { WriteAheadLog } from './wal/wal.js';

/** Structured log function (the CLI backs it with pino). */
export type AgentLog = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** How to run an agent. */
export interface AgentOptions {
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

/** A destination's state, for heartbeats, `doctor` and tests. */
export interface DestinationStatus {
  name: string;
  url: string;
  pendingSamples: number;
  walBytes: number;
  lastError: DestinationError | null;
  lastSuccessAt: Date | null;
  credentials: CredentialStatus | null;
  clockOffsetMs: number | null;
}

interface Destination {
  config: RemoteWriteConfig;
  wal: WriteAheadLog;
  queue: RemoteWriteQueue;
  credentials?: ManagedCredentials;
  clock?: ClockOffset;
  close(): Promise<void>;
}

/**
 * A running agent: scrape jobs → per-destination WAL → queue → signed remote write, plus the
 * self-metrics endpoint. Data of every destination survives restarts in its WAL.
 */
export class Agent {
  private readonly destinations = new Map<string, Destination>();
  private readonly jobs: ScrapeJob[] = [];
  private readonly timers: NodeJS.Timeout[] = [];
  private telemetry: { url: string; close(): Promise<void> } | null = null;
  private ready = false;
  readonly metrics = new AgentMetrics();
  readonly series = new SeriesTable();

  private constructor(private readonly options: AgentOptions) {
    this.metrics.onCollect(() => this.refreshGauges());
  }

  /** Opens WALs (replaying undelivered data), starts queues, scrape jobs and the telemetry server. */
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

  private async init(): Promise<void> {
    const { config, dataDir, log } = this.options;
    const walRoot = path.join(dataDir, 'wal');
    const wanted = new Map<string, RemoteWriteConfig>();
    for (const inst of config.instances) for (const rw of inst.remoteWrite) wanted.set(rw.name, rw);

    // WALs of destinations no longer configured cannot be delivered: remove them.
    for (const name of await readdir(walRoot).catch(() => [] as string[])) {
      if (!wanted.has(name)) {
        log('warn', 'removing the WAL of a destination that is no longer configured', { remote_name: name });
        await WriteAheadLog.destroy(path.join(walRoot, name));
      }
    }
    for (const rw of wanted.values()) this.destinations.set(rw.name, await this.openDestination(rw, path.join(walRoot, rw.name)));
    // Series ids from the WALs are restored before any scrape assigns new ones.
    const now = Date.now();
    for (const d of this.destinations.values()) for (const [ref, labels] of d.wal.knownSeries()) this.series.restore(ref, labels).lastAppendMs = now;
    for (const d of this.destinations.values()) d.queue.start();

    for (const inst of config.instances) {
      const dests = inst.remoteWrite.map((rw) => this.destinations.get(rw.name)!);
      const appender: Appender = {
        append: async (columns) => {
          if (!columns.count) return;
          await Promise.all(
            dests.map((d) => {
              this.metrics.samplesIn.inc({ remote_name: d.config.name }, columns.count);
              return d.wal.append(columns, (ref) => this.series.get(ref)?.labels);
            }),
          );
        },
      };
      for (const job of inst.scrapeConfigs) {
        const j = new ScrapeJob(job, { series: this.series, appender, metrics: this.metrics, log });
        this.jobs.push(j);
      }
    }
    this.telemetry = await startTelemetryServer({ listen: this.options.listen, metrics: this.metrics, ready: () => this.ready });
    for (const j of this.jobs) j.start();
    this.timers.push(setInterval(() => this.housekeeping(), 60_000));
    this.ready = true;
    log('info', 'agent started', {
      version: AGENT_VERSION,
      jobs: this.jobs.length,
      destinations: [...this.destinations.keys()],
      telemetry: this.telemetry.url,
      pending: [...this.destinations.values()].reduce((n, d) => n + d.wal.pendingSamples, 0),
    });
  }

  private async openDestination(rw: RemoteWriteConfig, dir: string): Promise<Destination> {
    const { log } = this.options;
    const maxAge = this.options.walMaxAgeMs ?? 4 * 3_600_000;
    const wal = await WriteAheadLog.open({
      dir,
      maxBytes: this.options.walMaxBytes ?? 1 << 30,
      maxAgeMs: maxAge,
      isLive: (ref) => this.series.get(ref) !== undefined,
      onDrop: (reason, samples) => {
        this.metrics.samplesDropped.inc({ remote_name: rw.name, reason }, samples);
        log('warn', 'WAL bound reached: samples dropped', { remote_name: rw.name, reason, samples });
      },
    });
    const dispatcher = createDispatcher(rw.tlsConfig, { connections: rw.queueConfig.maxShards });
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
    const queue = new RemoteWriteQueue(rw, { wal, client, metrics: this.metrics, externalLabels: this.options.config.global.externalLabels, log });
    return {
      config: rw,
      wal,
      queue,
      ...(credentials ? { credentials } : {}),
      ...(clock ? { clock } : {}),
      close: async () => {
        await queue.stop();
        await dispatcher.close();
      },
    };
  }

  private housekeeping(): void {
    this.series.forgetOlderThan(Date.now() - (this.options.walMaxAgeMs ?? 4 * 3_600_000) - 600_000);
  }

  /** Sets the live gauges (called whenever /metrics is collected). */
  private refreshGauges(): void {
    const now = Date.now();
    this.metrics.credentialInfo.reset();
    for (const d of this.destinations.values()) {
      const labels = { remote_name: d.config.name };
      this.metrics.samplesPending.set(labels, d.wal.pendingSamples);
      this.metrics.walBytes.set(labels, d.wal.sizeBytes);
      if (d.clock) this.metrics.clockOffset.set(labels, d.clock.offsetMs / 1000);
      const creds = d.credentials?.status();
      if (creds?.expiration) this.metrics.credentialExpiry.set(labels, (creds.expiration.getTime() - now) / 1000);
      if (creds?.source) this.metrics.credentialInfo.set({ ...labels, source: creds.source, caller_arn: creds.callerArn ?? '' }, 1);
    }
  }

  /** Per-destination state. */
  destinationStatus(): DestinationStatus[] {
    return [...this.destinations.values()].map((d) => ({
      name: d.config.name,
      url: d.config.url,
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
    return this.jobs.flatMap((j) => j.status().targets);
  }

  /**
   * Stops scraping (no staleness markers: the series resume after a restart), lets in-flight
   * sends finish briefly, persists WAL progress and closes everything.
   */
  async stop(): Promise<void> {
    this.ready = false;
    for (const t of this.timers) clearInterval(t);
    await Promise.all(this.jobs.map((j) => j.stop({ stale: false })));
    await Promise.all([...this.destinations.values()].map((d) => d.close()));
    await this.telemetry?.close();
    this.telemetry = null;
  }
}

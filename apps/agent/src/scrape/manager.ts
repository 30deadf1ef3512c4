import { compileRelabelConfigs, type CompiledRelabel, type ScrapeConfig } from '@fleet/pipeline';
import type { Dispatcher } from 'undici';
import { createDiscoverers, type NamedDiscoverer } from '../discovery/create.js';
import type { TargetGroup } from '../discovery/discovery.js';
import { createHttpDispatcher } from '../remote-write/http.js';
import type { SeriesTable } from '../series/series-table.js';
import type { AgentMetrics } from '../telemetry/metrics.js';
import type { Appender } from './appender.js';
import { ScrapeLoop, type TargetHealth } from './loop.js';
import { buildTargets, type DroppedTarget } from './target.js';

type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/** What {@link ScrapeJob.status} reports. */
export interface ScrapeJobStatus {
  targets: TargetHealth[];
  /** At most `keep_dropped_targets` of them (0 = all). */
  dropped: DroppedTarget[];
  /** Every target relabelling dropped, also those not kept. */
  droppedCount: number;
  /** The last error of each discoverer that reported one since its last update, in config order. */
  discoveryErrors: string[];
  /** The same with the mechanism that failed (`kubernetes`, `ec2`, `dns`, …), for heartbeats. */
  discoveryFailures: Array<{ mechanism: string; error: string }>;
  /** Set while the job has more targets than `target_limit` (none of them is scraped). */
  targetLimitError: string | null;
}

/**
 * Runs one scrape job: its discoverers, the targets they yield after `relabel_configs`, and one
 * {@link ScrapeLoop} per target. When discovery changes, new targets start and vanished ones
 * stop with staleness markers. Over `target_limit`, every loop keeps running but fails each
 * scrape with Prometheus's error (up = 0, series stale) until the count is back under it.
 */
export class ScrapeJob {
  private readonly loops = new Map<string, ScrapeLoop>();
  private readonly groups = new Map<number, TargetGroup[]>();
  private readonly discoverers: NamedDiscoverer[];
  private readonly targetRules: CompiledRelabel[];
  private readonly metricRules: CompiledRelabel[];
  private readonly dispatcher: Dispatcher;
  private dropped: DroppedTarget[] = [];
  private droppedCount = 0;
  private targetLimitError: string | null = null;
  private readonly discoveryErrorsByIndex = new Map<number, { mechanism: string; error: string }>();
  private sync: Promise<void> = Promise.resolve();
  /** The last error any discoverer reported (see {@link status} for each one's). */
  discoveryError: string | null = null;

  constructor(
    readonly config: ScrapeConfig,
    private readonly deps: { series: SeriesTable; appender: Appender; metrics: AgentMetrics; log: Log; env?: NodeJS.ProcessEnv },
  ) {
    const env = deps.env ?? process.env;
    this.targetRules = compileRelabelConfigs(config.relabelConfigs);
    this.metricRules = compileRelabelConfigs(config.metricRelabelConfigs);
    this.discoverers = createDiscoverers(config, { log: deps.log, env });
    this.dispatcher = createHttpDispatcher(config, { connections: 64, env });
  }

  start(): void {
    this.discoverers.forEach(({ mechanism, discoverer }, i) =>
      discoverer.start(
        (groups) => {
          // A discoverer reports its errors after the update of the same round: an update clears the last one.
          this.discoveryErrorsByIndex.delete(i);
          this.groups.set(i, groups);
          this.sync = this.sync.then(() => this.reconcile());
        },
        (message) => {
          this.discoveryError = message;
          this.discoveryErrorsByIndex.set(i, { mechanism, error: message });
          this.deps.log('warn', 'service discovery failed', { job: this.config.jobName, error: message });
        },
      ),
    );
  }

  private async reconcile(): Promise<void> {
    const { targets, dropped, droppedCount } = buildTargets(this.config, [...this.groups.values()].flat(), this.targetRules);
    this.dropped = dropped;
    this.droppedCount = droppedCount;
    const limit = this.config.targetLimit;
    const limitError = limit > 0 && targets.length > limit ? `target_limit exceeded (number of targets: ${targets.length}, limit: ${limit})` : null;
    if (limitError && limitError !== this.targetLimitError) this.deps.log('warn', 'target_limit exceeded', { job: this.config.jobName, targets: targets.length, limit });
    this.targetLimitError = limitError;
    const wanted = new Map(targets.map((t) => [t.key, t]));
    const gone = [...this.loops].filter(([key]) => !wanted.has(key));
    for (const [key] of gone) this.loops.delete(key);
    await Promise.all(gone.map(([, loop]) => loop.stop({ stale: true })));
    for (const [key, target] of wanted) {
      if (this.loops.has(key)) continue;
      const loop = new ScrapeLoop(target, this.config, {
        metricRelabel: this.metricRules,
        series: this.deps.series,
        appender: this.deps.appender,
        metrics: this.deps.metrics,
        dispatcher: this.dispatcher,
        log: this.deps.log,
      });
      this.loops.set(key, loop);
      loop.setForcedError(limitError);
      loop.start();
    }
    for (const loop of this.loops.values()) loop.setForcedError(limitError);
  }

  /** Health of every target, the targets relabelling dropped, and discovery errors. */
  status(): ScrapeJobStatus {
    return {
      targets: [...this.loops.values()].map((l) => l.status()),
      dropped: this.dropped,
      droppedCount: this.droppedCount,
      discoveryErrors: this.failures().map((f) => f.error),
      discoveryFailures: this.failures(),
      targetLimitError: this.targetLimitError,
    };
  }

  private failures(): Array<{ mechanism: string; error: string }> {
    return [...this.discoveryErrorsByIndex].sort(([a], [b]) => a - b).map(([, f]) => f);
  }

  /** Stops discovery and every loop; `stale` writes staleness markers (job removed). */
  async stop(options: { stale: boolean }): Promise<void> {
    for (const d of this.discoverers) d.discoverer.stop();
    await this.sync;
    await Promise.all([...this.loops.values()].map((l) => l.stop(options)));
    this.loops.clear();
    await this.dispatcher.close();
  }
}

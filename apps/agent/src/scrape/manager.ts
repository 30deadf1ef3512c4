import { compileRelabelConfigs, type CompiledRelabel, type ScrapeConfig } from '@fleet/pipeline';
import type { Dispatcher } from 'undici';
import type { Discoverer, TargetGroup } from '../discovery/discovery.js';
import { FileDiscoverer } from '../discovery/file-sd.js';
import { StaticDiscoverer } from '../discovery/static.js';
import { createDispatcher } from '../remote-write/http.js';
import type { SeriesTable } from '../series/series-table.js';
import type { AgentMetrics } from '../telemetry/metrics.js';
import type { Appender } from './appender.js';
import { ScrapeLoop, type TargetHealth } from './loop.js';
import { buildTargets, type DroppedTarget } from './target.js';

type Log = (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;

/**
 * Runs one scrape job: its discoverers (static and file), the targets they yield after
 * `relabel_configs`, and one {@link ScrapeLoop} per target. When discovery changes, new
 * targets start and vanished ones stop with staleness markers.
 */
export class ScrapeJob {
  private readonly loops = new Map<string, ScrapeLoop>();
  private readonly groups = new Map<number, TargetGroup[]>();
  private readonly discoverers: Discoverer[];
  private readonly targetRules: CompiledRelabel[];
  private readonly metricRules: CompiledRelabel[];
  private readonly dispatcher: Dispatcher;
  private dropped: DroppedTarget[] = [];
  private sync: Promise<void> = Promise.resolve();
  discoveryError: string | null = null;

  constructor(
    readonly config: ScrapeConfig,
    private readonly deps: { series: SeriesTable; appender: Appender; metrics: AgentMetrics; log: Log },
  ) {
    this.targetRules = compileRelabelConfigs(config.relabelConfigs);
    this.metricRules = compileRelabelConfigs(config.metricRelabelConfigs);
    this.dispatcher = createDispatcher(config.tlsConfig, { connections: 64 });
    this.discoverers = [
      ...(config.staticConfigs.length ? [new StaticDiscoverer(config.staticConfigs)] : []),
      ...config.fileSdConfigs.map((f) => new FileDiscoverer(f)),
    ];
  }

  start(): void {
    this.discoverers.forEach((d, i) =>
      d.start(
        (groups) => {
          this.groups.set(i, groups);
          this.sync = this.sync.then(() => this.reconcile());
        },
        (message) => {
          this.discoveryError = message;
          this.deps.log('warn', 'service discovery failed', { job: this.config.jobName, error: message });
        },
      ),
    );
  }

  private async reconcile(): Promise<void> {
    const { targets, dropped } = buildTargets(this.config, [...this.groups.values()].flat(), this.targetRules);
    this.dropped = dropped;
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
      loop.start();
    }
  }

  /** Health of every target, and the targets relabelling dropped. */
  status(): { targets: TargetHealth[]; dropped: DroppedTarget[] } {
    return { targets: [...this.loops.values()].map((l) => l.status()), dropped: this.dropped };
  }

  /** Stops discovery and every loop; `stale` writes staleness markers (job removed). */
  async stop(options: { stale: boolean }): Promise<void> {
    for (const d of this.discoverers) d.stop();
    await this.sync;
    await Promise.all([...this.loops.values()].map((l) => l.stop(options)));
    this.loops.clear();
    await this.dispatcher.close();
  }
}

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The agent's self-metrics, served at `/metrics` and summarised in heartbeats. Names follow
 * Prometheus's own `prometheus_remote_storage_*` / scrape metrics with a `fleet_agent_` prefix.
 */
export class AgentMetrics {
  readonly registry = new Registry();

  readonly samplesIn = new Counter({ name: 'fleet_agent_remote_samples_in_total', help: 'Samples appended to the WAL of a destination.', labelNames: ['remote_name'], registers: [this.registry] });
  readonly samplesSent = new Counter({ name: 'fleet_agent_remote_samples_sent_total', help: 'Samples the destination accepted.', labelNames: ['remote_name'], registers: [this.registry] });
  readonly samplesRetried = new Counter({ name: 'fleet_agent_remote_samples_retried_total', help: 'Samples in batches that failed with a retryable error and were sent again.', labelNames: ['remote_name'], registers: [this.registry] });
  readonly samplesDropped = new Counter({ name: 'fleet_agent_remote_samples_dropped_total', help: 'Samples lost: given up on, by reason (http_4xx, http_429, wal_full, too_old, invalid_labels, destination_removed, destination_unavailable). Samples removed on purpose by write_relabel_configs are not lost: see fleet_agent_remote_samples_filtered_total.', labelNames: ['remote_name', 'reason'], registers: [this.registry] });
  /**
   * Samples `write_relabel_configs` removed on purpose (a `drop` rule, or a keep-list that does not
   * name them): neither sent nor lost, counted apart from {@link samplesDropped} as Prometheus
   * does not call relabel drops failures.
   */
  readonly samplesFiltered = new Counter({ name: 'fleet_agent_remote_samples_filtered_total', help: 'Samples removed on purpose by write_relabel_configs (not sent and not lost).', labelNames: ['remote_name'], registers: [this.registry] });
  readonly samplesPending = new Gauge({ name: 'fleet_agent_remote_samples_pending', help: 'Samples in the WAL not yet delivered or dropped.', labelNames: ['remote_name'], registers: [this.registry], collect: () => this.refresh() });
  readonly shards = new Gauge({ name: 'fleet_agent_remote_shards', help: 'Shards sending to the destination.', labelNames: ['remote_name'], registers: [this.registry] });
  readonly sendDuration = new Histogram({ name: 'fleet_agent_remote_sent_batch_duration_seconds', help: 'Duration of one send attempt.', labelNames: ['remote_name'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [this.registry] });
  readonly failedSends = new Counter({ name: 'fleet_agent_remote_failed_sends_total', help: 'Send attempts that failed, by error class.', labelNames: ['remote_name', 'class'], registers: [this.registry] });
  readonly highestSent = new Gauge({ name: 'fleet_agent_remote_highest_sent_timestamp_seconds', help: 'Newest sample timestamp the destination accepted.', labelNames: ['remote_name'], registers: [this.registry] });
  readonly walBytes = new Gauge({ name: 'fleet_agent_wal_bytes', help: 'Size of the destination WAL on disk.', labelNames: ['remote_name'], registers: [this.registry], collect: () => this.refresh() });
  readonly credentialExpiry = new Gauge({ name: 'fleet_agent_aws_credentials_expiry_seconds', help: 'Seconds until the destination credentials expire (absent for long-term keys).', labelNames: ['remote_name'], registers: [this.registry], collect: () => this.refresh() });
  readonly credentialInfo = new Gauge({ name: 'fleet_agent_aws_credentials_info', help: 'Where the destination credentials come from and whom they belong to (value 1).', labelNames: ['remote_name', 'source', 'caller_arn'], registers: [this.registry], collect: () => this.refresh() });
  readonly clockOffset = new Gauge({ name: 'fleet_agent_aws_clock_offset_seconds', help: 'AWS server time minus local time, from response Date headers.', labelNames: ['remote_name'], registers: [this.registry], collect: () => this.refresh() });

  readonly targetUp = new Gauge({ name: 'fleet_agent_target_up', help: '1 when the last scrape of a target succeeded.', labelNames: ['job', 'instance'], registers: [this.registry] });
  readonly targetDuration = new Gauge({ name: 'fleet_agent_target_scrape_duration_seconds', help: 'Duration of the last scrape of a target.', labelNames: ['job', 'instance'], registers: [this.registry] });
  readonly targetErrors = new Counter({ name: 'fleet_agent_target_scrape_errors_total', help: 'Failed scrapes of a target.', labelNames: ['job', 'instance'], registers: [this.registry] });
  readonly samplesScraped = new Counter({ name: 'fleet_agent_samples_scraped_total', help: 'Samples scraped (after metric relabelling), all targets.', registers: [this.registry] });

  /** Functions that set live gauges right before they are read (see {@link onCollect}). */
  private readonly refreshers: Array<() => void> = [];

  /** Registers a function that updates gauges whenever metrics are collected. */
  onCollect(refresh: () => void): void {
    this.refreshers.push(refresh);
  }

  private refresh(): void {
    for (const r of this.refreshers) r();
  }

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'fleet_agent_' });
  }
}

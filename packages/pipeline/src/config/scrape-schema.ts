import { z } from 'zod';
import { relabelConfigSchema } from '../relabel/index.js';
import { discoveryFields, normaliseDiscovery } from './discovery.js';
import { durationSchema } from './duration.js';
import { bool, bytes, labelMap, list, nonEmpty, nonNegativeInt, obj, str, text } from './fields.js';
import { checkHttpClient, httpClientFields, normaliseHttpClient } from './http-client.js';
import { SCRAPE_PROTOCOLS, type ConfigIssue, type ScrapeConfig, type ScrapeProtocol } from './model.js';

/** `scrape_configs` entries and the `global` block (Prometheus field names) and their normalisation. */

const protocol = z.string().superRefine((p, ctx) => {
  if (!(SCRAPE_PROTOCOLS as readonly string[]).includes(p)) {
    ctx.addIssue({ code: 'custom', message: `unknown scrape protocol ${p}, supported: ${SCRAPE_PROTOCOLS.join(', ')}` });
  }
});
const protocols = list(protocol).superRefine((items, ctx) => {
  const seen = new Set<string>();
  items.forEach((p, i) => {
    if (seen.has(p)) ctx.addIssue({ code: 'custom', path: [i], message: `duplicated protocol in scrape_protocols, got [${items.join(' ')}]` });
    seen.add(p);
  });
  if (items.length > 0 && items.every((p) => p === 'PrometheusProto')) {
    ctx.addIssue({ code: 'custom', message: 'fleet-agent reads the text formats only: add PrometheusText0.0.4 (the protobuf format is a Prometheus feature fleet-agent does not support yet)' });
  }
}) as unknown as z.ZodType<ScrapeProtocol[]>;

/** Limits and defaults a job takes from `global` unless it sets them. */
const limitFields = {
  sample_limit: nonNegativeInt.optional(),
  target_limit: nonNegativeInt.optional(),
  label_limit: nonNegativeInt.optional(),
  label_name_length_limit: nonNegativeInt.optional(),
  label_value_length_limit: nonNegativeInt.optional(),
  body_size_limit: bytes.optional(),
  keep_dropped_targets: nonNegativeInt.optional(),
  scrape_protocols: protocols.optional(),
};

/** Histogram and naming settings: text scrapes carry classic histograms only, so these change nothing. */
const nativeHistogramFields = {
  scrape_native_histograms: bool.optional(),
  scrape_classic_histograms: bool.optional(),
  always_scrape_classic_histograms: bool.optional(),
  convert_classic_histograms_to_nhcb: bool.optional(),
  native_histogram_bucket_limit: nonNegativeInt.optional(),
  native_histogram_min_bucket_factor: z.unknown().optional(),
  metric_name_validation_scheme: z.enum(['legacy', 'utf8']).optional(),
  metric_name_escaping_scheme: z.enum(['allow-utf-8', 'underscores', 'dots', 'values']).optional(),
  scrape_failure_log_file: str.optional(),
};

/** `global:` of a Prometheus config (and `metrics.global` of Grafana Agent, which adds remote_write there). */
export const globalFields = {
  scrape_interval: durationSchema.default(60_000),
  // Unset: min(10s, scrape_interval), as Prometheus does.
  scrape_timeout: durationSchema.optional(),
  evaluation_interval: durationSchema.optional(),
  rule_query_offset: durationSchema.optional(),
  external_labels: labelMap.default({}),
  query_log_file: str.optional(),
  ...limitFields,
  ...nativeHistogramFields,
};
export const globalSchema = obj(globalFields);
export type RawGlobal = z.infer<typeof globalSchema>;

/** One `scrape_configs` entry. */
export const scrapeConfigSchema = obj({
  job_name: nonEmpty,
  scrape_interval: durationSchema.optional(),
  scrape_timeout: durationSchema.optional(),
  fallback_scrape_protocol: protocol.optional(),
  metrics_path: text(z.string().startsWith('/', 'must start with /')).default('/metrics'),
  scheme: z.enum(['http', 'https']).default('http'),
  params: z.record(z.string(), list(str)).default({}),
  honor_labels: bool.default(false),
  honor_timestamps: bool.default(true),
  track_timestamps_staleness: bool.default(false),
  enable_compression: bool.default(true),
  relabel_configs: list(relabelConfigSchema).default([]),
  metric_relabel_configs: list(relabelConfigSchema).default([]),
  ...discoveryFields,
  ...limitFields,
  ...nativeHistogramFields,
  ...httpClientFields,
}).superRefine((v, ctx) => checkHttpClient(v, ctx));
export type RawScrape = z.infer<typeof scrapeConfigSchema>;

/** Job defaults from the global block. */
export interface JobDefaults {
  intervalMs: number;
  timeoutMs: number;
  global: RawGlobal;
}

const DEFAULT_PROTOCOLS: ScrapeProtocol[] = ['OpenMetricsText1.0.0', 'OpenMetricsText0.0.1', 'PrometheusText1.0.0', 'PrometheusText0.0.4'];

/** The normalised job. */
export function normaliseScrape(raw: RawScrape, d: JobDefaults): ScrapeConfig {
  const interval = raw.scrape_interval ?? d.intervalMs;
  const pick = <K extends keyof typeof limitFields>(k: K) => raw[k] ?? d.global[k];
  return {
    jobName: raw.job_name,
    scrapeIntervalMs: interval,
    // Prometheus: a job without scrape_timeout uses min(global timeout, its interval).
    scrapeTimeoutMs: raw.scrape_timeout ?? Math.min(d.timeoutMs, interval),
    metricsPath: raw.metrics_path,
    scheme: raw.scheme,
    params: raw.params,
    honorLabels: raw.honor_labels,
    honorTimestamps: raw.honor_timestamps,
    ...normaliseDiscovery(raw),
    relabelConfigs: raw.relabel_configs,
    metricRelabelConfigs: raw.metric_relabel_configs,
    scrapeProtocols: pick('scrape_protocols') ?? DEFAULT_PROTOCOLS,
    enableCompression: raw.enable_compression,
    sampleLimit: pick('sample_limit') ?? 0,
    bodySizeLimitBytes: pick('body_size_limit') ?? 0,
    labelLimit: pick('label_limit') ?? 0,
    labelNameLengthLimit: pick('label_name_length_limit') ?? 0,
    labelValueLengthLimit: pick('label_value_length_limit') ?? 0,
    targetLimit: pick('target_limit') ?? 0,
    keepDroppedTargets: pick('keep_dropped_targets') ?? 0,
    ...normaliseHttpClient(raw),
  };
}

/** Settings of a job or the global block that the agent accepts but that change nothing, as warnings. */
export function scrapeWarnings(raw: Partial<RawScrape> & Partial<RawGlobal>, path: string): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (raw.scrape_protocols?.includes('PrometheusProto')) out.push({ path: at('scrape_protocols'), message: 'PrometheusProto is skipped: fleet-agent asks for the text formats only' });
  if (raw.track_timestamps_staleness) out.push({ path: at('track_timestamps_staleness'), message: 'not honoured yet: series with explicit timestamps get no staleness markers' });
  if (raw.native_histogram_bucket_limit || raw.native_histogram_min_bucket_factor !== undefined) {
    out.push({ path: at('native_histogram_bucket_limit'), message: 'ignored: text scrapes carry no native histograms' });
  }
  if (raw.scrape_native_histograms) out.push({ path: at('scrape_native_histograms'), message: 'ignored: text scrapes carry no native histograms' });
  if (raw.convert_classic_histograms_to_nhcb) out.push({ path: at('convert_classic_histograms_to_nhcb'), message: 'ignored: classic histograms are sent as they are' });
  if (raw.metric_name_validation_scheme === 'utf8') out.push({ path: at('metric_name_validation_scheme'), message: 'label names are validated with the legacy rules' });
  if (raw.scrape_failure_log_file) out.push({ path: at('scrape_failure_log_file'), message: 'ignored: scrape failures are in the agent log and its target health' });
  if (raw.fallback_scrape_protocol && !raw.fallback_scrape_protocol.startsWith('PrometheusText')) {
    out.push({ path: at('fallback_scrape_protocol'), message: 'ignored: a response without a known content type is read as the Prometheus text format' });
  }
  return out;
}

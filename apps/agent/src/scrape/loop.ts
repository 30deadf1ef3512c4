import { STATUS_CODES } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { METRIC_NAME_LABEL, relabel, sortLabels, type CompiledRelabel, type Label, type ScrapeConfig, type ScrapeProtocol } from '@fleet/pipeline';
import { request, type Dispatcher } from 'undici';
import { authorizationHeader, isFollowedRedirect, MAX_REDIRECTS } from '../remote-write/http.js';
import type { SeriesEntry, SeriesTable } from '../series/series-table.js';
import { writeStaleNaN } from '../series/stale.js';
import type { AgentMetrics } from '../telemetry/metrics.js';
import { allocColumns, type SampleColumns } from '../wal/format.js';
import type { Appender } from './appender.js';
import { detachSeriesText, ExpositionError, formatFromContentType, parseExposition, parseSeriesText } from './exposition/index.js';
import type { Target } from './target.js';

/**
 * Media types of the scrape protocols. The 1.0.0 formats carry `escaping=underscores`: the
 * parser reads legacy metric and label names, so a target that can is asked to escape UTF-8
 * names (what Prometheus asks with `metric_name_validation_scheme: legacy`). Protobuf is never
 * asked for: the agent parses text only.
 */
const PROTOCOL_MEDIA_TYPES: Record<ScrapeProtocol, string | null> = {
  'OpenMetricsText1.0.0': 'application/openmetrics-text;version=1.0.0;escaping=underscores',
  'OpenMetricsText0.0.1': 'application/openmetrics-text;version=0.0.1',
  'PrometheusText1.0.0': 'text/plain;version=1.0.0;escaping=underscores',
  'PrometheusText0.0.4': 'text/plain;version=0.0.4',
  PrometheusProto: null,
};

/**
 * The `Accept` header of a `scrape_protocols` list, as Prometheus's `acceptHeader()`: each
 * protocol in order with falling q-values from 0.(protocols known + 1), then `*\/*`.
 */
export function acceptHeader(protocols: readonly ScrapeProtocol[]): string {
  let weight = Object.keys(PROTOCOL_MEDIA_TYPES).length + 1;
  const values: string[] = [];
  for (const p of protocols) {
    const media = PROTOCOL_MEDIA_TYPES[p];
    if (!media) continue;
    values.push(`${media};q=0.${weight--}`);
  }
  values.push(`*/*;q=0.${weight}`);
  return values.join(',');
}

/** Prometheus's message when a body reaches `body_size_limit`. */
export const BODY_SIZE_LIMIT_EXCEEDED = 'body size limit exceeded';

class ScrapeFailure extends Error {}

interface CacheEntry {
  series: SeriesEntry;
  /** Scrape iteration in which the series was last seen, and the one before. */
  iter: number;
  prev: number;
}

/** Health of one target, for metrics, heartbeats and `doctor`. */
export interface TargetHealth {
  job: string;
  instance: string;
  url: string;
  up: boolean;
  lastScrapeAt: Date | null;
  lastDurationMs: number;
  lastError: string | null;
  samples: number;
}

const REPORT_SERIES = ['up', 'scrape_duration_seconds', 'scrape_samples_scraped', 'scrape_samples_post_metric_relabeling', 'scrape_series_added'] as const;

/**
 * Scrapes one target every `scrape_interval` (offset by a hash of the target so a fleet spreads
 * its load), parses the exposition, applies target labels (`honor_labels`) and
 * `metric_relabel_configs` once per new series, enforces `sample_limit`, adds the synthetic
 * `up`/`scrape_*` series, writes staleness markers for series that disappeared (or all of them
 * when the scrape failed or the target went away), and appends everything to the WALs.
 */
export class ScrapeLoop {
  private readonly cache = new Map<string, CacheEntry | null>();
  private iter = 0;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;
  private columns: SampleColumns = allocColumns(1024);
  private added = 0;
  private readonly instance: string;
  private readonly health: TargetHealth;
  private forcedError: string | null = null;
  private readonly accept: string;

  constructor(
    readonly target: Target,
    private readonly job: ScrapeConfig,
    private readonly deps: {
      metricRelabel: CompiledRelabel[];
      series: SeriesTable;
      appender: Appender;
      metrics: AgentMetrics;
      dispatcher: Dispatcher;
      log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
    },
  ) {
    this.instance = target.labels.find((l) => l.name === 'instance')?.value ?? '';
    this.accept = acceptHeader(job.scrapeProtocols);
    this.health = { job: job.jobName, instance: this.instance, url: target.url.toString(), up: false, lastScrapeAt: null, lastDurationMs: 0, lastError: null, samples: 0 };
  }

  /** A copy of the target's health. */
  status(): TargetHealth {
    return { ...this.health };
  }

  /**
   * Makes every scrape fail with `message` without contacting the target (null: scrape again),
   * as Prometheus's `setForcedError` (`target_limit`): `up` is 0 and the series go stale.
   */
  setForcedError(message: string | null): void {
    this.forcedError = message;
  }

  /** Starts scraping after an offset within the interval derived from the target's identity. */
  start(): void {
    const interval = this.job.scrapeIntervalMs;
    let h = 2166136261;
    for (let i = 0; i < this.target.key.length; i++) h = Math.imul(h ^ this.target.key.charCodeAt(i), 16777619);
    const offset = (h >>> 0) % interval;
    const next = Date.now() - (Date.now() % interval) + offset;
    const tick = () => {
      // A scrape still running (slow target, busy disk) makes this tick a skip, as in Prometheus.
      if (this.stopped || this.running) return;
      this.running = this.scrapeOnce().finally(() => {
        this.running = null;
      });
    };
    this.timer = setTimeout(
      () => {
        tick();
        this.timer = setInterval(tick, interval);
      },
      Math.max(0, next - Date.now()),
    );
  }

  /** Stops the loop; with `stale`, writes staleness markers for every series it produced. */
  async stop(options: { stale: boolean }): Promise<void> {
    this.stopped = true;
    if (this.timer) {
      clearTimeout(this.timer);
      clearInterval(this.timer);
    }
    await this.running;
    if (options.stale) {
      this.iter++;
      this.columns.count = 0;
      this.markStale(Date.now(), true);
      if (this.columns.count) await this.deps.appender.append(this.columns).catch(() => undefined);
    }
    // The target is gone (or its job restarts and sets them again): its self-metrics go too.
    const labels = { job: this.job.jobName, instance: this.instance };
    this.deps.metrics.targetUp.remove(labels);
    this.deps.metrics.targetDuration.remove(labels);
    this.deps.metrics.targetErrors.remove(labels);
  }

  /** One scrape: fetch, parse, append. Never throws. */
  async scrapeOnce(): Promise<void> {
    const start = Date.now();
    const t0 = performance.now();
    this.iter++;
    this.columns.count = 0;
    this.added = 0;
    let error: string | null = null;
    let scraped = 0;
    let post = 0;
    try {
      if (this.forcedError !== null) throw new ScrapeFailure(this.forcedError);
      const { body, contentType } = await this.fetch();
      const format = formatFromContentType(contentType);
      const sink = {
        sample: (text: string, value: number, ts: number | undefined) => {
          scraped++;
          let c = this.cache.get(text);
          if (c === undefined) c = this.miss(text, start);
          if (c === null || c.iter === this.iter) return; // dropped by relabelling, or a duplicate series
          c.prev = c.iter;
          c.iter = this.iter;
          post++;
          this.push(c.series.ref, this.job.honorTimestamps && ts !== undefined ? ts : start, value);
          c.series.lastAppendMs = start;
        },
      };
      parseExposition(body, format, sink);
      if (this.job.sampleLimit > 0 && post > this.job.sampleLimit) {
        throw new Error(`sample_limit exceeded: ${post} samples > ${this.job.sampleLimit}`);
      }
    } catch (err) {
      error = err instanceof ExpositionError ? `invalid exposition: ${err.message}` : describeScrapeError(err);
      // A failed scrape appends nothing it read: every series of the last good scrape goes stale.
      this.columns.count = 0;
      post = 0;
      this.added = 0;
      for (const [key, c] of this.cache) {
        if (!c || c.iter !== this.iter) continue;
        if (c.prev === 0) this.cache.delete(key);
        else c.iter = c.prev;
      }
    }
    this.markStale(start, false);
    const durationMs = performance.now() - t0;
    this.report(start, error === null, durationMs / 1000, scraped, post);
    this.evict();
    try {
      await this.deps.appender.append(this.columns);
    } catch (err) {
      error ??= `cannot write to the WAL: ${(err as Error).message}`;
    }
    const labels = { job: this.job.jobName, instance: this.instance };
    this.deps.metrics.targetUp.set(labels, error === null ? 1 : 0);
    this.deps.metrics.targetDuration.set(labels, durationMs / 1000);
    if (error !== null) {
      this.deps.metrics.targetErrors.inc(labels);
      if (this.health.lastError !== error) this.deps.log('warn', 'scrape failed', { ...labels, error });
    } else {
      this.deps.metrics.samplesScraped.inc(post);
    }
    Object.assign(this.health, { up: error === null, lastScrapeAt: new Date(start), lastDurationMs: durationMs, lastError: error, samples: post });
  }

  private async fetch(): Promise<{ body: string; contentType: string | undefined }> {
    const headers: Record<string, string> = {
      accept: this.accept,
      'accept-encoding': this.job.enableCompression ? 'gzip' : 'identity',
      'user-agent': `fleet-agent`,
      'x-prometheus-scrape-timeout-seconds': String(this.job.scrapeTimeoutMs / 1000),
    };
    const auth = authorizationHeader(this.job);
    if (auth) headers.authorization = auth;
    const res = await request(this.target.url, {
      method: 'GET',
      headers,
      dispatcher: this.deps.dispatcher,
      signal: AbortSignal.timeout(this.job.scrapeTimeoutMs),
      headersTimeout: this.job.scrapeTimeoutMs,
      bodyTimeout: this.job.scrapeTimeoutMs,
    });
    if (res.statusCode !== 200) {
      await res.body.dump();
      if (this.job.followRedirects !== false && isFollowedRedirect(res.statusCode, res.headers.location)) {
        throw new ScrapeFailure(`stopped after ${MAX_REDIRECTS} redirects`);
      }
      const reason = STATUS_CODES[res.statusCode];
      throw new ScrapeFailure(`server returned HTTP status ${res.statusCode}${reason ? ` ${reason}` : ''}`);
    }
    const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
    const buf = await readBounded(res.body, encoding === 'gzip', this.job.bodySizeLimitBytes);
    const ct = res.headers['content-type'];
    return { body: buf.toString('utf8'), contentType: Array.isArray(ct) ? ct[0] : ct };
  }

  private miss(text: string, now: number): CacheEntry | null {
    // Cache keys (and the labels parsed from them) are copied out of the scrape body, or each
    // would pin the whole body in memory.
    const key = detachSeriesText(text);
    const scrapedLabels = parseSeriesText(key);
    const labels = this.withTargetLabels(scrapedLabels);
    const final = this.deps.metricRelabel.length ? relabel(labels, this.deps.metricRelabel) : sortLabels(labels).filter((l) => l.value !== '');
    if (!final || !final.some((l) => l.name === METRIC_NAME_LABEL)) {
      this.cache.set(key, null);
      return null;
    }
    // Checked on new series only (as Prometheus): a violating one is never cached, so every
    // scrape that still exposes it fails.
    const violation = labelLimitViolation(final, this.job);
    if (violation) throw new ScrapeFailure(violation);
    const series = this.deps.series.getOrCreate(final, now);
    const entry: CacheEntry = { series, iter: 0, prev: 0 };
    this.cache.set(key, entry);
    this.added++;
    return entry;
  }

  private withTargetLabels(scraped: Label[]): Label[] {
    const out = new Map(scraped.map((l) => [l.name, l.value]));
    for (const { name, value } of this.target.labels) {
      const existing = out.get(name);
      if (existing === undefined || existing === '') out.set(name, value);
      else if (!this.job.honorLabels) {
        let exported = `exported_${name}`;
        while (out.has(exported)) exported = `exported_${exported}`;
        out.set(exported, existing);
        out.set(name, value);
      }
    }
    return [...out].map(([name, value]) => ({ name, value }));
  }

  private push(ref: number, ts: number, value: number, stale = false): void {
    if (this.columns.count === this.columns.refs.length) this.grow();
    const c = this.columns;
    const i = c.count++;
    c.refs[i] = ref;
    c.timestamps[i] = ts;
    if (stale) writeStaleNaN(c.valueView, i * 8);
    else c.valueView.setFloat64(i * 8, value, true);
  }

  private grow(): void {
    const old = this.columns;
    const next = allocColumns(old.refs.length * 2);
    next.refs.set(old.refs);
    next.timestamps.set(old.timestamps);
    next.valueBits.set(old.valueBits);
    next.count = old.count;
    this.columns = next;
  }

  /** Staleness markers for series seen in the previous scrape but not in this one. */
  private markStale(ts: number, all: boolean): void {
    for (const [key, c] of this.cache) {
      if (!c) continue;
      const isReport = key.startsWith('\u0000');
      if (c.iter === this.iter - 1 && (!isReport || all)) this.push(c.series.ref, ts, NaN, true);
    }
  }

  private report(ts: number, up: boolean, duration: number, scraped: number, post: number): void {
    const values = [up ? 1 : 0, duration, scraped, post, this.added];
    REPORT_SERIES.forEach((name, i) => {
      const key = `\u0000${name}`;
      let c = this.cache.get(key);
      if (!c) {
        const labels = sortLabels([...this.target.labels, { name: METRIC_NAME_LABEL, value: name }]);
        const series = this.deps.series.getOrCreate(labels, ts);
        c = { series, iter: 0, prev: 0 };
        this.cache.set(key, c);
      }
      c.prev = c.iter;
      c.iter = this.iter;
      c.series.lastAppendMs = ts;
      this.push(c.series.ref, ts, values[i]!);
    });
  }

  /** Forgets cache entries not seen for two scrapes (their staleness marker is written). */
  private evict(): void {
    if (this.iter % 8 !== 0) return;
    for (const [key, c] of this.cache) if (c === null ? false : c.iter < this.iter - 1) this.cache.delete(key);
  }
}

/**
 * Reads a response body, gunzipped when `gzip`, and fails with "body size limit exceeded" as
 * soon as the (uncompressed) bytes reach `limit` (0 = no limit), as Prometheus: decompression
 * is pulled chunk by chunk, so a gzip bomb never inflates beyond the limit.
 */
async function readBounded(body: Readable, gzip: boolean, limit: number): Promise<Buffer> {
  const max = limit > 0 ? limit : Infinity;
  const chunks: Buffer[] = [];
  let total = 0;
  let exceeded = false;
  const collect = async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) {
      total += chunk.length;
      if (total >= max) {
        exceeded = true; // pipeline() rejects with an AbortError of its own: the flag says why
        throw new ScrapeFailure(BODY_SIZE_LIMIT_EXCEEDED);
      }
      chunks.push(chunk);
    }
  };
  try {
    if (gzip) await pipeline(body, createGunzip(), collect);
    else await pipeline(body, collect);
  } catch (err) {
    if (exceeded) throw new ScrapeFailure(BODY_SIZE_LIMIT_EXCEEDED);
    const code = (err as { code?: string }).code;
    if (code?.startsWith('Z_') || code === 'ERR_ZLIB_INITIALIZATION_FAILED') throw new ScrapeFailure(`invalid gzip body: ${(err as Error).message}`);
    throw err;
  }
  return Buffer.concat(chunks, total);
}

/**
 * Prometheus's `verifyLabelLimits` on a series' final labels (target labels added, metric
 * relabelling done): the label count includes `__name__`; lengths are in bytes. Null when fine.
 */
export function labelLimitViolation(labels: readonly Label[], limits: Pick<ScrapeConfig, 'labelLimit' | 'labelNameLengthLimit' | 'labelValueLengthLimit'>): string | null {
  const metric = clip(labels.find((l) => l.name === METRIC_NAME_LABEL)?.value ?? '');
  if (limits.labelLimit > 0 && labels.length > limits.labelLimit) {
    return `label_limit exceeded (metric: ${metric}, number of labels: ${labels.length}, limit: ${limits.labelLimit})`;
  }
  for (const l of labels) {
    const nameLength = Buffer.byteLength(l.name);
    if (limits.labelNameLengthLimit > 0 && nameLength > limits.labelNameLengthLimit) {
      return `label_name_length_limit exceeded (metric: ${metric}, label name: ${clip(l.name)}, length: ${nameLength}, limit: ${limits.labelNameLengthLimit})`;
    }
    const valueLength = Buffer.byteLength(l.value);
    if (limits.labelValueLengthLimit > 0 && valueLength > limits.labelValueLengthLimit) {
      return `label_value_length_limit exceeded (metric: ${metric}, label name: ${clip(l.name)}, value: ${JSON.stringify(clip(l.value))}, length: ${valueLength}, limit: ${limits.labelValueLengthLimit})`;
    }
  }
  return null;
}

/** The first 50 characters (Go's `%.50s`). */
function clip(s: string): string {
  return s.length <= 50 ? s : Array.from(s).slice(0, 50).join('');
}

function describeScrapeError(err: unknown): string {
  if (err instanceof ScrapeFailure) return err.message;
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
    return 'scrape timed out';
  }
  const code = e.code ?? e.cause?.code;
  const message = (e.message ?? String(err)).split('\n')[0];
  return code && !message?.includes(code) ? `${code}: ${message}` : (message ?? 'scrape failed');
}

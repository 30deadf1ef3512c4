import { gunzipSync } from 'node:zlib';
import { METRIC_NAME_LABEL, relabel, sortLabels, type CompiledRelabel, type Label, type ScrapeConfig } from '@fleet/pipeline';
import { request, type Dispatcher } from 'undici';
import { authorizationHeader } from '../remote-write/http.js';
import type { SeriesEntry, SeriesTable } from '../series/series-table.js';
import { writeStaleNaN } from '../series/stale.js';
import type { AgentMetrics } from '../telemetry/metrics.js';
import { allocColumns, type SampleColumns } from '../wal/format.js';
import type { Appender } from './appender.js';
import { detachSeriesText, ExpositionError, formatFromContentType, parseExposition, parseSeriesText } from './exposition/index.js';
import type { Target } from './target.js';

const ACCEPT =
  'application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=0.0.4;q=0.3,*/*;q=0.1';

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
    this.health = { job: job.jobName, instance: this.instance, url: target.url.toString(), up: false, lastScrapeAt: null, lastDurationMs: 0, lastError: null, samples: 0 };
  }

  /** A copy of the target's health. */
  status(): TargetHealth {
    return { ...this.health };
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
      accept: ACCEPT,
      'accept-encoding': 'gzip',
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
      throw new Error(`server returned HTTP status ${res.statusCode}`);
    }
    let buf = Buffer.from(await res.body.arrayBuffer());
    if (String(res.headers['content-encoding'] ?? '').includes('gzip')) buf = gunzipSync(buf);
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

function describeScrapeError(err: unknown): string {
  const e = err as { name?: string; code?: string; message?: string; cause?: { code?: string; message?: string } };
  if (e.name === 'TimeoutError' || e.name === 'AbortError' || e.code === 'UND_ERR_HEADERS_TIMEOUT' || e.code === 'UND_ERR_BODY_TIMEOUT') {
    return 'scrape timed out';
  }
  const code = e.code ?? e.cause?.code;
  const message = (e.message ?? String(err)).split('\n')[0];
  return code && !message?.includes(code) ? `${code}: ${message}` : (message ?? 'scrape failed');
}

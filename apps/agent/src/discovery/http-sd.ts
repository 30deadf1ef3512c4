import { STATUS_CODES } from 'node:http';
import type { HttpClientConfig, HttpSdConfig } from '@fleet/pipeline';
import { request, type Dispatcher } from 'undici';
import { z } from 'zod';
import { authorizationHeader, createHttpDispatcher } from '../remote-write/http.js';
import { AGENT_VERSION } from '../version.js';
import type { Discoverer, DiscoveryDeps, TargetGroup } from './discovery.js';

/** Largest HTTP SD answer accepted. */
export const HTTP_SD_MAX_BODY = 16 * 1024 * 1024;

/** Prometheus's accepted HTTP SD content types (`application/json`, optionally `charset=utf-8`). */
const JSON_CONTENT_TYPE = /^application\/json(;\s*charset=("utf-8"|utf-8))?$/i;

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const listSchema = z.array(
  z
    .object({
      targets: z.array(z.string()).nullish(),
      labels: z.record(z.string().regex(LABEL_NAME, 'not a valid label name'), z.string()).nullish(),
    })
    .strict(),
);

/**
 * The undici dispatcher of a discovery HTTP client: `tls_config` (via {@link createDispatcher})
 * and, unless `follow_redirects: false`, up to 10 redirects (Go's default client).
 */
export function discoveryDispatcher(config: HttpClientConfig, connections = 4, env: NodeJS.ProcessEnv = process.env): Dispatcher {
  return createHttpDispatcher(config, { connections, env });
}

/** A URL fit for messages: user info (credentials) removed. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (!u.username && !u.password) return url;
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return url;
  }
}

/** The reason phrase Go prints with a status (`500 Internal Server Error`). */
export const statusText = (code: number): string => `${code}${STATUS_CODES[code] ? ` ${STATUS_CODES[code]}` : ''}`;

/** Reads a response body up to `limit` bytes; beyond it the body is abandoned with an error naming the limit. */
export async function readBounded(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) {
      body.destroy();
      throw new Error(`response body exceeds ${limit / (1024 * 1024)} MiB`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** `[2].labels["bad-name"]` from a zod issue path. */
function jsonPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : LABEL_NAME.test(String(p)) ? `.${String(p)}` : `[${JSON.stringify(String(p))}]`)).join('');
}

/**
 * Validates an HTTP SD / file_sd JSON list: an array of `{targets: [string], labels: {name: string}}`
 * (no other keys, no null items, valid label names); the error names the JSON path of the bad entry.
 */
export function parseTargetList(raw: unknown): Array<{ targets: string[]; labels: Record<string, string> }> {
  const parsed = listSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const detail = issue.code === 'invalid_key' ? (issue.issues[0]?.message ?? issue.message) : issue.message;
    const at = jsonPath(issue.path);
    throw new Error(`invalid target list at ${at || '$'}: ${detail}`);
  }
  return parsed.data.map((g) => ({ targets: g.targets ?? [], labels: g.labels ?? {} }));
}

/**
 * `http_sd_configs`: GETs `url` every `refresh_interval` (default 60 s) as Prometheus does —
 * `Accept: application/json`, `User-Agent: fleet-agent/<version>`,
 * `X-Prometheus-Refresh-Interval-Seconds`, the block's authorization and TLS settings, a timeout
 * of one refresh interval. The answer must be 200 with `Content-Type: application/json` (charset
 * utf-8 allowed, anything else refused) and a body of at most 16 MiB holding the file_sd JSON list.
 * Group `i` gets source `<url>:<i>` and the label `__meta_url`. Any failure (network, status,
 * content type, JSON, a bad entry named by its JSON path) goes to `onError` and the last good
 * targets stay. Proxy settings are not applied yet (reported once at start).
 */
export class HttpDiscoverer implements Discoverer {
  private readonly dispatcher: Dispatcher;
  private readonly abort = new AbortController();
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  private lastGood: TargetGroup[] = [];
  private lastEmitted: string | null = null;

  constructor(
    private readonly config: HttpSdConfig,
    private readonly deps: DiscoveryDeps,
  ) {
    this.dispatcher = discoveryDispatcher(config, 4, deps.env);
  }

  start(onUpdate: (groups: TargetGroup[]) => void, onError: (message: string) => void): void {
    const where = `http_sd ${redactUrl(this.config.url)}`;
    let failed = false;
    const emit = (): void => {
      const key = JSON.stringify(this.lastGood);
      // After a failure a good round updates even when nothing changed: that clears the job's error.
      if (key === this.lastEmitted && !failed) return;
      failed = false;
      this.lastEmitted = key;
      onUpdate(this.lastGood);
    };
    const loop = (): void => {
      this.fetch()
        .then((groups) => {
          if (this.stopped) return;
          this.lastGood = groups;
          emit();
        })
        .catch((err: unknown) => {
          if (this.stopped) return;
          const message = (err as Error).name === 'TimeoutError' ? `no answer within ${this.config.refreshIntervalMs / 1000} s` : (err as Error).message;
          emit();
          failed = true;
          onError(`${where}: ${message}${this.lastGood.length ? '; keeping the last targets' : ''}`);
          this.deps.log('warn', 'http_sd refresh failed', { url: redactUrl(this.config.url), error: message });
        })
        .finally(() => {
          if (!this.stopped) this.timer = setTimeout(loop, this.config.refreshIntervalMs);
        });
    };
    loop();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.abort.abort();
    void this.dispatcher.close().catch(() => undefined);
  }

  private async fetch(): Promise<TargetGroup[]> {
    const { url, refreshIntervalMs } = this.config;
    const headers: Record<string, string> = {
      accept: 'application/json',
      'user-agent': `fleet-agent/${AGENT_VERSION}`,
      'x-prometheus-refresh-interval-seconds': String(refreshIntervalMs / 1000),
    };
    const auth = authorizationHeader(this.config);
    if (auth) headers.authorization = auth;
    const res = await request(url, {
      method: 'GET',
      headers,
      dispatcher: this.dispatcher,
      signal: AbortSignal.any([this.abort.signal, AbortSignal.timeout(refreshIntervalMs)]),
    });
    if (res.statusCode !== 200) {
      await res.body.dump().catch(() => undefined);
      throw new Error(`server returned HTTP status ${statusText(res.statusCode)}`);
    }
    const rawType = res.headers['content-type'];
    const contentType = (Array.isArray(rawType) ? rawType[0] : rawType) ?? '';
    if (!JSON_CONTENT_TYPE.test(contentType.trim())) {
      await res.body.dump().catch(() => undefined);
      throw new Error(`unsupported content type ${JSON.stringify(contentType)}`);
    }
    const body = await readBounded(res.body, HTTP_SD_MAX_BODY);
    let raw: unknown;
    try {
      raw = JSON.parse(body.toString('utf8'));
    } catch (err) {
      throw new Error(`invalid JSON: ${(err as Error).message}`, { cause: err });
    }
    return parseTargetList(raw).map((g, i) => ({ source: `${url}:${i}`, targets: g.targets, labels: { ...g.labels, __meta_url: url } }));
  }
}

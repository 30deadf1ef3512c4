import { classifyNetworkError, classifyResponse, type ClassifiedError, type ClockOffset, type ManagedCredentials, type RequestSigner } from '@fleet/aws';
import type { RemoteWriteConfig } from '@fleet/pipeline';
import { request, type Dispatcher } from 'undici';
import { authorizationHeader } from './http.js';
import { compressSnappy } from './snappy.js';

/** Why samples were given up on; the `reason` label of `samples_dropped_total`. */
export type DropReason = 'http_4xx' | 'http_429' | 'wal_full' | 'too_old' | 'write_relabel' | 'invalid_labels';

/** The result of one attempt to send a batch. */
export type SendOutcome =
  | { ok: true; status: number }
  | {
      ok: false;
      /** Try again after a backoff (data stays queued). */
      retryable: boolean;
      /** Server-requested delay (429 `Retry-After`), in ms. */
      retryAfterMs?: number | undefined;
      /** Counted under this reason when not retryable. */
      dropReason?: DropReason | undefined;
      status: number | null;
      error: ClassifiedError;
    };

/** Sends one encoded `WriteRequest` (protobuf, uncompressed) to a destination. */
export interface WriteClient {
  send(writeRequest: Uint8Array): Promise<SendOutcome>;
}

/** Parses `Retry-After` (seconds or an HTTP date) into ms from now. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/**
 * Remote-write 1.0 client: snappy block compression, the spec's headers, optional SigV4
 * signing (last, after every header is final), clock-skew learning from `Date`, and
 * classification of every failure. On a 403 for an expired or invalid token it refreshes the
 * credentials and reports the attempt as retryable; on a skew rejection it applies the
 * measured clock offset and retries.
 */
export class RemoteWriteClient implements WriteClient {
  private readonly url: URL;

  constructor(
    private readonly config: RemoteWriteConfig,
    private readonly deps: {
      userAgent: string;
      dispatcher: Dispatcher;
      signer?: RequestSigner | undefined;
      credentials?: ManagedCredentials | undefined;
      clock?: ClockOffset | undefined;
    },
  ) {
    this.url = new URL(config.url);
  }

  async send(writeRequest: Uint8Array): Promise<SendOutcome> {
    const body = compressSnappy(writeRequest);
    let headers: Record<string, string> = {
      ...this.config.headers,
      'content-encoding': 'snappy',
      'content-type': 'application/x-protobuf',
      'user-agent': this.deps.userAgent,
      'x-prometheus-remote-write-version': '0.1.0',
    };
    const auth = authorizationHeader(this.config);
    if (auth) headers.authorization = auth;
    try {
      if (this.deps.signer) headers = await this.deps.signer.sign({ method: 'POST', url: this.url, headers, body });
    } catch (err) {
      return { ok: false, retryable: true, status: null, error: classifyNetworkError(err) };
    }
    const sentAt = Date.now();
    let status: number;
    let responseHeaders: Record<string, string | string[] | undefined>;
    let text: string;
    try {
      const res = await request(this.url, {
        method: 'POST',
        headers,
        body,
        dispatcher: this.deps.dispatcher,
        headersTimeout: this.config.remoteTimeoutMs,
        bodyTimeout: this.config.remoteTimeoutMs,
        signal: AbortSignal.timeout(this.config.remoteTimeoutMs),
      });
      status = res.statusCode;
      responseHeaders = res.headers;
      text = status >= 200 && status < 300 ? (await res.body.dump(), '') : (await res.body.text()).slice(0, 4096);
    } catch (err) {
      return { ok: false, retryable: true, status: null, error: classifyNetworkError(err) };
    }
    const header = (name: string) => {
      const v = responseHeaders[name];
      return Array.isArray(v) ? v[0] : v;
    };
    this.deps.clock?.observe(header('date'), sentAt);
    if (status >= 200 && status < 300) return { ok: true, status };
    const flat: Record<string, string | undefined> = {};
    for (const k of Object.keys(responseHeaders)) flat[k] = header(k);
    const error = classifyResponse(status, flat, text);
    if (status === 429 || error.class === 'throttled') {
      return this.config.queueConfig.retryOnHttp429
        ? { ok: false, retryable: true, retryAfterMs: parseRetryAfter(header('retry-after')), status, error }
        : { ok: false, retryable: false, dropReason: 'http_429', status, error };
    }
    if (status >= 500) return { ok: false, retryable: true, status, error };
    if (error.class === 'expired_token' || error.class === 'invalid_token') {
      this.deps.credentials?.invalidate();
      return { ok: false, retryable: true, status, error };
    }
    if (error.class === 'clock_skew') {
      this.deps.clock?.applyMeasured();
      return { ok: false, retryable: true, status, error };
    }
    return { ok: false, retryable: false, dropReason: 'http_4xx', status, error };
  }
}

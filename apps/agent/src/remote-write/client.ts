import { classifyError, classifyNetworkError, classifyResponse, type ClassifiedError, type ClockOffset, type ManagedCredentials, type RequestSigner } from '@fleet/aws';
import type { RemoteWriteConfig } from '@fleet/pipeline';
import { request, type Dispatcher } from 'undici';
import { authorizationHeader } from './http.js';
import { compressSnappy } from './snappy.js';

/** Why samples were given up on; the `reason` label of `samples_dropped_total`. */
export type DropReason = 'http_4xx' | 'http_429' | 'wal_full' | 'too_old' | 'invalid_labels';

/**
 * Where a failed attempt stopped: `credentials` (resolving credentials or signing, before anything
 * was sent), `dns` (resolving the endpoint host), `connect` (TCP), `tls` (handshake), `request`
 * (connected, no answer yet: reset, closed, headers timeout or remote_timeout), `response`
 * (an answer started but could not be read).
 */
export type SendStage = 'credentials' | 'dns' | 'connect' | 'tls' | 'request' | 'response';

/** Facts about a failed attempt beyond its classification, for diagnosis (heartbeat `lastError.detail`). */
export interface SendFailureFacts {
  /** `host:port` of the destination URL (the scheme's default port when the URL names none). */
  endpoint: string;
  /** For failures without an HTTP answer: where the attempt stopped. */
  stage?: SendStage | undefined;
  /** The peer `address:port` the error names, when it names one (for `credentials`, the credential source's). */
  address?: string | undefined;
  /** For timeouts of the whole attempt: the `remote_timeout` that expired (ms). */
  timeoutMs?: number | undefined;
  /** Server time − local time (ms) measured from this answer's `Date` header, when it had one. */
  clockOffsetMs?: number | undefined;
}

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
      /** What is known about the failure beyond its class (stage, endpoint, measured clock offset). */
      facts?: SendFailureFacts | undefined;
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

/** `host:port` of a URL, with the scheme's default port when it names none. */
export function endpointOf(url: URL): string {
  return `${url.hostname}:${url.port || (url.protocol === 'https:' ? '443' : '80')}`;
}

/** Walks an error and its `cause`s (a few levels deep). */
function* causes(err: unknown): Generator<Record<string, unknown>> {
  for (let e: unknown = err, depth = 0; e && typeof e === 'object' && depth < 6; e = (e as { cause?: unknown }).cause, depth++) yield e as Record<string, unknown>;
}

/** The peer `address:port` a system error (or undici's SocketError) names, if any. */
function peerAddress(err: unknown): string | undefined {
  const hostPort = (address: unknown, port: unknown) =>
    typeof address === 'string' && address && (typeof port === 'number' || typeof port === 'string') ? `${address.includes(':') ? `[${address}]` : address}:${port}` : undefined;
  for (const e of causes(err)) {
    const direct = hostPort(e.address, e.port);
    if (direct) return direct;
    const socket = e.socket as { remoteAddress?: unknown; remotePort?: unknown } | undefined;
    const viaSocket = socket && hostPort(socket.remoteAddress, socket.remotePort);
    if (viaSocket) return viaSocket;
  }
  return undefined;
}

/** Where a request that got no (readable) answer stopped, from its classification and the error's syscall. */
function networkStage(err: unknown, error: ClassifiedError, answered: boolean): SendStage {
  if (answered) return 'response';
  const syscalls = [...causes(err)].map((e) => e.syscall);
  if (error.class === 'dns' || syscalls.includes('getaddrinfo')) return 'dns';
  if (error.class === 'tls' || /\b(TLS|SSL)\b|secure TLS connection/i.test(error.message)) return 'tls';
  if (syscalls.includes('connect') || /^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT_TIMEOUT)$/.test(error.code ?? '')) return 'connect';
  if (error.code === 'UND_ERR_BODY_TIMEOUT') return 'response';
  return 'request';
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
  private readonly endpoint: string;

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
    this.endpoint = endpointOf(this.url);
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
      // Credentials could not be resolved (or assumed): an STS answer is classified by its code.
      const address = peerAddress(err);
      return { ok: false, retryable: true, status: null, error: classifyError(err), facts: { endpoint: this.endpoint, stage: 'credentials', ...(address ? { address } : {}) } };
    }
    const sentAt = Date.now();
    let answered = false;
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
      answered = true;
      text = status >= 200 && status < 300 ? (await res.body.dump(), '') : (await res.body.text()).slice(0, 4096);
    } catch (err) {
      const error = classifyNetworkError(err);
      const stage = networkStage(err, error, answered);
      const address = peerAddress(err);
      const whole = error.code === 'TimeoutError' || error.code === 'ABORT_ERR';
      const facts: SendFailureFacts = { endpoint: this.endpoint, stage, ...(address ? { address } : {}), ...(whole ? { timeoutMs: this.config.remoteTimeoutMs } : {}) };
      return { ok: false, retryable: true, status: null, error, facts };
    }
    const header = (name: string) => {
      const v = responseHeaders[name];
      return Array.isArray(v) ? v[0] : v;
    };
    const date = header('date');
    this.deps.clock?.observe(date, sentAt);
    if (status >= 200 && status < 300) return { ok: true, status };
    const flat: Record<string, string | undefined> = {};
    for (const k of Object.keys(responseHeaders)) flat[k] = header(k);
    const error = classifyResponse(status, flat, text);
    const measured = this.deps.clock && date && !Number.isNaN(Date.parse(date));
    const facts: SendFailureFacts = { endpoint: this.endpoint, ...(measured ? { clockOffsetMs: this.deps.clock!.offsetMs } : {}) };
    if (status === 429 || error.class === 'throttled') {
      return this.config.queueConfig.retryOnHttp429
        ? { ok: false, retryable: true, retryAfterMs: parseRetryAfter(header('retry-after')), status, error, facts }
        : { ok: false, retryable: false, dropReason: 'http_429', status, error, facts };
    }
    if (status >= 500) return { ok: false, retryable: true, status, error, facts };
    if (error.class === 'expired_token' || error.class === 'invalid_token') {
      this.deps.credentials?.invalidate();
      return { ok: false, retryable: true, status, error, facts };
    }
    if (error.class === 'clock_skew') {
      this.deps.clock?.applyMeasured();
      return { ok: false, retryable: true, status, error, facts };
    }
    return { ok: false, retryable: false, dropReason: 'http_4xx', status, error, facts };
  }
}

/**
 * A fake Amazon Managed Service for Prometheus remote-write endpoint: it verifies SigV4 (service
 * `aps`) with the independent verifier, enforces the remote-write 1.0 headers, snappy-decodes and
 * protobuf-decodes the body, validates the series like AMP (Cortex) does, and records everything.
 * Faults can be queued, and accepted requests can be forwarded to a real Prometheus.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { uncompress } from 'snappyjs';
import type { CredentialLookup, Identity } from './credentials.js';
import { applyFault, listenLoopback, readBody, requestId, waitUntil, type HttpFault } from './http.js';
import { decodeWriteRequest, ProtobufError, type Label, type Sample, type WriteRequest } from './remote-write-proto.js';
import { verifySigV4, type SigV4FailureReason } from './sigv4.js';

/** Options of {@link startRemoteWriteReceiver}. */
export interface RemoteWriteReceiverOptions {
  /** Where signing keys are looked up (the shared {@link CredentialAuthority}). */
  credentials: CredentialLookup;
  /** Region the workspace lives in; the signature's scope must name it (default `us-east-1`). */
  region?: string;
  /** Workspace id (default `ws-` + random hex), as in `/workspaces/<id>/api/v1/remote_write`. */
  workspaceId?: string;
  /** The receiver's clock (default `Date.now`); see also {@link RemoteWriteReceiver.clockOffsetMs}. */
  now?: () => number;
  /** Verify SigV4 (default true). */
  verifySignature?: boolean;
  /** Forward accepted requests to this URL (e.g. a real Prometheus `http://127.0.0.1:9090/api/v1/write`). */
  upstreamUrl?: string;
  /** Status of a successful write (default 200, as AMP). */
  successStatus?: number;
  /** Reject label names outside `[a-zA-Z_][a-zA-Z0-9_]*` like Cortex (default true). */
  legacyLabelNames?: boolean;
  /** Largest accepted compressed body (default 64 MiB). */
  maxBodyBytes?: number;
  /** Account that owns the workspace, as named in its ARN (default: the account of whoever signed). */
  accountId?: string;
}

/** Why a request was not accepted. */
export type RemoteWriteRejectReason =
  | SigV4FailureReason
  | 'not-found'
  | 'method-not-allowed'
  | 'body-too-large'
  | 'missing-content-encoding'
  | 'missing-content-type'
  | 'missing-version'
  | 'unsupported-media-type'
  | 'bad-snappy'
  | 'bad-protobuf'
  | 'missing-metric-name'
  | 'invalid-label-name'
  | 'empty-label-name'
  | 'empty-label-value'
  | 'unsorted-labels'
  | 'duplicate-label'
  | 'access-denied'
  | 'upstream';

/** A fault for the next request (see {@link HttpFault}); a faulted request is never accepted. */
export type RemoteWriteFault = HttpFault;

/** One accepted series, as decoded. */
export interface AcceptedSeries {
  /** Labels as a record (convenient for `toMatchObject`). */
  labels: Record<string, string>;
  /** Labels in wire order. */
  labelPairs: Label[];
  /** Samples, each with its raw bits and stale flag. */
  samples: Sample[];
  /** Index into {@link RemoteWriteReceiver.requests}. */
  requestIndex: number;
  /** The key that signed the request (undefined when verification is off). */
  accessKeyId?: string;
}

/** One received request and what became of it. */
export interface ReceivedRequest {
  index: number;
  at: Date;
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  bodyBytes: number;
  status: number;
  outcome: 'accepted' | 'rejected' | 'fault';
  reason?: RemoteWriteRejectReason;
  /** AWS error code sent (auth failures and coded faults). */
  code?: string;
  message?: string;
  accessKeyId?: string;
  /** ARN of the identity that signed it. */
  callerArn?: string;
  seriesCount: number;
  sampleCount: number;
  fault?: RemoteWriteFault;
}

/** Running totals. */
export interface RemoteWriteCounters {
  requests: number;
  acceptedRequests: number;
  acceptedSeries: number;
  acceptedSamples: number;
  acceptedStaleMarkers: number;
  faulted: number;
  rejected: Partial<Record<RemoteWriteRejectReason, number>>;
}

/** A running receiver. */
export interface RemoteWriteReceiver {
  /** The full remote-write URL: `http://127.0.0.1:PORT/workspaces/<id>/api/v1/remote_write`. */
  url: string;
  /** `http://127.0.0.1:PORT`. */
  baseUrl: string;
  workspaceId: string;
  region: string;
  /** Every accepted series, in arrival order. */
  accepted: AcceptedSeries[];
  /** Every request, in arrival order. */
  requests: ReceivedRequest[];
  /** Queue of faults, one consumed per request before anything else: `faults.push({ status: 500 })`. */
  faults: RemoteWriteFault[];
  counters: RemoteWriteCounters;
  /** Headers of the last request received (any outcome). */
  lastHeaders: IncomingHttpHeaders | undefined;
  /** Added to the receiver's clock; e.g. `+6 * 60_000` makes every fresh signature look 6 minutes old. */
  clockOffsetMs: number;
  /**
   * IAM of the workspace: called for every request whose signature checks out, with who signed
   * it; `false` answers 403 `AccessDeniedException` naming the caller, `aps:RemoteWrite` and
   * the workspace ARN, as AMP does when no policy allows the write. Unset: everyone is allowed.
   * Unlike a queued fault it holds for every request until changed.
   */
  authorize: ((caller: Identity) => boolean) | undefined;
  /** `arn:aws:aps:<region>:<account>:workspace/<id>` of this receiver's workspace (account: `accountId`, else the caller's). */
  workspaceArn(accountId?: string): string;
  /** Accepted samples flattened, optionally only of series whose `__name__` is `metricName`. */
  samples(metricName?: string): Array<{ labels: Record<string, string>; sample: Sample }>;
  /** Resolves once `predicate()` holds (polling), rejects after `timeoutMs` (default 10 s). */
  waitFor(predicate: () => boolean, timeoutMs?: number): Promise<void>;
  /** Resolves once at least `n` samples have been accepted in total. */
  waitForSamples(n: number, timeoutMs?: number): Promise<void>;
  /** Forgets recorded requests, series, counters and pending faults. */
  reset(): void;
  /** Stops the server and drops its connections. */
  close(): Promise<void>;
}

const LEGACY_LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

const DEFAULT_FAULT_MESSAGES: Record<string, string> = {
  ExpiredTokenException: 'The security token included in the request is expired',
  UnrecognizedClientException: 'The security token included in the request is invalid.',
  InvalidSignatureException:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
  AccessDeniedException: 'User is not authorized to perform: aps:RemoteWrite',
  ThrottlingException: 'Rate exceeded',
  ServiceQuotaExceededException: 'Limit exceeded',
  ValidationException: 'Validation failed',
  InternalServerException: 'Internal server error',
  ResourceNotFoundException: 'Workspace not found',
};

function formatSeries(labels: readonly Label[]): string {
  const name = labels.find((l) => l.name === '__name__')?.value ?? '';
  return `${name}{${labels
    .filter((l) => l.name !== '__name__')
    .map((l) => `${l.name}=${JSON.stringify(l.value)}`)
    .join(', ')}}`;
}

/** Cortex-style validation of one series; null if fine. */
function validateSeries(labels: readonly Label[], legacyNames: boolean): { reason: RemoteWriteRejectReason; message: string } | null {
  const series = formatSeries(labels);
  for (let i = 0; i < labels.length; i++) {
    const { name, value } = labels[i]!;
    if (name === '') return { reason: 'empty-label-name', message: `series has an empty label name: ${series}` };
    if (value === '') return { reason: 'empty-label-value', message: `label ${JSON.stringify(name)} has an empty value: ${series}` };
    if (legacyNames && !LEGACY_LABEL_NAME.test(name)) return { reason: 'invalid-label-name', message: `sample invalid label: ${JSON.stringify(name)} metric ${JSON.stringify(series)}` };
    if (i > 0) {
      const prev = labels[i - 1]!.name;
      if (prev === name) return { reason: 'duplicate-label', message: `duplicate label name: ${JSON.stringify(name)} metric ${JSON.stringify(series)}` };
      if (prev > name) return { reason: 'unsorted-labels', message: `labels not sorted by name: ${JSON.stringify(prev)} before ${JSON.stringify(name)} in ${JSON.stringify(series)}` };
    }
  }
  if (!labels.some((l) => l.name === '__name__')) return { reason: 'missing-metric-name', message: `sample missing metric name: ${series}` };
  return null;
}

/** Starts a receiver on 127.0.0.1 (random port). */
export async function startRemoteWriteReceiver(options: RemoteWriteReceiverOptions): Promise<RemoteWriteReceiver> {
  const region = options.region ?? 'us-east-1';
  const workspaceId = options.workspaceId ?? `ws-${randomBytes(16).toString('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5')}`;
  const path = `/workspaces/${workspaceId}/api/v1/remote_write`;
  const baseNow = options.now ?? Date.now;
  const verify = options.verifySignature ?? true;
  const legacyNames = options.legacyLabelNames ?? true;
  const successStatus = options.successStatus ?? 200;
  const freshCounters = (): RemoteWriteCounters => ({
    requests: 0,
    acceptedRequests: 0,
    acceptedSeries: 0,
    acceptedSamples: 0,
    acceptedStaleMarkers: 0,
    faulted: 0,
    rejected: {},
  });

  const receiver: Omit<RemoteWriteReceiver, 'url' | 'baseUrl' | 'close'> = {
    workspaceId,
    region,
    accepted: [],
    requests: [],
    faults: [],
    counters: freshCounters(),
    lastHeaders: undefined,
    clockOffsetMs: 0,
    authorize: undefined,
    workspaceArn(accountId) {
      const account = options.accountId ?? accountId ?? '';
      const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
      return `arn:${partition}:aps:${region}:${account}:workspace/${workspaceId}`;
    },
    samples(metricName) {
      return receiver.accepted
        .filter((s) => metricName === undefined || s.labels.__name__ === metricName)
        .flatMap((s) => s.samples.map((sample) => ({ labels: s.labels, sample })));
    },
    waitFor(predicate, timeoutMs = 10_000) {
      return waitUntil(predicate, timeoutMs, 'remote-write receiver condition');
    },
    waitForSamples(n, timeoutMs = 10_000) {
      return waitUntil(() => receiver.counters.acceptedSamples >= n, timeoutMs, `${n} accepted samples (have ${receiver.counters.acceptedSamples})`);
    },
    reset() {
      receiver.accepted.length = 0;
      receiver.requests.length = 0;
      receiver.faults.length = 0;
      receiver.counters = freshCounters();
      receiver.lastHeaders = undefined;
    },
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const record: ReceivedRequest = {
      index: receiver.requests.length,
      at: new Date(),
      method: req.method ?? '',
      url: req.url ?? '',
      headers: req.headers,
      bodyBytes: 0,
      status: 0,
      outcome: 'rejected',
      seriesCount: 0,
      sampleCount: 0,
    };
    receiver.requests.push(record);
    receiver.counters.requests++;
    receiver.lastHeaders = req.headers;
    const amznRequestId = requestId();
    res.setHeader('x-amzn-RequestId', amznRequestId);
    // Like AWS, always send Date, from the receiver's (possibly skewed) clock: SDKs correct skew from it.
    res.setHeader('date', new Date(baseNow() + receiver.clockOffsetMs).toUTCString());

    const reject = (status: number, reason: RemoteWriteRejectReason, message: string, code?: string): void => {
      record.status = status;
      record.outcome = 'rejected';
      record.reason = reason;
      record.message = message;
      if (code) record.code = code;
      receiver.counters.rejected[reason] = (receiver.counters.rejected[reason] ?? 0) + 1;
      if (code) {
        // AMP answers auth errors as JSON with the code in x-amzn-ErrorType.
        res.writeHead(status, { 'content-type': 'application/json', 'x-amzn-ErrorType': code });
        res.end(JSON.stringify({ message }));
      } else {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(`${message}\n`);
      }
    };

    const faulted = await applyFault(receiver.faults, res, (f) => ({
      contentType: 'application/json',
      body: JSON.stringify({ message: f.message ?? DEFAULT_FAULT_MESSAGES[f.code] ?? f.code }),
      headers: { 'x-amzn-ErrorType': f.code },
    }));
    if (faulted.fault) record.fault = faulted.fault;
    if (faulted.outcome === 'answered') {
      record.outcome = 'fault';
      record.status = faulted.fault?.destroy ? 0 : (faulted.fault?.status ?? 0);
      if (faulted.fault?.code) record.code = faulted.fault.code;
      receiver.counters.faulted++;
      // Drain the body so keep-alive connections stay usable.
      req.resume();
      return;
    }

    const pathname = (req.url ?? '').split('?')[0];
    if (pathname !== path) {
      req.resume();
      return reject(404, 'not-found', `Workspace or path not found: ${pathname}`, 'ResourceNotFoundException');
    }
    if (req.method !== 'POST') {
      req.resume();
      res.setHeader('allow', 'POST');
      return reject(405, 'method-not-allowed', `method ${req.method} not allowed`);
    }
    let body: Buffer;
    try {
      body = await readBody(req, options.maxBodyBytes ?? 64 * 1024 * 1024);
    } catch (err) {
      return reject(413, 'body-too-large', err instanceof Error ? err.message : String(err));
    }
    record.bodyBytes = body.length;

    if (verify) {
      const result = verifySigV4(
        { method: req.method, url: req.url ?? '', headers: req.rawHeaders, body },
        { credentials: options.credentials, region, service: 'aps', flavor: 'json', now: () => baseNow() + receiver.clockOffsetMs },
      );
      if (!result.ok) {
        if (result.accessKeyId) record.accessKeyId = result.accessKeyId;
        return reject(result.status, result.reason, result.message, result.code);
      }
      record.accessKeyId = result.accessKeyId;
      record.callerArn = result.credentials.identity.arn;
      const caller = result.credentials.identity;
      if (receiver.authorize && !receiver.authorize(caller)) {
        return reject(
          403,
          'access-denied',
          `User: ${caller.arn} is not authorized to perform: aps:RemoteWrite on resource: ${receiver.workspaceArn(caller.account)} because no identity-based policy allows the aps:RemoteWrite action`,
          'AccessDeniedException',
        );
      }
    }

    const encoding = req.headers['content-encoding'];
    if (!encoding) return reject(400, 'missing-content-encoding', 'missing Content-Encoding header: remote write 1.0 requires "Content-Encoding: snappy"');
    if (encoding.trim().toLowerCase() !== 'snappy') return reject(415, 'unsupported-media-type', `unsupported Content-Encoding ${JSON.stringify(encoding)}: only snappy is supported`);
    const contentType = req.headers['content-type'];
    if (!contentType) return reject(400, 'missing-content-type', 'missing Content-Type header: remote write 1.0 requires "Content-Type: application/x-protobuf"');
    const [mediaType, ...params] = contentType.split(';').map((p) => p.trim());
    const proto = params.find((p) => p.toLowerCase().startsWith('proto='))?.slice(6);
    if (mediaType?.toLowerCase() !== 'application/x-protobuf' || (proto !== undefined && proto !== 'prometheus.WriteRequest')) {
      return reject(415, 'unsupported-media-type', `unsupported Content-Type ${JSON.stringify(contentType)}: expected application/x-protobuf (prometheus.WriteRequest)`);
    }
    const versionHeader = req.headers['x-prometheus-remote-write-version'];
    const version = Array.isArray(versionHeader) ? versionHeader.join(', ') : versionHeader;
    if (!version) return reject(400, 'missing-version', 'missing X-Prometheus-Remote-Write-Version header: remote write 1.0 requires "0.1.0"');
    if (version.trim() !== '0.1.0') return reject(400, 'missing-version', `unsupported X-Prometheus-Remote-Write-Version ${JSON.stringify(version)}: expected 0.1.0`);

    let raw: Uint8Array;
    try {
      raw = uncompress(new Uint8Array(body.buffer, body.byteOffset, body.byteLength));
    } catch (err) {
      return reject(400, 'bad-snappy', `snappy: corrupt input (block format expected): ${err instanceof Error ? err.message : String(err)}`);
    }
    let decoded: WriteRequest;
    try {
      decoded = decodeWriteRequest(raw);
    } catch (err) {
      if (err instanceof ProtobufError) return reject(400, 'bad-protobuf', `proto: cannot decode prometheus.WriteRequest: ${err.message}`);
      throw err;
    }
    for (const ts of decoded.timeseries) {
      const problem = validateSeries(ts.labels, legacyNames);
      if (problem) return reject(400, problem.reason, problem.message);
    }
    record.seriesCount = decoded.timeseries.length;
    record.sampleCount = decoded.timeseries.reduce((n, ts) => n + ts.samples.length, 0);

    if (options.upstreamUrl) {
      const forwardHeaders: Record<string, string> = {
        'content-encoding': encoding,
        'content-type': contentType,
        'x-prometheus-remote-write-version': version,
      };
      const ua = req.headers['user-agent'];
      if (ua) forwardHeaders['user-agent'] = ua;
      let upstream: Response;
      try {
        upstream = await fetch(options.upstreamUrl, { method: 'POST', headers: forwardHeaders, body });
      } catch (err) {
        return reject(502, 'upstream', `upstream ${options.upstreamUrl} unreachable: ${err instanceof Error ? err.message : String(err)}`);
      }
      const upstreamBody = await upstream.text();
      if (upstream.status < 200 || upstream.status > 299) {
        record.status = upstream.status;
        record.reason = 'upstream';
        record.message = upstreamBody;
        receiver.counters.rejected.upstream = (receiver.counters.rejected.upstream ?? 0) + 1;
        res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'text/plain; charset=utf-8' });
        res.end(upstreamBody);
        return;
      }
    }

    for (const ts of decoded.timeseries) {
      const series: AcceptedSeries = {
        labels: Object.fromEntries(ts.labels.map((l) => [l.name, l.value])),
        labelPairs: ts.labels,
        samples: ts.samples,
        requestIndex: record.index,
      };
      if (record.accessKeyId) series.accessKeyId = record.accessKeyId;
      receiver.accepted.push(series);
      receiver.counters.acceptedSamples += ts.samples.length;
      receiver.counters.acceptedStaleMarkers += ts.samples.filter((s) => s.stale).length;
    }
    receiver.counters.acceptedSeries += decoded.timeseries.length;
    receiver.counters.acceptedRequests++;
    record.outcome = 'accepted';
    record.status = successStatus;
    res.writeHead(successStatus);
    res.end();
  }

  const listening = await listenLoopback(handle);
  return Object.assign(receiver, { url: `${listening.url}${path}`, baseUrl: listening.url, close: listening.close });
}

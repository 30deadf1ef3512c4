/**
 * Plumbing shared by the fake AWS servers: loopback listening with a `close()` that also drops
 * keep-alive connections, body reading, and the fault-injection queue every fake exposes.
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * One injected fault, consumed by exactly one request before it is processed. With only `delayMs`
 * the request is then processed normally; with `status` it is answered with that status (and, if
 * `code` is set, an error body in the service's own format) and otherwise ignored; with `destroy`
 * the connection is dropped without an answer.
 */
export interface HttpFault {
  /** Wait this long first (ms). */
  delayMs?: number;
  /** Answer with this status instead of processing. */
  status?: number;
  /** Raw response body (overrides the rendered error). */
  body?: string;
  /** `Retry-After` header value, e.g. `"2"` or an HTTP date. */
  retryAfter?: string;
  /** AWS error code, e.g. `ExpiredTokenException`, `ThrottlingException`, `AccessDenied`. */
  code?: string;
  /** Error message to go with `code`. */
  message?: string;
  /** Extra response headers. */
  headers?: Record<string, string>;
  /** Drop the TCP connection without answering (after `delayMs`). */
  destroy?: boolean;
}

/** A listening loopback server. */
export interface Listening {
  server: Server;
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  url: string;
  port: number;
  /** Stops listening and destroys every open connection. Idempotent. */
  close(): Promise<void>;
}

/** Request handler of a fake; a thrown error becomes a 500. */
export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<void> | void;

/** Listens on 127.0.0.1, port 0 (never any other interface). */
export async function listenLoopback(handler: Handler): Promise<Listening> {
  const server = createServer((req, res) => {
    Promise.resolve()
      .then(() => handler(req, res))
      .catch((err: unknown) => {
        if (!res.headersSent) {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(`fake server error: ${err instanceof Error ? err.message : String(err)}`);
        } else res.destroy();
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    close() {
      closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

/** Reads the whole body; rejects past `limit` bytes. */
export async function readBody(req: IncomingMessage, limit = 64 * 1024 * 1024): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limit) throw new Error(`request body larger than ${limit} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** An AWS-style request id. */
export function requestId(): string {
  return randomUUID();
}

/**
 * Applies the next queued fault, if any. Returns `'answered'` when the request must not be
 * processed further, `'continue'` otherwise (no fault, or a delay-only fault).
 */
export async function applyFault(
  faults: HttpFault[],
  res: ServerResponse,
  renderError: (fault: HttpFault & { code: string }) => { contentType: string; body: string; headers?: Record<string, string> },
): Promise<{ outcome: 'answered' | 'continue'; fault?: HttpFault }> {
  const fault = faults.shift();
  if (!fault) return { outcome: 'continue' };
  if (fault.delayMs) await sleep(fault.delayMs);
  if (fault.destroy) {
    res.socket?.destroy();
    return { outcome: 'answered', fault };
  }
  if (fault.status === undefined) return { outcome: 'continue', fault };
  const headers: Record<string, string> = { ...fault.headers };
  if (fault.retryAfter !== undefined) headers['retry-after'] = fault.retryAfter;
  let body = fault.body ?? '';
  if (fault.body === undefined && fault.code) {
    const rendered = renderError({ ...fault, code: fault.code });
    body = rendered.body;
    headers['content-type'] = rendered.contentType;
    Object.assign(headers, rendered.headers);
  } else if (fault.body !== undefined) headers['content-type'] ??= 'text/plain; charset=utf-8';
  res.writeHead(fault.status, headers);
  res.end(body);
  return { outcome: 'answered', fault };
}

/** Polls `predicate` every 20 ms until it returns true; rejects with `what` after `timeoutMs`. */
export async function waitUntil(predicate: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

import { IncomingMessage, type ServerResponse } from 'node:http';

/** Largest request body per route, in bytes (answers above it are 413). */
export const BODY_LIMITS = {
  /** tRPC: pipeline sources are at most 512 KiB of YAML, JSON-encoded in a batch. */
  trpc: 1024 * 1024,
  /** better-auth: e-mail, password, names. */
  auth: 64 * 1024,
  /** Agent gateway HTTP: enrollment with an identity proof (the gateway's own limit is the same). */
  agent: 64 * 1024,
  /** Everything else (the UI takes no request bodies of its own). */
  other: 64 * 1024,
} as const;

/** The body limit of the route `pathname` belongs to. */
export function bodyLimitFor(pathname: string): number {
  if (pathname === '/api/trpc' || pathname.startsWith('/api/trpc/')) return BODY_LIMITS.trpc;
  if (pathname.startsWith('/api/auth/')) return BODY_LIMITS.auth;
  if (pathname.startsWith('/agent/v1/')) return BODY_LIMITS.agent;
  return BODY_LIMITS.other;
}

/** `1 MiB`, `64 KiB`, `300 bytes`. */
export function formatBytes(n: number): string {
  if (n >= 1024 * 1024 && n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

/** How long a refused sender may go on writing (discarded) after the 413, so that it can read it. */
const LINGER_MS = 5000;

function tooLarge(req: IncomingMessage, res: ServerResponse, limit: number): void {
  if (res.headersSent) return void res.destroy();
  const text = JSON.stringify({ error: `request body too large: this endpoint accepts at most ${formatBytes(limit)} (${limit} bytes)`, limitBytes: limit });
  res.writeHead(413, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
  // Then a lingering close: our side of the connection ends once the answer is out, and what the
  // client still sends is read and dropped (never held) until it stops or LINGER_MS passes.
  // Closing outright — what Node does for `Connection: close` — resets a connection the client
  // is still sending on, and the client loses the answer.
  const socket = req.socket;
  socket.destroySoon = () => {
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  };
  res.end(text, () => socket.destroySoon());
}

/** A request that carries a body (a length above 0, or chunked). */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A stand-in for `req` whose body is `body` (already read): same headers, URL, method and socket. */
function replay(req: IncomingMessage, body: Buffer): IncomingMessage {
  const copy = new IncomingMessage(req.socket);
  copy.method = req.method;
  copy.url = req.url;
  copy.headers = req.headers;
  copy.rawHeaders = req.rawHeaders;
  copy.trailers = req.trailers;
  copy.rawTrailers = req.rawTrailers;
  copy.httpVersion = req.httpVersion;
  copy.httpVersionMajor = req.httpVersionMajor;
  copy.httpVersionMinor = req.httpVersionMinor;
  copy.complete = true;
  // Everything is pushed now; reading must not resume the socket the real request came on.
  copy._read = () => undefined;
  if (body.length > 0) copy.push(body);
  copy.push(null);
  return copy;
}

/**
 * Reads the body of `req` up to `limit` bytes before any handler sees it, so that no route can
 * be made to hold more: a `Content-Length` above the limit is refused at once, unread; a chunked
 * body is refused as soon as it passes the limit. Refusals answer 413 with a JSON `error` naming
 * the limit (and `limitBytes`) and close the connection (the rest of the body is dropped, unread).
 *
 * Resolves to the request to hand on — `req` itself when it has no body, otherwise a stand-in
 * carrying the body read — or `null` when the request was answered (413) or the client went away.
 */
export async function limitBody(req: IncomingMessage, res: ServerResponse, limit: number): Promise<IncomingMessage | null> {
  if (!hasBody(req)) return req;
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) {
    tooLarge(req, res, limit);
    return null;
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (value: IncomingMessage | null) => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
      resolve(value);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        chunks.length = 0;
        tooLarge(req, res, limit);
        done(null);
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done(replay(req, Buffer.concat(chunks, size)));
    const onAbort = () => done(null);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
  });
}

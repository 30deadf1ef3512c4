import http from 'node:http';
import https from 'node:https';
import { appRouter } from '@fleet/api';
import { authRequestHandler, CLIENT_IP_HEADER, getSystemStatus, requestUser, type Auth } from '@fleet/core';
import type { DatabaseHandle } from '@fleet/db';
import { createGatewayHttpHandler, type AgentChannel } from '@fleet/gateway';
import type { Duplex } from 'node:stream';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import { bodyLimitFor, limitBody, BODY_LIMITS } from './body-limit.js';
import { clientAddress, NO_TRUSTED_PROXIES, type TrustedProxies } from './client-ip.js';
import type { Logger } from './logger.js';
import { originProblem } from './origin-check.js';
import { applySecurityHeaders } from './security-headers.js';

/** Most calls one tRPC batch may hold (the UI's batch link sends at most as many). */
export const MAX_BATCH_SIZE = 25;

/** Serves one HTTP request that no other route took (the Next.js UI in production). */
export type RequestListener = (req: http.IncomingMessage, res: http.ServerResponse) => Promise<void> | void;

/** What the HTTP front of the control plane needs. */
export interface ControlPlaneServerOptions {
  database: DatabaseHandle;
  logger: Logger;
  version: string;
  /** Renders the UI. Without it, unknown paths answer 404 (API-only tests). */
  ui?: RequestListener | undefined;
  /** Operators' authentication, once configured (until then auth routes answer 503). */
  auth: () => Auth | null;
  /** STS endpoints identity proofs may be forwarded to (default the real AWS ones). */
  stsEndpoints?: readonly string[] | undefined;
  /** The agent WebSocket channel (`/agent/v1/ws`). */
  channel?: AgentChannel | undefined;
  /** Other WebSocket upgrades (Next.js dev reloads); without it they are refused. */
  uiUpgrade?: ((req: http.IncomingMessage, socket: Duplex, head: Buffer) => void) | undefined;
  /** Proxies whose `X-Forwarded-For` names the client (`TRUSTED_PROXIES`); default none. */
  trustedProxies?: TrustedProxies | undefined;
  /**
   * Origins whose signed-in requests may change state (the control plane's own and
   * `TRUSTED_ORIGINS`; the same list better-auth trusts); read per request (known after listen).
   */
  trustedOrigins?: (() => readonly string[]) | undefined;
  /** Serve HTTPS with this certificate and key (PEM) instead of plain HTTP. */
  tls?: { cert: Buffer | string; key: Buffer | string } | undefined;
  /** Next.js development mode (its pages need `'unsafe-eval'` in the CSP). */
  dev?: boolean | undefined;
}

/** The HTTP(S) server plus a switch that makes `/readyz` fail while shutting down. */
export interface ControlPlaneServer {
  server: http.Server | https.Server;
  /** Marks the process as draining: `/readyz` answers 503 from now on. */
  drain(): void;
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'cache-control': 'no-store',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

/** An error answer in tRPC's JSON envelope, so the tRPC client shows its message. */
function sendTrpcError(res: http.ServerResponse, status: number, code: 'BAD_REQUEST' | 'FORBIDDEN', message: string): void {
  sendJson(res, status, { error: { message, code: code === 'FORBIDDEN' ? -32003 : -32600, data: { code, httpStatus: status } } });
}

/** Calls in a tRPC request (`a.b,c.d?batch=1` → 2). */
function trpcCalls(url: string | undefined, pathname: string): number {
  const batch = new URLSearchParams((url ?? '').split('?')[1] ?? '').get('batch') === '1';
  return batch ? pathname.slice('/api/trpc/'.length).split(',').length : 1;
}

/**
 * Routes of the one control-plane process:
 * `/healthz` (liveness), `/readyz` (database reachable and migrated), `/api/trpc/*` (API),
 * `/api/auth/*` (better-auth), `/agent/v1/*` (agent gateway: enrollment, and the WebSocket at
 * `/agent/v1/ws`) and everything else to the UI.
 *
 * In front of every route: the client's address (the socket peer, or `X-Forwarded-For` from a
 * trusted proxy) stamped into `x-fleet-client-ip` and passed on as `sourceIp`; security headers
 * (see `applySecurityHeaders`); request bodies read up to the route's limit (`BODY_LIMITS`, 413
 * above it); tRPC batches of at most {@link MAX_BATCH_SIZE} calls; and signed-in tRPC requests
 * that change state only from a trusted origin (403 otherwise, see `originProblem`).
 */
export function createControlPlaneServer(options: ControlPlaneServerOptions): ControlPlaneServer {
  const { database, logger, version, ui } = options;
  const trustedProxies = options.trustedProxies ?? NO_TRUSTED_PROXIES;
  const trustedOrigins = options.trustedOrigins ?? (() => []);
  let draining = false;
  let authHandler: { auth: Auth; handle: RequestListener } | null = null;
  const gateway = createGatewayHttpHandler({ database, log: (level, msg, fields) => logger[level](fields ?? {}, msg), stsEndpoints: options.stsEndpoints });
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/api/trpc/',
    // Large inputs (pipeline documents) go in POST bodies, not URLs.
    allowMethodOverride: true,
    maxBatchSize: MAX_BATCH_SIZE,
    maxBodySize: BODY_LIMITS.trpc,
    createContext: async ({ req }) => {
      const auth = options.auth();
      const sourceIp = req.headers[CLIENT_IP_HEADER];
      return { database, version, auth, user: auth ? await requestUser(auth, req.headers) : null, sourceIp: typeof sourceIp === 'string' ? sourceIp : undefined };
    },
    onError({ error, path }) {
      if (error.code === 'INTERNAL_SERVER_ERROR') logger.error({ err: error, path }, 'tRPC procedure failed');
    },
  });

  const route = async (incoming: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const sourceIp = clientAddress(incoming, trustedProxies);
    incoming.headers[CLIENT_IP_HEADER] = sourceIp;
    const pathname = (incoming.url ?? '/').split('?', 1)[0]!;
    const viaTls = Boolean(options.tls) || (trustedProxies.has(incoming.socket.remoteAddress ?? '') && incoming.headers['x-forwarded-proto'] === 'https');
    applySecurityHeaders(incoming, res, { pathname, tls: viaTls, dev: options.dev ?? false });
    if (pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (pathname === '/readyz') {
      if (draining) return sendJson(res, 503, { status: 'shutting down' });
      const status = await getSystemStatus({ database, version });
      return sendJson(res, status.ready ? 200 : 503, {
        status: status.ready ? 'ready' : 'not ready',
        database: status.database,
      });
    }
    const isTrpc = pathname === '/api/trpc' || pathname.startsWith('/api/trpc/');
    if (isTrpc) {
      // Refused before the body is read: neither costs the server anything.
      const calls = trpcCalls(incoming.url, pathname);
      if (calls > MAX_BATCH_SIZE) return sendTrpcError(res, 400, 'BAD_REQUEST', `a batch may hold at most ${MAX_BATCH_SIZE} calls; this one has ${calls}`);
      const forged = originProblem(incoming.method, incoming.headers, trustedOrigins());
      if (forged) {
        logger.warn({ origin: incoming.headers.origin ?? null, sourceIp, path: pathname }, 'cross-origin API request refused');
        return sendTrpcError(res, 403, 'FORBIDDEN', forged);
      }
    }
    const req = await limitBody(incoming, res, bodyLimitFor(pathname));
    if (!req) return;
    if (isTrpc) return trpc(req, res);
    if (pathname.startsWith('/api/auth/')) {
      const auth = options.auth();
      if (!auth) return sendJson(res, 503, { error: 'starting; try again in a moment' });
      if (authHandler?.auth !== auth) authHandler = { auth, handle: authRequestHandler(auth) };
      return authHandler.handle(req, res);
    }
    if (pathname.startsWith('/agent/v1/')) {
      if (await gateway(req, res, pathname, sourceIp)) return;
      return sendJson(res, 404, { error: `no agent endpoint at ${pathname}` });
    }
    if (ui) return ui(req, res);
    return sendJson(res, 404, { error: `not found: ${pathname}` });
  };

  const listener = (req: http.IncomingMessage, res: http.ServerResponse) => {
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      logger.error({ err, method: req.method, url: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  };
  // A client that trickles its headers or body holds a socket: 10 s for the headers, 30 s for the
  // whole request (bodies are at most 1 MiB) instead of Node's 60 s / 300 s.
  const limits = { headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1_000 };
  const server = options.tls ? https.createServer({ cert: options.tls.cert, key: options.tls.key, ...limits }, listener) : http.createServer(limits, listener);
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? '/').split('?', 1)[0]!;
    const sourceIp = clientAddress(req, trustedProxies);
    if (options.channel?.handleUpgrade(req, socket, head, pathname, sourceIp)) return;
    if (options.uiUpgrade && !pathname.startsWith('/agent/')) return options.uiUpgrade(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });
  return {
    server,
    drain() {
      draining = true;
    },
  };
}

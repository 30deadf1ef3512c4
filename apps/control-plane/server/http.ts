import http from 'node:http';
import { appRouter } from '@fleet/api';
import { authRequestHandler, CLIENT_IP_HEADER, getSystemStatus, requestUser, type Auth } from '@fleet/core';
import type { DatabaseHandle } from '@fleet/db';
import { createGatewayHttpHandler, type AgentChannel } from '@fleet/gateway';
import type { Duplex } from 'node:stream';
import { createHTTPHandler } from '@trpc/server/adapters/standalone';
import type { Logger } from './logger.js';

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
}

/** The HTTP server plus a switch that makes `/readyz` fail while shutting down. */
export interface ControlPlaneServer {
  server: http.Server;
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

/**
 * Routes of the one control-plane process:
 * `/healthz` (liveness), `/readyz` (database reachable and migrated), `/api/trpc/*` (API),
 * `/agent/v1/*` (agent gateway: enrollment, and the WebSocket at `/agent/v1/ws`) and everything
 * else to the UI.
 */
export function createControlPlaneServer(options: ControlPlaneServerOptions): ControlPlaneServer {
  const { database, logger, version, ui } = options;
  let draining = false;
  let authHandler: { auth: Auth; handle: RequestListener } | null = null;
  const gateway = createGatewayHttpHandler({ database, log: (level, msg, fields) => logger[level](fields ?? {}, msg), stsEndpoints: options.stsEndpoints });
  const trpc = createHTTPHandler({
    router: appRouter,
    basePath: '/api/trpc/',
    // Large inputs (pipeline documents) go in POST bodies, not URLs.
    allowMethodOverride: true,
    createContext: async ({ req }) => {
      const auth = options.auth();
      return { database, version, auth, user: auth ? await requestUser(auth, req.headers) : null, sourceIp: req.socket.remoteAddress };
    },
    onError({ error, path }) {
      if (error.code === 'INTERNAL_SERVER_ERROR') logger.error({ err: error, path }, 'tRPC procedure failed');
    },
  });

  const route = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    req.headers[CLIENT_IP_HEADER] = req.socket.remoteAddress ?? 'unknown';
    const pathname = (req.url ?? '/').split('?', 1)[0]!;
    if (pathname === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (pathname === '/readyz') {
      if (draining) return sendJson(res, 503, { status: 'shutting down' });
      const status = await getSystemStatus({ database, version });
      return sendJson(res, status.ready ? 200 : 503, {
        status: status.ready ? 'ready' : 'not ready',
        database: status.database,
      });
    }
    if (pathname === '/api/trpc' || pathname.startsWith('/api/trpc/')) return trpc(req, res);
    if (pathname.startsWith('/api/auth/')) {
      const auth = options.auth();
      if (!auth) return sendJson(res, 503, { error: 'starting; try again in a moment' });
      if (authHandler?.auth !== auth) authHandler = { auth, handle: authRequestHandler(auth) };
      return authHandler.handle(req, res);
    }
    if (pathname.startsWith('/agent/v1/')) {
      if (await gateway(req, res, pathname, req.socket.remoteAddress ?? 'unknown')) return;
      return sendJson(res, 404, { error: `no agent endpoint at ${pathname}` });
    }
    if (ui) return ui(req, res);
    return sendJson(res, 404, { error: `not found: ${pathname}` });
  };

  const server = http.createServer((req, res) => {
    Promise.resolve(route(req, res)).catch((err: unknown) => {
      logger.error({ err, method: req.method, url: req.url }, 'request failed');
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const pathname = (req.url ?? '/').split('?', 1)[0]!;
    if (options.channel?.handleUpgrade(req, socket, head, pathname, req.socket.remoteAddress ?? 'unknown')) return;
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

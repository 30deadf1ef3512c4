/** Test support for the channel's tests: one PGlite database per file, an HTTP server per test, the channel on it. */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEnrollmentToken, createUser, enrollAgent, type ServiceContext } from '@fleet/core';
import { agents, enrollmentTokens, openMemoryDatabase, pipelines, type DatabaseHandle } from '@fleet/db';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import WebSocket from 'ws';
import { AGENT_ID_HEADER, AgentChannel, CHANNEL_PATH, type AgentChannelOptions } from '../channel.js';
import { TestAgent } from './test-agent.js';

/** What the channel logged. */
export interface LogLine {
  level: string;
  message: string;
  fields?: Record<string, unknown> | undefined;
}

/** The fixture {@link useChannelHarness} hands a describe block; fields are set by its hooks. */
export interface ChannelHarness {
  database: DatabaseHandle;
  /** Acting as the file's admin. */
  ctx: ServiceContext;
  /** `ws://127.0.0.1:<port>` of this test's server. */
  base: string;
  channel: AgentChannel | undefined;
  readonly logs: LogLine[];
  /** Starts the channel on this test's server (closed after the test). */
  startChannel(options?: Partial<AgentChannelOptions>): Promise<AgentChannel>;
  /** Enrolls an agent with a fresh token carrying `labels`. */
  enroll(hostname?: string, labels?: Record<string, string>): Promise<{ agentId: string; agentSecret: string }>;
  /** The upgrade headers of an enrolled agent. */
  credentials(a: { agentId: string; agentSecret: string }): Record<string, string>;
  /** Opens a session; rejects with the HTTP status when the upgrade is refused. */
  connect(headers: Record<string, string>, options?: { localAddress?: string }): Promise<TestAgent>;
}

/**
 * Registers the hooks of a channel test file in the calling describe block: one database for the
 * file (opening PGlite is the slow part) with an admin, emptied of agents, tokens and pipelines
 * before each test; a fresh HTTP server per test whose upgrades go to the channel.
 */
export function useChannelHarness(): ChannelHarness {
  let server: http.Server;
  const clients: TestAgent[] = [];
  const h: ChannelHarness = {
    database: undefined as unknown as DatabaseHandle,
    ctx: undefined as unknown as ServiceContext,
    base: '',
    channel: undefined,
    logs: [],
    async startChannel(options = {}) {
      h.channel = await AgentChannel.start({ database: h.database, log: (level, message, fields) => h.logs.push({ level, message, fields }), replicaId: 'replica-test', ...options });
      return h.channel;
    },
    async enroll(hostname = 'host-1', labels = { env: 'prod' }) {
      const { token } = await createEnrollmentToken(h.ctx, { name: `t-${hostname}-${Math.random()}`, expiresInHours: 1, labels });
      return enrollAgent({ db: h.database.db }, token, { hostname, version: 'test', platform: 'generic', labels: {} });
    },
    credentials: (a) => ({ [AGENT_ID_HEADER]: a.agentId, authorization: `Bearer ${a.agentSecret}` }),
    connect(headers, options = {}) {
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(`${h.base}${CHANNEL_PATH}`, { headers, ...options });
        const agent = new TestAgent(ws);
        ws.once('open', () => {
          clients.push(agent);
          resolve(agent);
        });
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
        ws.once('error', reject);
      });
    },
  };

  beforeAll(async () => {
    h.database = await openMemoryDatabase();
    await h.database.migrate();
    const admin = await createUser({ db: h.database.db, actor: { type: 'system' } }, { email: 'ops@example.com', name: 'Ops', role: 'admin', password: 'correct horse battery staple 42' });
    h.ctx = { db: h.database.db, actor: { type: 'user', id: admin.id, email: admin.email, role: 'admin' } };
  });
  afterAll(async () => h.database?.close());

  beforeEach(async () => {
    h.logs.length = 0;
    // Stats and versions go with their agents and pipelines (on delete cascade).
    for (const table of [agents, enrollmentTokens, pipelines]) await h.database.db.delete(table);
    server = http.createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (req, socket, head) => {
      const { pathname } = new URL(req.url ?? '/', 'http://localhost');
      if (!h.channel?.handleUpgrade(req, socket, head, pathname, req.socket.remoteAddress ?? 'unknown')) socket.destroy();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    h.base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterEach(async () => {
    await h.channel?.close();
    h.channel = undefined;
    for (const c of clients.splice(0)) c.ws.terminate();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  return h;
}

import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  announceAgentChange,
  createAwsAccount,
  createEnrollmentToken,
  createPipeline,
  createUser,
  deleteAwsAccount,
  enrollAgent,
  pipelineRollout,
  publishVersion,
  saveDraft,
  updateAwsAccount,
  type AppError,
  type ServiceContext,
} from '@fleet/core';
import { agents, awsAccounts, openMemoryDatabase, type DatabaseHandle } from '@fleet/db';
import { parseServerMessage, PROTOCOL_VERSION, type ServerMessage } from '@fleet/protocol';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { AGENT_ID_HEADER, AgentChannel, CHANNEL_PATH } from './channel.js';

const DEADLINE_MS = 5_000;
const ROLE = 'arn:aws:iam::123456789012:role/fleet-writer';
const AMP = 'https://aps-workspaces.us-east-1.amazonaws.com/workspaces/ws-0123456789/api/v1/remote_write';

type Config = Extract<ServerMessage, { type: 'config' }>;

/** A minimal agent on the channel: keeps every server message; `sync()` proves the server has answered all frames sent so far. */
class Client {
  readonly messages: ServerMessage[] = [];
  private seq = 0;
  private readonly waiters = new Set<() => void>();
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const parsed = parseServerMessage(data as Buffer);
      if (parsed.ok) this.messages.push(parsed.message);
      for (const w of this.waiters) w();
    });
    ws.on('error', () => undefined);
  }
  configs(): Config[] {
    return this.messages.filter((m): m is Config => m.type === 'config');
  }
  async until(check: () => boolean, what: string): Promise<void> {
    if (check()) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${what}: not within ${DEADLINE_MS} ms; got ${JSON.stringify(this.messages.map((m) => m.type))}`)), DEADLINE_MS);
      const w = () => {
        if (!check()) return;
        clearTimeout(timer);
        this.waiters.delete(w);
        resolve();
      };
      this.waiters.add(w);
    });
  }
  send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, seq: this.seq++, ...message }));
  }
  hello(configHash: string | null): void {
    this.send({ type: 'hello', description: { hostname: 'web-1', version: 'test', platform: 'generic', labels: {} }, capabilities: ['config.live-apply'], configHash });
  }
  /** Frames are answered in order: once the answer to a malformed frame is in, so is everything sent before it. */
  async sync(): Promise<void> {
    const marker = `sync-${Math.random().toString(36).slice(2)}`;
    const before = this.messages.length;
    this.ws.send(JSON.stringify({ type: marker, v: PROTOCOL_VERSION }));
    await this.until(() => this.messages.slice(before).some((m) => m.type === 'error'), 'the sync answer');
  }
}

/**
 * The channel rule of issue 10: an agent never loses a destination (and its WAL) because the
 * control plane could not build its config. Account references are bound by id, so renames are
 * harmless; a change that would break a published version is refused; and when a published
 * version cannot be resolved anyway, nothing is pushed and the reason is recorded.
 */
describe('config builds: account renames, refused deletes, last good config kept (PGlite)', () => {
  let database: DatabaseHandle;
  let ctx: ServiceContext;
  let server: http.Server;
  let channel: AgentChannel;
  let base: string;
  const logs: { level: string; message: string }[] = [];

  beforeAll(async () => {
    database = await openMemoryDatabase();
    await database.migrate();
    const admin = await createUser({ db: database.db, actor: { type: 'system' } }, { email: 'ops@example.com', name: 'Ops', role: 'admin', password: 'correct horse battery staple 42' });
    ctx = { db: database.db, actor: { type: 'user', id: admin.id, email: admin.email, role: 'admin' } };
    server = http.createServer((_req, res) => res.writeHead(404).end());
    server.on('upgrade', (req, socket, head) => {
      if (!channel.handleUpgrade(req, socket, head, new URL(req.url ?? '/', 'http://x').pathname, '127.0.0.1')) socket.destroy();
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
    channel = await AgentChannel.start({ database, log: (level, message) => logs.push({ level, message }), replicaId: 'replica-test' });
  });
  afterAll(async () => {
    await channel?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await database?.close();
  });

  async function connect(agent: { agentId: string; agentSecret: string }): Promise<Client> {
    const ws = new WebSocket(`${base}${CHANNEL_PATH}`, { headers: { [AGENT_ID_HEADER]: agent.agentId, authorization: `Bearer ${agent.agentSecret}` } });
    await once(ws, 'open');
    return new Client(ws);
  }
  const agentRow = async (id: string) => (await database.db.select().from(agents).where(eq(agents.id, id)))[0]!;
  const doc = (account: string | null, target = '127.0.0.1:9100') => ({
    scrape_configs: [{ job_name: 'node', static_configs: [{ targets: [target] }] }],
    remote_write: [{ name: 'amp', url: AMP, ...(account ? { aws_account: account } : {}) }],
  });

  it('keeps agents running through a rename, refuses a delete naming the versions, and never pushes a config it could not build', async () => {
    const account = await createAwsAccount(ctx, { accountId: '123456789012', name: 'dev', defaultRegion: 'us-east-1', roleArn: ROLE });
    const { pipeline } = await createPipeline(ctx, { name: 'node', selector: [{ name: 'env', op: '=', value: 'prod' }], source: `# written by hand\nscrape_configs:\n  - job_name: node\n    static_configs: [{ targets: ['127.0.0.1:9100'] }]\nremote_write:\n  - name: amp\n    url: ${AMP}\n    aws_account: dev\n` });
    await publishVersion(ctx, pipeline.id, 1, 'roll out');
    const { token } = await createEnrollmentToken(ctx, { name: 'prod', expiresInHours: 1, labels: { env: 'prod' } });
    const enrolled = await enrollAgent({ db: database.db }, token, { hostname: 'web-1', version: 'test', platform: 'generic', labels: {} });
    const client = await connect(enrolled);
    client.hello(null);
    await client.until(() => client.configs().length === 1, 'the first config');
    const first = client.configs()[0]!;
    expect(JSON.stringify(first.config)).toContain(ROLE);
    client.send({ type: 'configStatus', configHash: first.configHash, status: 'applied' });

    // Rename: the version is bound to the account's id, so the config stays exactly the same.
    await updateAwsAccount(ctx, account.id, { accountId: '123456789012', name: 'development', defaultRegion: 'us-east-1', roleArn: ROLE });
    // A second pipeline is the synchronisation point: the channel handles changes in order.
    const other = await createPipeline(ctx, { name: 'other', selector: [], document: doc(null, '127.0.0.1:9101') });
    await publishVersion(ctx, other.pipeline.id, 1, 'second pipeline');
    await client.until(() => client.configs().length === 2, 'the config with both pipelines');
    const second = client.configs()[1]!;
    expect(second.pipelines.map((p) => `${p.name}@${p.version}`).sort()).toEqual(['node@1', 'other@1']);
    const nodeInstance = (c: Config) => (c.config as { metrics: { configs: Array<{ name: string }> } }).metrics.configs.find((i) => i.name === 'node');
    expect(nodeInstance(second)).toEqual(nodeInstance(first));

    // Deleting the account is refused while a published version uses it, naming the version.
    const refused = (await deleteAwsAccount(ctx, account.id).catch((err: unknown) => err)) as AppError;
    expect(refused.code).toBe('CONFLICT');
    expect(refused.message).toMatch(/account development is used by published pipeline versions: node v1/);

    // Should a published version break anyway (here: the row removed behind the service's
    // back), the agent gets no new config: it keeps its last good one, and the reason is kept.
    await database.db.delete(awsAccounts).where(eq(awsAccounts.id, account.id));
    await announceAgentChange(database.db, { kind: 'config' });
    await vi.waitFor(async () => expect((await agentRow(enrolled.agentId)).configBuildError).toMatch(/pipeline node v1: remote_write\[0\]\.aws_account: the AWS account this version was saved with \("dev"\) was deleted/), { timeout: DEADLINE_MS, interval: 20 });
    await client.sync();
    expect(client.configs()).toHaveLength(2);
    expect((await agentRow(enrolled.agentId)).desiredConfigHash).toBe(second.configHash);
    const rollout = await pipelineRollout({ db: database.db }, pipeline.id);
    expect(rollout.buildProblem).toMatch(/was deleted/);
    expect(rollout.blocked.map((a) => a.id)).toEqual([enrolled.agentId]);

    // Reconnecting changes nothing: still no config that drops the destination.
    client.ws.close();
    const again = await connect(enrolled);
    again.hello(second.configHash);
    await vi.waitFor(async () => expect((await agentRow(enrolled.agentId)).connected).toBe(true), { timeout: DEADLINE_MS, interval: 20 });
    await again.sync();
    expect(again.configs()).toHaveLength(0);

    // Fixed by publishing a version without the account: pushed, and the reason cleared.
    await saveDraft(ctx, pipeline.id, { selector: [{ name: 'env', op: '=', value: 'prod' }], document: doc(null) });
    await publishVersion(ctx, pipeline.id, 2, 'no account');
    await again.until(() => again.configs().length === 1, 'the fixed config');
    expect(again.configs()[0]!.pipelines.map((p) => `${p.name}@${p.version}`).sort()).toEqual(['node@2', 'other@1']);
    await vi.waitFor(async () => expect((await agentRow(enrolled.agentId)).configBuildError).toBeNull(), { timeout: DEADLINE_MS, interval: 20 });
    expect(logs.some((l) => l.message.includes('cannot be built'))).toBe(true);
    again.ws.close();
  });
});

import type http from 'node:http';
import {
  createPipeline,
  effectiveConfig,
  getAgent,
  loadPublishedPipelines,
  publishVersion,
  removeAgent,
  saveDraft,
} from '@fleet/core';
import { agentStats } from '@fleet/db';
import { PROTOCOL_VERSION } from '@fleet/protocol';
import { describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { AGENT_ID_HEADER, CHANNEL_PATH, CLOSE } from './channel.js';
import { useChannelHarness } from './test-support/harness.js';
import { DEADLINE_MS, heartbeatBody, type TestAgent } from './test-support/test-agent.js';

const PIPELINE_DOCUMENT = (target: string) => ({
  scrape_configs: [{ job_name: 'node', static_configs: [{ targets: [target] }] }],
  remote_write: [{ name: 'local', url: 'http://127.0.0.1:9/api/v1/write' }],
});

describe('AgentChannel (WebSocket at /agent/v1/ws, in-process on PGlite)', () => {
  const h = useChannelHarness();
  const { startChannel, enroll, credentials, connect } = h;

  /** Attempts an upgrade that the server must refuse; resolves with the HTTP answer. */
  function refused(headers: Record<string, string>, options: { localAddress?: string } = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: { error?: string } }> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${h.base}${CHANNEL_PATH}`, { headers, ...options });
      ws.once('open', () => {
        ws.terminate();
        reject(new Error('the upgrade was accepted'));
      });
      ws.once('unexpected-response', (_req, res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(text) as { error?: string } }));
      });
      ws.on('error', () => undefined);
    });
  }

  /** Connects, says hello and waits until the server has recorded the session. */
  async function helloed(agent: { agentId: string; agentSecret: string }, configHash: string | null = null): Promise<TestAgent> {
    const client = await connect(credentials(agent));
    client.hello(configHash);
    await vi.waitFor(async () => expect((await getAgent(h.ctx, agent.agentId)).state).toBe('online'), { timeout: DEADLINE_MS, interval: 20 });
    return client;
  }

  async function publishPipeline(name: string, target = '127.0.0.1:9100') {
    const { pipeline } = await createPipeline(h.ctx, { name, selector: [{ name: 'env', op: '=', value: 'prod' }], document: PIPELINE_DOCUMENT(target), note: 'first' });
    await publishVersion(h.ctx, pipeline.id, 1, 'roll out');
    return pipeline.id;
  }

  async function desiredFor(labels: Record<string, string>) {
    return effectiveConfig((await loadPublishedPipelines(h.database.db)).pipelines, labels);
  }

  async function heartbeatsRecorded(agentId: string): Promise<number> {
    return (await h.database.db.select({ agentId: agentStats.agentId }).from(agentStats)).filter((r) => r.agentId === agentId).length;
  }

  it('refuses an upgrade without credentials with 401 and a reason naming the headers', async () => {
    await startChannel();
    const a = await enroll();
    const none = await refused({});
    expect(none.status).toBe(401);
    expect(none.body.error).toMatch(new RegExp(`${AGENT_ID_HEADER}.*Authorization: Bearer`));
    const noSecret = await refused({ [AGENT_ID_HEADER]: a.agentId });
    expect(noSecret.status).toBe(401);
    expect(noSecret.body.error).toMatch(/Authorization: Bearer/);
    expect(h.channel!.size).toBe(0);
  });

  it('refuses a wrong secret with 401 without saying whether the agent exists', async () => {
    await startChannel();
    const a = await enroll();
    const wrong = await refused(credentials({ agentId: a.agentId, agentSecret: `${a.agentSecret.slice(0, -2)}xx` }));
    expect(wrong.status).toBe(401);
    expect(wrong.body.error).toMatch(/unknown agent or wrong secret/);
    const unknown = await refused(credentials({ agentId: '00000000-0000-4000-8000-000000000000', agentSecret: a.agentSecret }));
    expect(unknown).toMatchObject({ status: 401, body: { error: wrong.body.error } });
    expect(h.logs.some((l) => l.message === 'agent connection refused')).toBe(true);
  });

  it('limits failed upgrades per source address with 429 and Retry-After; an agent that authenticates is not refused for them', async () => {
    await startChannel({ failedUpgradesPerMinute: 2 });
    const a = await enroll();
    // Failed attempts count: a source cannot try secrets faster than the limit.
    expect((await refused({})).status).toBe(401);
    expect((await refused(credentials({ agentId: a.agentId, agentSecret: 'x'.repeat(43) }))).status).toBe(401);
    const limited = await refused({});
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatch(/too many failed connection attempts from this address/);
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    // The real agent on the same address connects at once.
    await (await connect(credentials(a))).next('welcome');
    // Another source address is not affected.
    expect((await refused({}, { localAddress: '127.0.0.2' })).status).toBe(401);
  });

  it('sheds load with 503 and Retry-After when the replica is full', async () => {
    await startChannel({ maxSessions: 1 });
    const [a, b] = [await enroll('host-1'), await enroll('host-2')];
    await (await connect(credentials(a))).next('welcome');
    const full = await refused(credentials(b));
    expect(full.status).toBe(503);
    expect(full.body.error).toMatch(/at capacity/);
    expect(Number(full.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('welcomes an agent with its id and the heartbeat interval', async () => {
    await startChannel({ heartbeatIntervalMs: 2_500 });
    const a = await enroll();
    const client = await connect(credentials(a));
    const welcome = await client.next('welcome');
    expect(welcome).toMatchObject({ agentId: a.agentId, heartbeatIntervalMs: 2_500 });
    expect(Math.abs(Date.parse(welcome.serverTime) - Date.now())).toBeLessThan(60_000);
    expect(client.invalid).toEqual([]);
  });

  it('answers hello with the effective config and records the agent online', async () => {
    await publishPipeline('node');
    await startChannel();
    const a = await enroll();
    const desired = await desiredFor({ env: 'prod' });
    expect(desired.pipelines).toHaveLength(1);
    const client = await connect(credentials(a));
    client.hello(null, 'web-1');
    const config = await client.next('config');
    expect(config.configHash).toBe(desired.configHash);
    expect(config.config).toEqual(desired.config);
    expect(config.pipelines).toEqual([{ id: desired.pipelines[0]!.id, name: 'node', version: 1 }]);
    const row = await getAgent(h.ctx, a.agentId);
    expect(row).toMatchObject({ state: 'online', name: 'web-1', connectedReplica: 'replica-test', desiredConfigHash: desired.configHash, configStatus: 'pending' });
    expect(client.invalid).toEqual([]);
  });

  it('sends no config to an agent that already runs the desired one, and records it applied', async () => {
    await publishPipeline('node');
    await startChannel();
    const a = await enroll();
    const desired = await desiredFor({ env: 'prod' });
    const client = await connect(credentials(a));
    client.hello(desired.configHash);
    await vi.waitFor(async () => expect(await getAgent(h.ctx, a.agentId)).toMatchObject({ state: 'online', configStatus: 'applied', appliedConfigHash: desired.configHash }), {
      timeout: DEADLINE_MS,
      interval: 20,
    });
    // A heartbeat is recorded after the hello's work on the same queue; once it is in the
    // h.database any config would have been sent, and flush() proves it would have arrived.
    client.heartbeat();
    await vi.waitFor(async () => expect(await heartbeatsRecorded(a.agentId)).toBe(1), { timeout: DEADLINE_MS, interval: 20 });
    await client.flush();
    expect(client.all('config')).toEqual([]);
    expect((await getAgent(h.ctx, a.agentId)).appliedPipelines).toEqual([{ id: desired.pipelines[0]!.id, name: 'node', version: 1 }]);
  });

  it('answers malformed JSON with a malformed error and keeps the session', async () => {
    await startChannel();
    const a = await enroll();
    const client = await helloed(a);
    client.sendRaw('{"type": "heartbeat", ');
    const err = await client.next('error');
    expect(err).toMatchObject({ code: 'malformed', message: expect.stringMatching(/^not JSON/) });
    client.heartbeat();
    await vi.waitFor(async () => expect(await heartbeatsRecorded(a.agentId)).toBe(1), { timeout: DEADLINE_MS, interval: 20 });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('answers an unknown message type with unknown_type naming it', async () => {
    await startChannel();
    const a = await enroll();
    const client = await helloed(a);
    client.send({ type: 'telemetry' });
    const err = await client.next('error');
    expect(err.code).toBe('unknown_type');
    expect(err.message).toMatch(/unknown message type "telemetry" \(expected one of hello, configStatus, heartbeat, disconnect\)/);
    client.heartbeat();
    await vi.waitFor(async () => expect(await heartbeatsRecorded(a.agentId)).toBe(1), { timeout: DEADLINE_MS, interval: 20 });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('answers another protocol version with unsupported_version', async () => {
    await startChannel();
    const a = await enroll();
    const client = await helloed(a);
    client.sendRaw(JSON.stringify({ type: 'heartbeat', v: 2, seq: 1, ...heartbeatBody(1) }));
    const err = await client.next('error');
    expect(err.code).toBe('unsupported_version');
    expect(err.message).toMatch(/protocol version 2 is not supported \(this peer speaks 1\)/);
    client.heartbeat();
    await vi.waitFor(async () => expect(await heartbeatsRecorded(a.agentId)).toBe(1), { timeout: DEADLINE_MS, interval: 20 });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('answers an invalid field with a malformed error naming the field, then still records a valid heartbeat', async () => {
    await startChannel();
    const a = await enroll();
    const client = await helloed(a);
    const body = heartbeatBody(5);
    client.sendRaw(JSON.stringify({ type: 'heartbeat', v: PROTOCOL_VERSION, seq: 1, ...body, counters: { ...body.counters, samplesSent: -1 } }));
    const err = await client.next('error');
    expect(err.code).toBe('malformed');
    expect(err.message).toMatch(/^heartbeat\.counters\.samplesSent: /);
    client.sendRaw(JSON.stringify({ type: 'configStatus', v: PROTOCOL_VERSION, seq: 1, configHash: 'a'.repeat(64), status: 'failed' }));
    expect((await client.next('error', (m) => m.message.startsWith('configStatus.'))).message).toMatch(/^configStatus\.error: a failed status needs an error/);
    client.heartbeat(42);
    await vi.waitFor(async () => expect(await heartbeatsRecorded(a.agentId)).toBe(1), { timeout: DEADLINE_MS, interval: 20 });
    const row = await getAgent(h.ctx, a.agentId);
    expect(row.lastHeartbeat).toMatchObject({ counters: { samplesScraped: 42 } });
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    // The invalid frames had no effect on the sequence: the valid heartbeat was next in line.
    expect(client.all('requestFullState')).toEqual([]);
  });

  it('refuses messages before hello with an error, then accepts the hello', async () => {
    await startChannel();
    const a = await enroll();
    const client = await connect(credentials(a));
    client.heartbeat();
    const err = await client.next('error');
    expect(err).toMatchObject({ code: 'malformed', message: 'heartbeat before hello: send hello first' });
    expect(await heartbeatsRecorded(a.agentId)).toBe(0);
    client.hello();
    await client.next('config');
    expect((await getAgent(h.ctx, a.agentId)).state).toBe('online');
  });

  it('closes a session after more than 20 protocol errors in a minute', async () => {
    await startChannel();
    const a = await enroll();
    const client = await helloed(a);
    for (let i = 0; i < 21; i++) client.sendRaw('not json');
    expect(await client.closed).toEqual({ code: CLOSE.tooManyErrors, reason: 'too many protocol errors' });
    expect(client.all('error')).toHaveLength(21);
  });

  it('asks for the full state after a sequence gap', async () => {
    await startChannel();
    const a = await enroll();
    const client = await helloed(a);
    client.ws.send(JSON.stringify({ type: 'heartbeat', v: PROTOCOL_VERSION, seq: 7, ...heartbeatBody(1) }));
    const request = await client.next('requestFullState');
    expect(request.reason).toBe('expected message 1, got 7');
    // The heartbeat itself is not lost.
    await vi.waitFor(async () => expect(await heartbeatsRecorded(a.agentId)).toBe(1), { timeout: DEADLINE_MS, interval: 20 });
  });

  it('pushes a new config when a version is published while the agent is connected (NOTIFY)', async () => {
    const pipelineId = await publishPipeline('node');
    await startChannel();
    const a = await enroll();
    const client = await connect(credentials(a));
    client.hello();
    const first = await client.next('config');
    client.send({ type: 'configStatus', configHash: first.configHash, status: 'applied' });
    await vi.waitFor(async () => expect((await getAgent(h.ctx, a.agentId)).configStatus).toBe('applied'), { timeout: DEADLINE_MS, interval: 20 });

    await saveDraft(h.ctx, pipelineId, { selector: [{ name: 'env', op: '=', value: 'prod' }], document: PIPELINE_DOCUMENT('127.0.0.1:9101'), note: 'second' });
    await publishVersion(h.ctx, pipelineId, 2, 'new target');
    const desired = await desiredFor({ env: 'prod' });
    const second = await client.next('config', (m) => m.configHash !== first.configHash);
    expect(second.configHash).toBe(desired.configHash);
    expect(second.pipelines).toEqual([{ id: pipelineId, name: 'node', version: 2 }]);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    expect(client.all('welcome')).toHaveLength(1);
    expect((await getAgent(h.ctx, a.agentId)).desiredConfigHash).toBe(desired.configHash);
  });

  it('tells a removed agent and closes its socket with 4001', async () => {
    await startChannel();
    const a = await enroll();
    const client = await helloed(a);
    await removeAgent(h.ctx, a.agentId);
    const bye = await client.next('disconnect');
    expect(bye.reason).toMatch(/removed from the fleet/);
    expect((await client.closed).code).toBe(CLOSE.removed);
    await vi.waitFor(() => expect(h.channel!.size).toBe(0), { timeout: DEADLINE_MS, interval: 20 });
    expect((await refused(credentials(a))).status).toBe(401);
  });

  it('replaces the first session when the same agent connects again (4000); the agent stays online', async () => {
    await startChannel();
    const a = await enroll();
    const first = await helloed(a);
    const second = await connect(credentials(a));
    second.hello();
    const bye = await first.next('disconnect');
    expect(bye.reason).toMatch(/replaced by a newer connection/);
    expect((await first.closed).code).toBe(CLOSE.replaced);
    await second.next('config');
    // The new session works: its heartbeat is recorded, and the agent never went offline.
    second.heartbeat();
    await vi.waitFor(async () => expect(await heartbeatsRecorded(a.agentId)).toBe(1), { timeout: DEADLINE_MS, interval: 20 });
    expect(await getAgent(h.ctx, a.agentId)).toMatchObject({ state: 'online', offlineSince: null });
    expect(h.channel!.connectedAgentIds()).toEqual([a.agentId]);
    expect(second.ws.readyState).toBe(WebSocket.OPEN);
  });

  it('keeps the agent online when the replaced session dies without a closing handshake', async () => {
    await publishPipeline('node');
    await startChannel();
    const a = await enroll();
    const first = await helloed(a);
    // The old connection is dead (the usual reason an agent reconnects): it reads nothing, so
    // it never answers the server's close frame, and it ends without a closing handshake.
    first.ws.pause();
    const second = await connect(credentials(a));
    second.hello();
    const config = await second.next('config');
    first.ws.terminate();
    // The server sent its close frame (4000) and never got an answer: it sees an abnormal close.
    await vi.waitFor(() => expect(h.logs.some((l) => l.message === 'agent disconnected' && l.fields?.code === 1006)).toBe(true), { timeout: DEADLINE_MS, interval: 20 });
    // Whatever the old session's close wrote was queued before this report (PGlite runs
    // statements in order), and a config status does not touch the online state.
    second.send({ type: 'configStatus', configHash: config.configHash, status: 'applying' });
    await vi.waitFor(async () => expect((await getAgent(h.ctx, a.agentId)).configStatus).toBe('applying'), { timeout: DEADLINE_MS, interval: 20 });
    expect(await getAgent(h.ctx, a.agentId)).toMatchObject({ state: 'online', offlineSince: null });
    expect(h.channel!.connectedAgentIds()).toEqual([a.agentId]);
  });

  it('close() tells every agent to come back after its own delay and marks them offline', async () => {
    await startChannel();
    const enrolled = [];
    for (let i = 1; i <= 5; i++) enrolled.push(await enroll(`host-${i}`));
    const sessions = [];
    for (const a of enrolled) sessions.push(await helloed(a));
    expect(h.channel!.size).toBe(5);
    await h.channel!.close();
    const byes = await Promise.all(sessions.map((s) => s.next('disconnect')));
    const delays = byes.map((b) => b.retryAfterMs);
    for (const d of delays) {
      expect(d).toBeGreaterThanOrEqual(1000);
      expect(d).toBeLessThanOrEqual(10_000);
    }
    expect(new Set(delays).size).toBeGreaterThan(1);
    for (const s of sessions) expect((await s.closed).code).toBe(CLOSE.goingAway);
    for (const a of enrolled) expect(await getAgent(h.ctx, a.agentId)).toMatchObject({ state: 'offline', offlineSince: expect.any(Date) });
    // A draining replica sheds new agents.
    const late = await refused(credentials(enrolled[0]!));
    expect(late.status).toBe(503);
    expect(late.body.error).toMatch(/shutting down/);
    expect(Number(late.headers['retry-after'])).toBeGreaterThan(0);
  });

  it('the watchdog closes a silent session and marks the agent offline; a heartbeating one stays', async () => {
    await startChannel({ heartbeatIntervalMs: 200 });
    const [silent, alive] = [await enroll('silent'), await enroll('alive')];
    const quiet = await helloed(silent);
    const talking = await helloed(alive);
    const beat = setInterval(() => talking.heartbeat(), 50);
    try {
      const closed = await quiet.closed;
      expect(closed.code).toBe(1006); // terminated: a silent peer gets no closing handshake
      await vi.waitFor(async () => expect(await getAgent(h.ctx, silent.agentId)).toMatchObject({ state: 'offline', offlineSince: expect.any(Date) }), { timeout: DEADLINE_MS, interval: 20 });
      expect(h.logs.some((l) => l.message === 'agent missed its heartbeats; closing its connection' && l.fields?.agentId === silent.agentId)).toBe(true);
      expect(talking.ws.readyState).toBe(WebSocket.OPEN);
      expect((await getAgent(h.ctx, alive.agentId)).state).toBe('online');
      await vi.waitFor(() => expect(h.channel!.connectedAgentIds()).toEqual([alive.agentId]), { timeout: DEADLINE_MS, interval: 20 });
    } finally {
      clearInterval(beat);
    }
  });
});

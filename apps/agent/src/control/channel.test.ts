import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { parseAgentMessage, PROTOCOL_VERSION, type AgentMessage, type ServerMessage } from '@fleet/protocol';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WebSocketServer, type WebSocket } from 'ws';
import { ControlChannel, type ChannelAgent, type ControlChannelOptions, type ReceivedConfig } from './channel.js';

/** How long a test waits for the agent before it fails (a deadline, never a pause). */
const DEADLINE_MS = 10_000;
const AGENT_ID = '3f2c1b7e-9d4a-4c1e-8b2a-5e6f7a8b9c0d';
const SECRET = 's'.repeat(43);
const HASH_A = 'a'.repeat(64);
const HASH_B = 'b'.repeat(64);
const HASH_C = 'c'.repeat(64);

type Of<T extends AgentMessage['type']> = Extract<AgentMessage, { type: T }>;

/** One accepted WebSocket session on the fake control plane. */
interface Session {
  ws: WebSocket;
  /** performance.now() when the upgrade arrived. */
  at: number;
  headers: http.IncomingHttpHeaders;
  /** Messages from the agent with the time each arrived. */
  received: { at: number; message: AgentMessage }[];
  closed: boolean;
}

/**
 * A small control plane for the agent's channel: records every upgrade attempt (with its time),
 * refuses the ones `refuse` says to, accepts the rest with a `welcome`, and validates every frame
 * the agent sends against the protocol. Tests wait on its state with `until`, which re-checks on
 * every event (attempt, message, close) — no polling, no pauses.
 */
class FakeControlPlane {
  readonly server = http.createServer((_req, res) => res.writeHead(404).end());
  readonly wss = new WebSocketServer({ noServer: true });
  readonly attempts: { at: number; headers: http.IncomingHttpHeaders }[] = [];
  readonly sessions: Session[] = [];
  readonly invalid: string[] = [];
  /** Decides the answer to upgrade attempt `n` (0-based): undefined accepts it. */
  refuse: (n: number) => { status: number; headers?: Record<string, string> } | undefined = () => undefined;
  heartbeatIntervalMs = 15_000;
  private readonly waiters = new Set<() => void>();

  constructor() {
    this.server.on('upgrade', (req, socket, head) => {
      const n = this.attempts.length;
      this.attempts.push({ at: performance.now(), headers: req.headers });
      const refusal = this.refuse(n);
      if (refusal) {
        const body = JSON.stringify({ error: `refused attempt ${n}` });
        const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), connection: 'close', ...refusal.headers };
        socket.end(`HTTP/1.1 ${refusal.status} ${http.STATUS_CODES[refusal.status]}\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${body}`);
        this.changed();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        const session: Session = { ws, at: this.attempts[n]!.at, headers: req.headers, received: [], closed: false };
        this.sessions.push(session);
        ws.on('message', (data) => {
          const parsed = parseAgentMessage(data as Buffer);
          if (parsed.ok) session.received.push({ at: performance.now(), message: parsed.message });
          else this.invalid.push(parsed.error);
          this.changed();
        });
        ws.on('close', () => {
          session.closed = true;
          this.changed();
        });
        this.send(session, { type: 'welcome', v: PROTOCOL_VERSION, agentId: AGENT_ID, heartbeatIntervalMs: this.heartbeatIntervalMs, serverTime: new Date().toISOString() });
        this.changed();
      });
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  send(session: Session, message: ServerMessage): void {
    session.ws.send(JSON.stringify(message));
  }

  /** Resolves with `check()`'s first truthy result, re-checked whenever something happens. */
  until<T>(what: string, check: () => T | undefined | false): Promise<T> {
    const now = check();
    if (now) return Promise.resolve(now);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`timed out waiting for ${what}`));
      }, DEADLINE_MS);
      const waiter = () => {
        const v = check();
        if (!v) return;
        clearTimeout(timer);
        this.waiters.delete(waiter);
        resolve(v);
      };
      this.waiters.add(waiter);
    });
  }

  /** The `index`-th message of `type` on `session` (waits for it). */
  message<T extends AgentMessage['type']>(session: Session, type: T, index = 0): Promise<{ at: number; message: Of<T> }> {
    return this.until(`${type} #${index + 1} from the agent`, () => session.received.filter((r): r is { at: number; message: Of<T> } => r.message.type === type)[index]);
  }

  /** The `index`-th accepted session (waits for it). */
  session(index: number): Promise<Session> {
    return this.until(`session #${index + 1}`, () => this.sessions[index]);
  }

  /** Waits until `count` upgrade attempts arrived. */
  attempted(count: number): Promise<void> {
    return this.until(`${count} connection attempts`, () => this.attempts.length >= count).then(() => undefined);
  }

  private changed(): void {
    for (const w of [...this.waiters]) w();
  }

  async close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** A running agent as the channel sees it: records what it was asked to apply. */
function fakeAgent(running: string | null = null) {
  const state = { running, applied: [] as ReceivedConfig[], failWith: undefined as string | undefined };
  const agent: ChannelAgent = {
    runningConfigHash: () => state.running,
    async apply(config) {
      if (state.failWith) throw new Error(state.failWith);
      state.applied.push(config);
      state.running = config.configHash;
    },
    heartbeat: async () => ({
      counters: { samplesScraped: 120, samplesSent: 100, samplesDropped: 2, samplesRetried: 1, pendingSamples: 18, walBytes: 4096 },
      destinations: [],
      targets: [{ job: 'node', instance: '127.0.0.1:9100', up: true, lastScrapeAt: new Date().toISOString(), durationMs: 3, samples: 120, lastError: null }],
    }),
  };
  return { agent, state };
}

/** Timers that run for real and record the delays the channel asks for. */
function recordingTimers() {
  const timeouts: number[] = [];
  const intervals: number[] = [];
  const waiters = new Set<() => void>();
  const timers: NonNullable<ControlChannelOptions['timers']> = {
    setTimeout: (fn, ms) => {
      timeouts.push(ms);
      for (const w of [...waiters]) w();
      return setTimeout(fn, ms);
    },
    setInterval: (fn, ms) => {
      intervals.push(ms);
      return setInterval(fn, ms);
    },
  };
  /** Resolves once the channel has scheduled `count` reconnects. */
  const scheduled = (count: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${timeouts.length} of ${count} reconnects scheduled`)), DEADLINE_MS);
      const check = () => {
        if (timeouts.length < count) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      waiters.add(check);
      check();
    });
  return { timeouts, intervals, timers, scheduled };
}

const DESCRIPTION = { hostname: 'web-1', version: '1.2.3', platform: 'ec2' as const, instanceId: 'i-0abc', region: 'eu-west-1', labels: {} };

const VALID_CONFIG = { metrics: { configs: [{ name: 'node', scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['127.0.0.1:9100'] }] }] }] } };
const INVALID_CONFIG = { metrics: { configs: [{ name: 'node', scrape_configs: [{ job_name: 'node', scrape_interval: 'soon', static_configs: [{ targets: ['127.0.0.1:9100'] }] }] }] } };
const PIPELINES = [{ id: '0b9a7c52-1d3e-4f60-8a1b-2c3d4e5f6a7b', name: 'node', version: 3 }];

const config = (configHash: string, document: Record<string, unknown>): ServerMessage => ({ type: 'config', v: PROTOCOL_VERSION, configHash, config: document, pipelines: PIPELINES });

describe('ControlChannel (the agent side of the control channel)', () => {
  let cp: FakeControlPlane;
  let server: string;
  let channel: ControlChannel | undefined;
  const logs: { level: string; message: string; fields?: Record<string, unknown> | undefined }[] = [];

  beforeEach(async () => {
    logs.length = 0;
    cp = new FakeControlPlane();
    server = await cp.listen();
  });

  afterEach(async () => {
    await channel?.stop();
    channel = undefined;
    await cp.close();
    // Everything the agent sent was a valid protocol message.
    expect(cp.invalid).toEqual([]);
  });

  function start(agent: ChannelAgent, options: Partial<ControlChannelOptions> = {}): ControlChannel {
    channel = new ControlChannel({
      state: { server, agentId: AGENT_ID, agentSecret: SECRET, enrolledAt: new Date().toISOString() },
      description: async () => DESCRIPTION,
      agent,
      log: (level, message, fields) => logs.push({ level, message, fields }),
      minBackoffMs: 10,
      maxBackoffMs: 100,
      random: () => 0,
      ...options,
    });
    channel.start();
    return channel;
  }

  const statuses = (s: Session) => s.received.flatMap((r) => (r.message.type === 'configStatus' ? [[r.message.status, r.message.configHash] as const] : []));

  it('authenticates with the agent id and secret and says hello first, with the running config hash', async () => {
    start(fakeAgent(HASH_A).agent);
    const session = await cp.session(0);
    expect(session.headers).toMatchObject({ 'x-fleet-agent-id': AGENT_ID, authorization: `Bearer ${SECRET}` });
    const { message: hello } = await cp.message(session, 'hello');
    expect(session.received[0]!.message).toBe(hello);
    expect(hello).toMatchObject({ v: PROTOCOL_VERSION, seq: 0, configHash: HASH_A, description: DESCRIPTION, capabilities: expect.arrayContaining(['config.live-apply']) });
    expect(channel!.status).toBe('connected');
  });

  it('says hello with a null hash before it runs any config', async () => {
    start(fakeAgent(null).agent);
    const { message: hello } = await cp.message(await cp.session(0), 'hello');
    expect(hello.configHash).toBeNull();
  });

  it('validates and applies a config, reporting applying then applied', async () => {
    const { agent, state } = fakeAgent(HASH_A);
    start(agent);
    const session = await cp.session(0);
    await cp.message(session, 'hello');
    cp.send(session, config(HASH_B, VALID_CONFIG));
    await cp.until('applied', () => statuses(session).some(([s]) => s === 'applied'));
    expect(statuses(session)).toEqual([
      ['applying', HASH_B],
      ['applied', HASH_B],
    ]);
    expect(state.applied).toHaveLength(1);
    expect(state.applied[0]).toMatchObject({ configHash: HASH_B, document: VALID_CONFIG, pipelines: PIPELINES });
    expect(state.applied[0]!.config.instances.map((i) => i.name)).toEqual(['node']);
    // The next hello says what runs now.
    cp.send(session, { type: 'requestFullState', v: PROTOCOL_VERSION, reason: 'test' });
    expect((await cp.message(session, 'hello', 1)).message.configHash).toBe(HASH_B);
  });

  it('reports an invalid config as failed naming the path, and never applies it', async () => {
    const { agent, state } = fakeAgent(HASH_A);
    start(agent);
    const session = await cp.session(0);
    await cp.message(session, 'hello');
    cp.send(session, config(HASH_B, INVALID_CONFIG));
    const { message: failed } = await cp.until('failed', () => session.received.find((r): r is { at: number; message: Of<'configStatus'> } => r.message.type === 'configStatus' && r.message.status === 'failed'));
    expect(failed.configHash).toBe(HASH_B);
    expect(failed.error).toMatch(/^metrics\.configs\[0\]\.scrape_configs\[0\]\.scrape_interval: not a valid duration string "soon"/);
    expect(state.applied).toEqual([]);
    expect(state.running).toBe(HASH_A);
    expect(logs.some((l) => l.level === 'error' && l.message.startsWith('cannot apply the config'))).toBe(true);
  });

  it('reports a failed apply with its error; the previous config keeps running', async () => {
    const { agent, state } = fakeAgent(HASH_A);
    state.failWith = 'remote_write[0].tls_config.ca_file: cannot read /etc/ca.pem';
    start(agent);
    const session = await cp.session(0);
    await cp.message(session, 'hello');
    cp.send(session, config(HASH_B, VALID_CONFIG));
    await cp.until('failed', () => statuses(session).some(([s]) => s === 'failed'));
    const [applying, failed] = session.received.filter((r) => r.message.type === 'configStatus').map((r) => r.message as Of<'configStatus'>);
    expect(applying).toMatchObject({ status: 'applying', configHash: HASH_B });
    expect(failed).toMatchObject({ status: 'failed', configHash: HASH_B, error: state.failWith });
    expect(state.running).toBe(HASH_A);
  });

  it('confirms a config it already runs without applying it again', async () => {
    const { agent, state } = fakeAgent(HASH_A);
    start(agent);
    const session = await cp.session(0);
    await cp.message(session, 'hello');
    cp.send(session, config(HASH_A, VALID_CONFIG));
    await cp.message(session, 'configStatus');
    expect(statuses(session)).toEqual([['applied', HASH_A]]);
    expect(state.applied).toEqual([]);
  });

  it('applies configs one at a time, in the order they came', async () => {
    const { agent, state } = fakeAgent(HASH_A);
    start(agent);
    const session = await cp.session(0);
    await cp.message(session, 'hello');
    cp.send(session, config(HASH_B, VALID_CONFIG));
    cp.send(session, config(HASH_C, INVALID_CONFIG));
    await cp.until('both reports', () => statuses(session).length >= 4);
    expect(statuses(session)).toEqual([
      ['applying', HASH_B],
      ['applied', HASH_B],
      ['applying', HASH_C],
      ['failed', HASH_C],
    ]);
    expect(state.running).toBe(HASH_B);
  });

  it('sends heartbeats at the interval the welcome sets, with the agent counters and rising sequence numbers', async () => {
    cp.heartbeatIntervalMs = 1_000;
    const { timers, intervals } = recordingTimers();
    start(fakeAgent(HASH_A).agent, { timers });
    const session = await cp.session(0);
    const hello = await cp.message(session, 'hello');
    const first = await cp.message(session, 'heartbeat');
    const second = await cp.message(session, 'heartbeat', 1);
    expect(intervals).toEqual([1_000]);
    // Not before the interval (1 ms for the event loop's millisecond clock).
    expect(first.at - session.at).toBeGreaterThanOrEqual(999);
    expect(first.message).toMatchObject({ counters: { samplesScraped: 120, samplesSent: 100, samplesDropped: 2 }, targets: [{ job: 'node', up: true }] });
    expect(Math.abs(Date.parse(first.message.at) - Date.now())).toBeLessThan(60_000);
    expect([hello.message.seq, first.message.seq, second.message.seq]).toEqual([0, 1, 2]);
  });

  it('says hello again when the control plane asks for the full state', async () => {
    start(fakeAgent(HASH_A).agent);
    const session = await cp.session(0);
    await cp.message(session, 'hello');
    cp.send(session, { type: 'requestFullState', v: PROTOCOL_VERSION, reason: 'expected message 4, got 9' });
    const { message: again } = await cp.message(session, 'hello', 1);
    expect(again).toMatchObject({ seq: 1, configHash: HASH_A, description: DESCRIPTION });
    expect(logs.some((l) => l.message === 'the control plane asked for the full state' && l.fields?.reason === 'expected message 4, got 9')).toBe(true);
  });

  it('reconnects after the control plane closes the connection, and says hello again', async () => {
    start(fakeAgent(HASH_A).agent);
    const first = await cp.session(0);
    await cp.message(first, 'hello');
    first.ws.close(1001, 'going away');
    const second = await cp.session(1);
    const { message: hello } = await cp.message(second, 'hello');
    expect(hello.configHash).toBe(HASH_A);
    expect(second.headers.authorization).toBe(`Bearer ${SECRET}`);
    expect(logs.some((l) => l.message === 'lost the control plane connection; reconnecting' && l.fields?.code === 1001)).toBe(true);
  });

  it('honours Retry-After on a 503: it does not reconnect before it (with jitter on top)', async () => {
    cp.refuse = (n) => (n === 0 ? { status: 503, headers: { 'retry-after': '1' } } : undefined);
    const { timers, timeouts } = recordingTimers();
    // Backoff alone would retry after at most 10 ms; the server's 1 s is the floor, and a
    // quarter of it (random = 0.25) is the jitter on top.
    start(fakeAgent(HASH_A).agent, { timers, random: () => 0.25, minBackoffMs: 10, maxBackoffMs: 10 });
    const session = await cp.session(0);
    await cp.message(session, 'hello');
    expect(cp.attempts).toHaveLength(2);
    expect(timeouts).toEqual([1_250]);
    expect(cp.attempts[1]!.at - cp.attempts[0]!.at).toBeGreaterThanOrEqual(1_250 - 1);
    expect(logs.find((l) => l.message === 'the control plane refused the connection')?.fields).toMatchObject({ status: 503, reason: 'refused attempt 0', retryAfterMs: 1_000 });
  });

  it("honours the server's disconnect.retryAfterMs before coming back", async () => {
    const { timers, timeouts } = recordingTimers();
    start(fakeAgent(HASH_A).agent, { timers, random: () => 0.5 });
    const first = await cp.session(0);
    await cp.message(first, 'hello');
    cp.send(first, { type: 'disconnect', v: PROTOCOL_VERSION, reason: 'the control plane is restarting', retryAfterMs: 400 });
    const closedAt = performance.now();
    first.ws.close(1001, 'server shutting down');
    const second = await cp.session(1);
    expect(timeouts).toEqual([600]);
    expect(second.at - closedAt).toBeGreaterThanOrEqual(600 - 1);
  });

  it('backs off exponentially with full jitter, capped, and starts again from the base after a success', async () => {
    // random = 1: every delay is its bound min(cap, base·2^n) — the sequence must grow and stop at the cap.
    cp.refuse = (n) => (n < 6 ? { status: 500 } : undefined);
    const { timers, timeouts } = recordingTimers();
    start(fakeAgent(HASH_A).agent, { timers, random: () => 1, minBackoffMs: 20, maxBackoffMs: 160 });
    const session = await cp.session(0);
    await cp.message(session, 'hello');
    expect(cp.attempts).toHaveLength(7);
    expect(timeouts).toEqual([20, 40, 80, 160, 160, 160]);
    for (let i = 1; i < cp.attempts.length; i++) expect(cp.attempts[i]!.at - cp.attempts[i - 1]!.at).toBeGreaterThanOrEqual(timeouts[i - 1]! - 1);
    // A connection that opened resets the exponent.
    session.ws.close(1001, 'going away');
    await cp.session(1);
    expect(timeouts).toEqual([20, 40, 80, 160, 160, 160, 20]);
  });

  it('full jitter: each delay is the injected fraction of its bound, never below 0 or above the bound', async () => {
    const fractions = [0, 0.5, 0.1, 0.99, 0.3, 0];
    let i = 0;
    cp.refuse = (n) => (n < fractions.length ? { status: 500 } : undefined);
    const { timers, timeouts } = recordingTimers();
    start(fakeAgent(HASH_A).agent, { timers, random: () => fractions[i++ % fractions.length]!, minBackoffMs: 20, maxBackoffMs: 160 });
    await cp.message(await cp.session(0), 'hello');
    const bounds = [20, 40, 80, 160, 160, 160];
    expect(timeouts).toEqual(bounds.map((b, n) => fractions[n]! * b));
    for (const [n, d] of timeouts.entries()) {
      expect(d).toBeGreaterThanOrEqual(0);
      expect(d).toBeLessThanOrEqual(bounds[n]!);
    }
    // random = 0 (the first and last fractions): no wait at all.
    expect(timeouts[0]).toBe(0);
  });

  it('keeps trying a server that is down, and stops reconnecting on stop()', async () => {
    await cp.close();
    const { timers, timeouts, scheduled } = recordingTimers();
    start(fakeAgent(HASH_A).agent, { timers, random: () => 1, minBackoffMs: 5, maxBackoffMs: 20 });
    // Nothing listens: every attempt fails at once and schedules the next, growing to the cap.
    await scheduled(4);
    expect(timeouts.slice(0, 4)).toEqual([5, 10, 20, 20]);
    expect(channel!.status).not.toBe('connected');
    await channel!.stop();
    expect(channel!.status).toBe('stopped');
    expect(logs.some((l) => l.message === 'cannot reach the control plane; keeps running the last config' && l.fields?.error === 'ECONNREFUSED')).toBe(true);
  });
});

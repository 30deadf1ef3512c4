import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { repoRoot, startControlPlane, type RunningControlPlane } from '../support/control-plane.js';
import { agentsById, signIn, type Operator } from '../support/fleet.js';
import { eventually } from '../support/wait.js';

const ADMIN = { email: 'admin@example.com', password: 'a long admin password' };

/** An agent on the WebSocket, driven by hand (no fleet-agent process): what the server sends, in order. */
interface RawAgent {
  ws: WebSocket;
  messages: Array<{ type: string; code?: string; message?: string; configHash?: string }>;
  closed: Promise<{ code: number; reason: string }>;
  /** Resolves with the first message (since the start) of `type` that passes `match`. */
  next(type: string, match?: (m: RawAgent['messages'][number]) => boolean): Promise<RawAgent['messages'][number]>;
}

function heartbeat(seq: number, n: number): string {
  return JSON.stringify({
    type: 'heartbeat',
    v: 1,
    seq,
    at: new Date().toISOString(),
    counters: { samplesScraped: n, samplesSent: n, samplesDropped: 0, samplesRetried: 0, pendingSamples: 0, walBytes: 0 },
    destinations: [],
    targets: [],
  });
}

/**
 * The flooding agent, in a process of its own (so sending 10,000 frames does not stall the
 * test's own /healthz probes): connects, says hello, waits for its config, prints `ready`;
 * on a line on stdin sends 10,000 valid heartbeats at once, then prints what it got as JSON
 * (`sentMs`, the close code and reason, the error messages) and exits.
 */
const FLOODER = `
import WebSocket from 'ws';
const [url, id, secret] = process.argv.slice(1);
const ws = new WebSocket(url, { headers: { 'x-fleet-agent-id': id, authorization: 'Bearer ' + secret } });
const errors = [];
let configured = false;
ws.on('message', (d) => {
  const m = JSON.parse(String(d));
  if (m.type === 'error') errors.push(m);
  if (m.type === 'config' && !configured) { configured = true; process.stdout.write('ready\\n'); }
});
ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', v: 1, seq: 0, description: { hostname: 'flooder', version: 'test', platform: 'generic', labels: {} }, capabilities: [], configHash: null })));
ws.on('close', (code, reason) => { process.stdout.write(JSON.stringify({ sentMs, code, reason: String(reason), errors }) + '\\n'); process.exit(0); });
let sentMs = -1;
process.stdin.once('data', () => {
  const t = performance.now();
  for (let i = 1; i <= 10000; i++) ws.send(JSON.stringify({ type: 'heartbeat', v: 1, seq: i, at: new Date().toISOString(), counters: { samplesScraped: i, samplesSent: i, samplesDropped: 0, samplesRetried: 0, pendingSamples: 0, walBytes: 0 }, destinations: [], targets: [] }));
  sentMs = performance.now() - t;
});
`;

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

/**
 * The control plane as one process (PGlite) against agents that misbehave: one agent floods
 * 10,000 valid heartbeats while /healthz and a second, honest agent are measured; garbage
 * upgrades from the address a real agent shares.
 */
describe('agent gateway under a hostile agent (real control-plane process)', () => {
  let dir: string;
  let cp: RunningControlPlane;
  let op: Operator;
  let token: string;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-abuse-'));
    cp = await startControlPlane({ DATA_DIR: dir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    op = await signIn(() => cp.url, ADMIN.email, ADMIN.password);
    ({ token } = await op.call<{ token: string }>('enrollment.create', { name: 'abuse', expiresInHours: 1, maxUses: 10, labels: { env: 'prod' } }));
  }, 120_000);

  afterAll(async () => {
    for (const ws of sockets) ws.terminate();
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  async function enroll(hostname: string): Promise<{ agentId: string; agentSecret: string }> {
    const res = await fetch(`${cp.url}/agent/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, description: { hostname, version: 'test', platform: 'generic', labels: {} } }),
    });
    expect(res.status).toBe(201);
    return (await res.json()) as { agentId: string; agentSecret: string };
  }

  function connect(agent: { agentId: string; agentSecret: string }): Promise<RawAgent> {
    const ws = new WebSocket(`${cp.url.replace(/^http/, 'ws')}/agent/v1/ws`, { headers: { 'x-fleet-agent-id': agent.agentId, authorization: `Bearer ${agent.agentSecret}` } });
    sockets.push(ws);
    const messages: RawAgent['messages'] = [];
    const waiters = new Set<() => void>();
    ws.on('message', (data) => {
      messages.push(JSON.parse(String(data)) as RawAgent['messages'][number]);
      for (const w of waiters) w();
    });
    ws.on('error', () => undefined);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));
    const next: RawAgent['next'] = (type, match = () => true) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${type} within 20 s; got ${messages.map((m) => m.type).join(', ')}`)), 20_000);
        const check = () => {
          const m = messages.find((x) => x.type === type && match(x));
          if (!m) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(m);
        };
        waiters.add(check);
        check();
      });
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve({ ws, messages, closed, next }));
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused with ${res.statusCode}`)));
    });
  }

  /** An upgrade without credentials; resolves with the HTTP status it was refused with. */
  function refusedUpgrade(): Promise<number> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(`${cp.url.replace(/^http/, 'ws')}/agent/v1/ws`);
      ws.once('open', () => {
        ws.terminate();
        reject(new Error('the upgrade was accepted'));
      });
      ws.once('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      ws.on('error', () => undefined);
    });
  }

  async function helloed(agent: { agentId: string; agentSecret: string }, hostname: string): Promise<RawAgent> {
    const a = await connect(agent);
    a.ws.send(JSON.stringify({ type: 'hello', v: 1, seq: 0, description: { hostname, version: 'test', platform: 'generic', labels: {} }, capabilities: [], configHash: null }));
    await a.next('config');
    return a;
  }

  it('10,000 heartbeats from one agent: /healthz stays fast, another agent’s heartbeat and config push go through, the flooder is closed (1008)', async () => {
    const [flooder, honest] = [await enroll('flooder'), await enroll('honest')];
    const child = spawn(process.execPath, ['--input-type=module', '-e', FLOODER, `${cp.url.replace(/^http/, 'ws')}/agent/v1/ws`, flooder.agentId, flooder.agentSecret], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (c: string) => (out += c));
    await eventually('the flooding agent to be connected and configured', () => out.includes('ready\n'), 20_000, 10);
    const exited = once(child, 'exit');
    const calm = await helloed(honest, 'honest');

    // /healthz, one request after another, from before the flood until well after it.
    const probes: Array<{ at: number; ms: number }> = [];
    let probing = true;
    const probe = (async () => {
      while (probing) {
        const at = performance.now();
        const res = await fetch(`${cp.url}/healthz`);
        await res.arrayBuffer();
        probes.push({ at, ms: performance.now() - at });
        expect(res.status).toBe(200);
      }
    })();

    const started = performance.now();
    child.stdin.write('go\n');
    // The honest agent reports as the flood comes in.
    const marker = 424_242;
    calm.ws.send(heartbeat(1, marker));
    await eventually('the honest agent’s heartbeat to be recorded', async () => (await agentsById(op)).get(honest.agentId)?.counters?.samplesScraped === marker, 30_000, 10);
    const honestMs = performance.now() - started;

    // A publish during the aftermath still reaches the honest agent.
    const publishAt = performance.now();
    const { pipeline } = await op.call<{ pipeline: { id: string } }>('pipelines.create', {
      name: 'node',
      selector: [{ name: 'env', op: '=', value: 'prod' }],
      document: { scrape_configs: [{ job_name: 'node', static_configs: [{ targets: ['127.0.0.1:9100'] }] }], remote_write: [{ name: 'local', url: 'http://127.0.0.1:9/api/v1/write' }] },
      note: 'during a flood',
    });
    await op.call('pipelines.publish', { id: pipeline.id, version: 1, note: 'roll out' });
    const firstConfig = calm.messages.find((m) => m.type === 'config')!.configHash;
    await calm.next('config', (m) => m.configHash !== firstConfig);
    const pushMs = performance.now() - publishAt;

    await exited;
    const closedMs = performance.now() - started;
    const result = JSON.parse(out.slice(out.indexOf('ready\n') + 6)) as { sentMs: number; code: number; reason: string; errors: Array<{ code: string }> };
    const closed = { code: result.code, reason: result.reason };
    const sentMs = result.sentMs;
    // Keep probing a little after the flood ended, then stop.
    const until = performance.now() + 1_000;
    await eventually('a second of /healthz after the flood', () => performance.now() > until, 5_000, 50);
    probing = false;
    await probe;

    const latencies = probes.map((p) => p.ms);
    // The requests made while the flood was being received (from its first frame until the flooder was closed).
    const during = probes.filter((p) => p.at >= started - 50 && p.at <= started + closedMs).map((p) => p.ms);
    const p99 = percentile(latencies, 99);
    const max = Math.max(...latencies);
    // eslint-disable-next-line no-console -- the measured numbers, quoted in the issue's closing note
    console.log(
      `10,000 heartbeats sent in ${sentMs.toFixed(0)} ms by one agent: /healthz p99 ${p99.toFixed(1)} ms, max ${max.toFixed(1)} ms over ${latencies.length} requests ` +
        `(${during.length} during the flood: p99 ${percentile(during, 99).toFixed(1)} ms); ` +
        `honest agent's heartbeat recorded ${honestMs.toFixed(0)} ms after the flood began; config push ${pushMs.toFixed(0)} ms after publish; flooder closed (${closed.code}) after ${closedMs.toFixed(0)} ms`,
    );
    expect(closed).toEqual({ code: 1008, reason: 'message rate limit exceeded' });
    expect(result.errors).toEqual([expect.objectContaining({ code: 'rate_limited' })]);
    // Generous bounds (the issue measured /healthz waiting ~38 s).
    expect(p99).toBeLessThan(500);
    expect(during.length).toBeGreaterThan(0);
    expect(Math.max(...during)).toBeLessThan(2_000);
    expect(honestMs).toBeLessThan(5_000);
    expect(pushMs).toBeLessThan(5_000);
    expect(calm.ws.readyState).toBe(WebSocket.OPEN);
    // What the flooder got recorded is from within its burst, never the 10,000th.
    expect((await agentsById(op)).get(flooder.agentId)?.counters?.samplesScraped ?? 0).toBeLessThan(1_000);
    // A handful of log lines for the whole flood.
    const flooderLines = cp.logs.filter((l) => l.agentId === flooder.agentId && Number(l.level) >= 40);
    expect(flooderLines.length).toBeLessThanOrEqual(3);
  }, 120_000);

  it('60+ unauthenticated upgrades from 127.0.0.1, then a real agent from 127.0.0.1 connects at once', async () => {
    const real = await enroll('real');
    const statuses: number[] = [];
    for (let i = 0; i < 70; i++) statuses.push(await refusedUpgrade());
    expect(statuses.filter((s) => s === 401).length).toBe(60);
    expect(statuses.slice(60).every((s) => s === 429)).toBe(true);
    const started = performance.now();
    const agent = await connect(real);
    await agent.next('welcome');
    const ms = performance.now() - started;
    // eslint-disable-next-line no-console -- the measured number
    console.log(`after 70 unauthenticated upgrades from 127.0.0.1, a real agent from 127.0.0.1 connected in ${ms.toFixed(0)} ms`);
    expect(ms).toBeLessThan(2_000);
  });

  it('a NUL in an enrollment string is a 400 naming the field, and no log line carries query parameters', async () => {
    const res = await fetch(`${cp.url}/agent/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, description: { hostname: 'bad\u0000host', version: 'test', platform: 'generic', labels: {} } }),
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ field: 'description.hostname', error: expect.stringMatching(/NUL character/) });
    const all = JSON.stringify(cp.logs);
    expect(all).not.toMatch(/Failed query|params:/);
  });
});

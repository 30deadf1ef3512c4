/**
 * The control plane's HTTP front door against hostile callers, on a real process: anonymous
 * batch floods and huge bodies (measured: /healthz latency, the server's memory), text
 * PostgreSQL cannot store, cross-origin mutations, clients behind a trusted proxy, and HTTPS
 * served by the control plane itself (with WebSocket upgrades over TLS).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToExit, startControlPlane, type RunningControlPlane } from '../support/control-plane.js';

const ADMIN = { email: 'admin@example.com', password: 'hardening-test-password-4831' };

/** Latency percentile (nearest rank) of `samples`, in ms. */
function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Pings `/healthz` back to back for as long as `attack` runs; the latencies, in ms. */
async function healthzDuring(url: string, attack: () => Promise<unknown>): Promise<number[]> {
  await (await fetch(`${url}/healthz`)).text(); // a warm connection, so the first probe measures the server
  let done = false;
  const running = attack().finally(() => (done = true));
  const latencies: number[] = [];
  do {
    const started = performance.now();
    const res = await fetch(`${url}/healthz`);
    await res.text();
    expect(res.status).toBe(200);
    latencies.push(performance.now() - started);
  } while (!done);
  await running;
  return latencies;
}

/** Peak and current resident memory of process `pid`, in bytes (Linux /proc). */
function memoryOf(pid: number): { peak: number; rss: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { peak: kb('VmHWM'), rss: kb('VmRSS') };
}

/**
 * Sends a body of `total` bytes (1 MiB chunks, as fast as the server takes them) until the
 * server answers; with `declare` the length is announced in Content-Length, else it is chunked.
 */
function sendHugeBody(url: string, total: number, declare: boolean): Promise<{ status: number; body: string; sentBytes: number; ms: number }> {
  const started = performance.now();
  const chunk = Buffer.alloc(1024 * 1024, 'x');
  return new Promise((resolve, reject) => {
    let sent = 0;
    let answered = false;
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'application/json', ...(declare ? { 'content-length': total } : {}) };
    const req = http.request(`${url}/api/trpc/setup.complete`, { method: 'POST', headers, agent: false }, (res) => {
      answered = true;
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(parts).toString(), sentBytes: sent, ms: performance.now() - started });
        req.destroy();
      });
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server closes the connection after its early answer; writing on is refused then.
      if (!answered && err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    const pump = () => {
      while (!answered && !req.destroyed && sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered && !req.destroyed) req.end();
    };
    req.flushHeaders();
    pump();
  });
}

async function signIn(url: string, headers: Record<string, string> = {}): Promise<string> {
  const res = await fetch(`${url}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: url, ...headers }, body: JSON.stringify(ADMIN) });
  expect(res.status).toBe(200);
  return res.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
}

describe('the control plane under anonymous floods', () => {
  let cp: RunningControlPlane;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-hardening-'));
    cp = await startControlPlane({ DATA_DIR: dir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
  });
  afterAll(async () => {
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const batch = (calls: number) => `/api/trpc/${Array.from({ length: calls }, () => 'accounts.list').join(',')}?batch=1`;

  it('batches of 1,000 anonymous calls (5 attackers, 10 each) are refused at once and /healthz stays fast', async () => {
    const statuses = new Set<number>();
    const attacker = async () => {
      for (let i = 0; i < 10; i++) {
        const res = await fetch(`${cp.url}${batch(1000)}`);
        statuses.add(res.status);
        await res.text();
      }
    };
    const latencies = await healthzDuring(cp.url, () => Promise.all(Array.from({ length: 5 }, attacker)));
    const p99 = percentile(latencies, 99);
    // eslint-disable-next-line no-console -- the measured numbers, to quote
    console.log(`50 anonymous batches of 1,000 calls (5 at a time): /healthz p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms, max ${Math.max(...latencies).toFixed(1)} ms over ${latencies.length} probes`);
    expect([...statuses]).toEqual([400]);
    // Before the batch limit each probe waited for the batches in flight: p99 1,048 ms here.
    expect(p99).toBeLessThan(500);
  });

  it('a flood of batches at the allowed size (5 attackers × 40 batches of 25 calls) does not stall /healthz either', async () => {
    const statuses = new Set<number>();
    const attacker = async () => {
      for (let i = 0; i < 40; i++) {
        const res = await fetch(`${cp.url}${batch(25)}`);
        statuses.add(res.status);
        await res.text();
      }
    };
    const latencies = await healthzDuring(cp.url, () => Promise.all(Array.from({ length: 5 }, attacker)));
    const p99 = percentile(latencies, 99);
    // eslint-disable-next-line no-console -- the measured numbers, to quote
    console.log(`200 anonymous batches of 25 calls (5 at a time): /healthz p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${p99.toFixed(1)} ms over ${latencies.length} probes`);
    expect([...statuses]).toEqual([401]);
    expect(p99).toBeLessThan(1000);
  });

  it('a 100 MiB anonymous body is refused at once (413) without the server holding it', async () => {
    const pid = cp.child.pid!;
    const before = memoryOf(pid);
    const declared = await sendHugeBody(cp.url, 100 * 1024 * 1024, true);
    const chunked = await sendHugeBody(cp.url, 100 * 1024 * 1024, false);
    const after = memoryOf(pid);
    const growth = Math.max(after.peak - before.peak, after.rss - before.rss, 0);
    // eslint-disable-next-line no-console -- the measured numbers, to quote
    console.log(
      `100 MiB anonymous body: 413 after ${declared.ms.toFixed(0)} ms (Content-Length) / ${chunked.ms.toFixed(0)} ms (chunked, ${(chunked.sentBytes / 1024 / 1024).toFixed(0)} MiB written by then); server RSS growth ${(growth / 1024 / 1024).toFixed(1)} MiB (peak ${(before.peak / 1024 / 1024).toFixed(0)} → ${(after.peak / 1024 / 1024).toFixed(0)} MiB)`,
    );
    for (const r of [declared, chunked]) {
      expect(r.status).toBe(413);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'request body too large: this endpoint accepts at most 1 MiB (1048576 bytes)' });
    }
    expect(declared.ms).toBeLessThan(2000);
    expect(chunked.ms).toBeLessThan(5000);
    expect(growth).toBeLessThan(32 * 1024 * 1024);
    expect((await fetch(`${cp.url}/healthz`)).status).toBe(200);
  });

  it('text PostgreSQL cannot store is a 400 naming the field, not a 500', async () => {
    const cookie = await signIn(cp.url);
    const res = await fetch(`${cp.url}/api/trpc/accounts.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: cp.url },
      body: JSON.stringify({ accountId: '123456789012', name: 'dev\u0000', defaultRegion: 'us-east-1', roleArn: 'arn:aws:iam::123456789012:role/fleet' }),
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { message: string; data: { fieldErrors: unknown } } };
    expect(body.error.message).toBe('name: contains a NUL character');
    expect(body.error.data.fieldErrors).toEqual([{ path: 'name', message: 'contains a NUL character' }]);
    expect(cp.logs.filter((l) => l.msg === 'tRPC procedure failed')).toEqual([]);
  });

  it('a signed-in mutation from another origin is refused with 403; the same call from the UI origin goes through', async () => {
    const cookie = await signIn(cp.url);
    const create = (origin: string | undefined) =>
      fetch(`${cp.url}/api/trpc/enrollment.create`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie, ...(origin ? { origin } : {}) },
        body: JSON.stringify({ name: 'csrf probe', expiresInHours: 1 }),
      });
    const forged = await create('https://evil.example');
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { error: { message: string } }).error.message).toMatch(/^refused: requests from https:\/\/evil.example may not act for a signed-in operator/);
    expect((await create(undefined)).status).toBe(403);
    expect((await create(cp.url)).status).toBe(200);
    // Only the same-origin call created a token.
    const tokens = await fetch(`${cp.url}/api/trpc/enrollment.list`, { headers: { cookie } });
    expect(JSON.stringify(await tokens.json()).split('"csrf probe"')).toHaveLength(2);
  });
});

describe('behind a trusted proxy (TRUSTED_PROXIES)', () => {
  let cp: RunningControlPlane;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-proxy-'));
    cp = await startControlPlane({ DATA_DIR: dir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password, TRUSTED_PROXIES: '127.0.0.0/8, ::1' });
  });
  afterAll(async () => {
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('sign-in rate limits are per forwarded client, not one shared limit for the proxy', async () => {
    const attempt = (client: string) =>
      fetch(`${cp.url}/api/auth/sign-in/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: cp.url, 'x-forwarded-for': `6.6.6.6, ${client}` },
        body: JSON.stringify({ email: `nobody-${client}@example.com`, password: 'wrong password!!' }),
      }).then((r) => r.status);
    const noisy: number[] = [];
    for (let i = 0; i < 12; i++) noisy.push(await attempt('198.51.100.10'));
    expect(noisy.slice(-2)).toEqual([429, 429]);
    // Another client behind the same proxy is not locked out by the first one.
    expect(await attempt('198.51.100.11')).toBe(401);
  });

  it('the audit log records the forwarded client address of a change', async () => {
    const cookie = await signIn(cp.url, { 'x-forwarded-for': '198.51.100.20' });
    const res = await fetch(`${cp.url}/api/trpc/enrollment.create`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: cp.url, 'x-forwarded-for': '10.1.1.1, 198.51.100.21' },
      body: JSON.stringify({ name: 'via the proxy', expiresInHours: 1 }),
    });
    expect(res.status).toBe(200);
    const audit = await fetch(`${cp.url}/api/trpc/audit.list?input=${encodeURIComponent(JSON.stringify({ limit: 50 }))}`, { headers: { cookie } });
    const entries = JSON.stringify(await audit.json());
    expect(entries).toContain('"sourceIp":"198.51.100.21"');
    expect(entries).not.toContain('10.1.1.1');
  });
});

describe('HTTPS served by the control plane (TLS_CERT_FILE, TLS_KEY_FILE)', () => {
  let cp: RunningControlPlane;
  let dir: string;
  let ca: Buffer;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-tls-'));
    const [cert, key] = [path.join(dir, 'cert.pem'), path.join(dir, 'key.pem')];
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-keyout', key, '-out', cert, '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost'], { stdio: 'ignore' });
    ca = readFileSync(cert);
    cp = await startControlPlane({ DATA_DIR: path.join(dir, 'data'), TLS_CERT_FILE: cert, TLS_KEY_FILE: key });
  });
  afterAll(async () => {
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /healthz over https, with HSTS', async () => {
    expect(cp.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const answer = await new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>((resolve, reject) => {
      https
        .get(`${cp.url}/healthz`, { ca }, (res) => {
          let body = '';
          res.on('data', (c: Buffer) => (body += c.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
        })
        .on('error', reject);
    });
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toEqual({ status: 'ok' });
    expect(answer.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(cp.setupLink()).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/setup\?token=/);
  });

  it('upgrades to the agent WebSocket over wss (401 without credentials proves the gateway answered)', async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${cp.url.replace(/^https/, 'wss')}/agent/v1/ws`, { ca });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => reject(new Error('the upgrade was accepted without credentials')));
      ws.on('error', (err) => reject(err));
    });
    expect(status).toBe(401);
  });

  it('refuses to start on an unreadable key file with one line naming TLS_KEY_FILE', async () => {
    const r = await runToExit({ DATA_DIR: path.join(dir, 'data2'), TLS_CERT_FILE: path.join(dir, 'cert.pem'), TLS_KEY_FILE: path.join(dir, 'missing.pem') });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`fleet control plane: TLS_KEY_FILE: cannot read ${path.join(dir, 'missing.pem')}: ENOENT (no such file or directory)\n`);
  });
});

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable, type Duplex } from 'node:stream';
import type { AgentChannel } from '@fleet/gateway';
import { openMemoryDatabase, type DatabaseHandle } from '@fleet/db';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_LIMITS } from './body-limit.js';
import { parseTrustedProxies } from './client-ip.js';
import { createControlPlaneServer, MAX_BATCH_SIZE } from './http.js';

/** What one request got back. */
interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let database: DatabaseHandle;
let base: string;
let server: http.Server;
const logs: Array<Record<string, unknown>> = [];
/** What the UI handler saw of each request. */
const uiSaw: Array<{ url: string; headers: http.IncomingHttpHeaders; body: string }> = [];
const upgrades: Array<{ pathname: string; sourceIp: string }> = [];

beforeAll(async () => {
  database = await openMemoryDatabase();
  await database.migrate();
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) logs.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const channel = {
    handleUpgrade(_req: http.IncomingMessage, socket: Duplex, _head: Buffer, pathname: string, sourceIp: string) {
      if (pathname !== '/agent/v1/ws') return false;
      upgrades.push({ pathname, sourceIp });
      socket.end('HTTP/1.1 401 Unauthorized\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return true;
    },
  } as unknown as AgentChannel;
  const front = createControlPlaneServer({
    database,
    logger: pino({ level: 'info' }, sink),
    version: 'test',
    auth: () => null,
    channel,
    trustedProxies: parseTrustedProxies('127.0.0.1'),
    trustedOrigins: () => ['http://fleet.test', 'http://127.0.0.1'],
    ui: async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req as AsyncIterable<Buffer>) chunks.push(c);
      uiSaw.push({ url: req.url ?? '', headers: { ...req.headers }, body: Buffer.concat(chunks).toString() });
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><p>ui</p>');
    },
  });
  server = front.server as http.Server;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await database.close();
});

/** One request with node:http (which, unlike fetch, reads an early answer while still sending). */
function request(method: string, pathname: string, options: { headers?: http.OutgoingHttpHeaders; body?: Buffer | string; chunks?: number; chunk?: Buffer } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(`${base}${pathname}`, { method, headers: options.headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      // The server closes the connection after an early 413; a write racing that close is expected.
      if (err.code !== 'EPIPE' && err.code !== 'ECONNRESET') reject(err);
    });
    if (options.chunks && options.chunk) {
      let sent = 0;
      const pump = () => {
        while (sent < options.chunks! && !req.destroyed) {
          sent++;
          if (!req.write(options.chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    } else req.end(options.body);
  });
}

const json = (a: Answer) => JSON.parse(a.body) as Record<string, unknown> & { error: unknown };

describe('request bodies are limited on every route', () => {
  it('refuses a Content-Length above the tRPC limit at once with 413 naming the limit', async () => {
    const started = Date.now();
    const a = await request('POST', '/api/trpc/setup.complete', { headers: { 'content-type': 'application/json', 'content-length': 100 * 1024 * 1024 }, body: '' });
    expect(a.status).toBe(413);
    expect(json(a)).toEqual({ error: 'request body too large: this endpoint accepts at most 1 MiB (1048576 bytes)', limitBytes: BODY_LIMITS.trpc });
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('refuses a chunked body as soon as it passes the limit (better-auth, gateway and UI routes too)', async () => {
    const chunk = Buffer.alloc(16 * 1024, 'a');
    for (const [path, limit] of [
      ['/api/trpc/setup.complete', '1 MiB'],
      ['/api/auth/sign-in/email', '64 KiB'],
      ['/agent/v1/enroll', '64 KiB'],
      ['/login', '64 KiB'],
    ] as const) {
      const a = await request('POST', path, { headers: { 'content-type': 'application/json' }, chunks: 10_000, chunk });
      expect(a.status, path).toBe(413);
      expect(String(json(a).error), path).toContain(`at most ${limit}`);
    }
    // The UI handler never saw a body it would have had to hold.
    expect(uiSaw.filter((s) => s.url === '/login')).toEqual([]);
  });

  it('hands a body under the limit on whole, chunked or not', async () => {
    const body = JSON.stringify({ filler: 'x'.repeat(200_000) });
    const chunked = await request('POST', '/api/trpc/system.status', { headers: { 'content-type': 'application/json' }, chunks: 1, chunk: Buffer.from(body) });
    // A query sent as POST (method override) with a body tRPC read and parsed: its answer, not a 413.
    expect(chunked.status).toBe(200);
    // No body at all (a POST of a procedure without input, as scripts send it).
    const empty = await request('POST', '/api/trpc/system.status', { headers: { 'content-type': 'application/json' } });
    expect(empty.status).toBe(200);
    const ui = await request('POST', '/form', { headers: { 'content-type': 'text/plain' }, body: 'hello' });
    expect(ui.status).toBe(200);
    expect(uiSaw.find((s) => s.url === '/form')?.body).toBe('hello');
  });
});

describe('slow clients', () => {
  it('closes a connection whose headers never finish (slowloris) after the 10 s header timeout, not Node’s 60 s', async () => {
    const { connect } = await import('node:net');
    const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    const started = Date.now();
    socket.write('GET /healthz HTTP/1.1\r\nhost: x\r\nx-slow: ');
    let answer = '';
    socket.on('data', (c: Buffer) => (answer += c.toString()));
    await new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const ms = Date.now() - started;
    // eslint-disable-next-line no-console -- the measured number, to quote
    console.log(`slow headers: closed after ${ms} ms`);
    expect(answer).toMatch(/^HTTP\/1\.1 408/);
    expect(ms).toBeLessThan(30_000);
  }, 40_000);
});

describe('tRPC batches', () => {
  it(`refuses more than ${MAX_BATCH_SIZE} calls with a message naming the limit, before reading them`, async () => {
    const paths = Array.from({ length: 1000 }, () => 'system.status').join(',');
    const a = await request('GET', `/api/trpc/${paths}?batch=1`);
    expect(a.status).toBe(400);
    expect(json(a)).toMatchObject({ error: { message: `a batch may hold at most ${MAX_BATCH_SIZE} calls; this one has 1000`, data: { code: 'BAD_REQUEST', httpStatus: 400 } } });
    const ok = await request('GET', `/api/trpc/${Array.from({ length: MAX_BATCH_SIZE }, () => 'system.status').join(',')}?batch=1`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.body)).toHaveLength(MAX_BATCH_SIZE);
  });
});

describe('cross-origin checks of signed-in tRPC requests', () => {
  const mutation = (headers: http.OutgoingHttpHeaders) => request('POST', '/api/trpc/setup.complete', { headers: { 'content-type': 'application/json', ...headers }, body: '{}' });

  it('refuses a cookie-carrying POST from another origin, or with none, with 403', async () => {
    const evil = await mutation({ cookie: 'fleet.session_token=abc', origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(json(evil)).toMatchObject({ error: { message: expect.stringContaining('requests from https://evil.example may not act for a signed-in operator'), data: { code: 'FORBIDDEN' } } });
    expect((await mutation({ cookie: 'fleet.session_token=abc', referer: 'https://evil.example/page' })).status).toBe(403);
    expect((await mutation({ cookie: 'fleet.session_token=abc', origin: 'null' })).status).toBe(403);
    const none = await mutation({ cookie: 'fleet.session_token=abc' });
    expect(none.status).toBe(403);
    expect(String((json(none).error as { message: string }).message)).toContain('Origin or Referer');
    expect(logs.some((l) => l.msg === 'cross-origin API request refused' && l.origin === 'https://evil.example')).toBe(true);
  });

  it('lets same-origin and trusted-origin calls, and calls without cookies, through to the procedure', async () => {
    // setup.complete answers 400 for the empty input: the request reached tRPC.
    expect((await mutation({ cookie: 'fleet.session_token=abc', origin: 'http://fleet.test' })).status).toBe(400);
    expect((await mutation({ cookie: 'fleet.session_token=abc', referer: 'http://127.0.0.1/pipelines' })).status).toBe(400);
    expect((await mutation({ origin: 'https://evil.example' })).status).toBe(400);
    expect((await mutation({})).status).toBe(400);
    // Reads are not checked.
    expect((await request('GET', '/api/trpc/system.status', { headers: { cookie: 'fleet.session_token=abc', origin: 'https://evil.example' } })).status).toBe(200);
  });
});

describe('security headers', () => {
  it('API answers and health probes: nosniff, no framing, no referrer leaks, no-store, a deny-all CSP', async () => {
    for (const path of ['/healthz', '/api/trpc/system.status', '/agent/v1/nothing', '/api/auth/get-session']) {
      const a = await request('GET', path);
      expect(a.headers['x-content-type-options'], path).toBe('nosniff');
      expect(a.headers['x-frame-options'], path).toBe('DENY');
      expect(a.headers['referrer-policy'], path).toBe('strict-origin-when-cross-origin');
      expect(a.headers['cache-control'], path).toBe('no-store');
      expect(a.headers['content-security-policy'], path).toContain("default-src 'none'");
      expect(a.headers['content-security-policy'], path).toContain("frame-ancestors 'none'");
      expect(a.headers['strict-transport-security'], path).toBeUndefined();
    }
  });

  it('pages: a strict CSP with a fresh nonce, the same one handed to the UI in the request header', async () => {
    const first = await request('GET', '/agents', { headers: { 'content-security-policy': "script-src 'nonce-chosen-by-client'" } });
    const second = await request('GET', '/agents');
    const policy = String(first.headers['content-security-policy']);
    expect(policy).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9+/]{22}=='/);
    expect(policy).toContain("frame-ancestors 'none'");
    expect(policy).toContain("object-src 'none'");
    expect(policy).not.toContain('unsafe-eval');
    expect(policy).not.toMatch(/script-src[^;]*unsafe-inline/);
    expect(second.headers['content-security-policy']).not.toBe(policy);
    const saw = uiSaw.filter((s) => s.url === '/agents');
    expect(saw[0]!.headers['content-security-policy']).toBe(policy);
    expect(first.headers['x-frame-options']).toBe('DENY');
    expect(first.headers['cache-control']).toBeUndefined();
  });

  it('HSTS when a trusted proxy says the client came over HTTPS', async () => {
    const a = await request('GET', '/healthz', { headers: { 'x-forwarded-proto': 'https' } });
    expect(a.headers['strict-transport-security']).toMatch(/^max-age=31536000/);
  });
});

describe('the client address behind a trusted proxy', () => {
  it('is stamped for better-auth and the UI and passed to the gateway and WebSocket upgrades', async () => {
    await request('GET', '/whoami', { headers: { 'x-forwarded-for': '6.6.6.6, 198.51.100.23', 'x-fleet-client-ip': '1.1.1.1' } });
    expect(uiSaw.find((s) => s.url === '/whoami')!.headers['x-fleet-client-ip']).toBe('198.51.100.23');

    const token = 'fleet_' + 'x'.repeat(40);
    const enroll = await request('POST', '/agent/v1/enroll', {
      headers: { 'content-type': 'application/json', 'x-forwarded-for': '198.51.100.24' },
      body: JSON.stringify({ token, description: { hostname: 'h', version: '0.1.0', platform: 'generic' } }),
    });
    expect(enroll.status).toBe(401);
    expect(logs.filter((l) => l.msg === 'enrollment refused').map((l) => l.sourceIp)).toContain('198.51.100.24');

    await new Promise<void>((resolve) => {
      const req = http.request(`${base}/agent/v1/ws`, { headers: { connection: 'Upgrade', upgrade: 'websocket', 'x-forwarded-for': '198.51.100.25' }, agent: false });
      req.on('response', () => resolve());
      req.on('error', () => resolve());
      req.end();
    });
    expect(upgrades).toContainEqual({ pathname: '/agent/v1/ws', sourceIp: '198.51.100.25' });
  });
});

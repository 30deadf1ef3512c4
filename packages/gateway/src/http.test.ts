import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createEnrollmentToken, createUser, getAgent, type NewToken, type ServiceContext } from '@fleet/core';
import { agents, enrollmentTokens, openMemoryDatabase, type DatabaseHandle } from '@fleet/db';
import { sql } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createGatewayHttpHandler, type GatewayOptions } from './http.js';

const description = { hostname: 'ip-10-0-0-7', version: '0.1.0', platform: 'generic', labels: {} };

describe('gateway enrollment over HTTP (in-process on PGlite)', () => {
  let database: DatabaseHandle;
  let ctx: ServiceContext;
  let server: http.Server | undefined;
  let base = '';
  const logs: { level: string; message: string; fields?: Record<string, unknown> | undefined }[] = [];

  beforeAll(async () => {
    database = await openMemoryDatabase();
    await database.migrate();
    const admin = await createUser({ db: database.db, actor: { type: 'system' } }, { email: 'ops@example.com', name: 'Ops', role: 'admin', password: 'correct horse battery' });
    ctx = { db: database.db, actor: { type: 'user', id: admin.id, email: admin.email, role: 'admin' } };
  });
  afterAll(async () => database?.close());
  beforeEach(async () => {
    logs.length = 0;
    for (const table of [agents, enrollmentTokens]) await database.db.delete(table);
  });
  afterEach(async () => {
    server?.closeAllConnections();
    if (server) await new Promise((resolve) => server!.close(resolve));
    server = undefined;
  });

  /** The gateway behind a server that takes the client address from `x-test-ip` (as the control plane's would from a trusted proxy). */
  async function start(options: Partial<GatewayOptions> = {}) {
    const handler = createGatewayHttpHandler({ database, log: (level, message, fields) => logs.push({ level, message, fields }), ...options });
    server = http.createServer((req, res) => {
      const { pathname } = new URL(req.url ?? '/', 'http://localhost');
      void handler(req, res, pathname, String(req.headers['x-test-ip'] ?? '127.0.0.1')).then((served) => served || res.writeHead(404).end());
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  }

  const token = async (input: Partial<NewToken> = {}) => (await createEnrollmentToken(ctx, { name: `t-${Math.random()}`, expiresInHours: 1, ...input })).token;
  async function enroll(body: unknown, ip = '127.0.0.1') {
    const res = await fetch(`${base}/agent/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-test-ip': ip }, body: JSON.stringify(body) });
    return { status: res.status, body: (await res.json()) as { error?: string; field?: string; agentId?: string } };
  }

  it('refuses NUL characters and lone surrogates in enrollment strings with 400 naming the field (was 500)', async () => {
    await start();
    const t = await token();
    for (const [body, field] of [
      [{ token: t, description: { ...description, hostname: 'web\u0000-1' } }, 'description.hostname'],
      [{ token: t, description: { ...description, version: '1.0\ud800' } }, 'description.version'],
      [{ token: t, description: { ...description, labels: { role: 'w\u0000' } } }, 'description.labels.role'],
      [{ token: `${t}\udc00`, description }, 'token'],
    ] as const) {
      const res = await enroll(body);
      expect(res, field).toMatchObject({ status: 400, body: { field, error: expect.stringMatching(/NUL character or a lone UTF-16 surrogate/) } });
    }
    expect(logs.filter((l) => l.level === 'error')).toEqual([]);
    expect((await enroll({ token: t, description })).status).toBe(201);
  });

  it('answers a body over 64 KiB with 413 before reading it all', async () => {
    await start();
    const res = await fetch(`${base}/agent/v1/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: 'x'.repeat(10 << 20) });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: string }).error).toMatch(/larger than the 65536-byte limit/);
  });

  it('logs a failed enrollment insert without its query or parameters (no secret hash)', async () => {
    await start();
    const t = await token();
    // Make the insert fail in the database itself, as an unstorable string used to.
    await database.db.execute(sql`alter table agents add constraint test_no_explode check (name <> 'explode')`);
    try {
      const res = await enroll({ token: t, description: { ...description, hostname: 'explode' } });
      expect(res).toEqual({ status: 500, body: { error: 'internal error' } });
      const line = logs.find((l) => l.message === 'enrollment failed');
      expect(line?.fields?.err).toMatch(/^database query failed: 23514 .*check constraint/);
      const text = JSON.stringify(line);
      expect(text).not.toMatch(/[0-9a-f]{64}/); // the secret's hash, or the token's
      expect(text).not.toMatch(/insert into|params|explode/i);
    } finally {
      await database.db.execute(sql`alter table agents drop constraint test_no_explode`);
    }
  });

  it('limits wrong tokens per address, and never refuses a valid token for them (NAT, load balancer)', async () => {
    await start({ failedEnrollPerMinute: 5 });
    const wrong = { token: `fet_${'A'.repeat(43)}`, description };
    const statuses = [];
    for (let i = 0; i < 8; i++) statuses.push((await enroll(wrong)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429, 429, 429]);
    // Malformed requests count as failures too.
    expect((await enroll({ token: 'short', description })).status).toBe(429);
    // A valid token from the same address enrolls at once.
    const res = await enroll({ token: await token(), description });
    expect(res.status).toBe(201);
    // Another address is not affected by the first one's failures.
    expect((await enroll(wrong, '10.0.0.9')).status).toBe(401);
    // The locked-out address's failures are not logged one by one.
    expect(logs.filter((l) => l.message === 'enrollment refused' && l.fields?.sourceIp === '127.0.0.1')).toHaveLength(5);
  });

  it('limits attempts per token, from any address', async () => {
    await start({ enrollPerTokenPerMinute: 3 });
    const t = await token({ maxUses: 10 });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await enroll({ token: t, description }, `10.0.0.${i + 1}`)).status);
    expect(statuses).toEqual([201, 201, 201, 429]);
    expect((await enroll({ token: t, description }, '10.0.1.1')).body.error).toMatch(/too many enrollment attempts with this token/);
    // Another token is not affected.
    expect((await enroll({ token: await token(), description })).status).toBe(201);
  });

  it('keeps a global admission rate: beyond it everyone gets 503 with Retry-After', async () => {
    // 0.3 a second in bursts of 3: the fourth request within 3 s is shed.
    await start({ admissionsPerSecond: 0.3 });
    const wrong = { token: `fet_${'A'.repeat(43)}`, description };
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await enroll(wrong, `10.0.2.${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 503]);
    const shed = await fetch(`${base}/agent/v1/enroll/challenge`, { method: 'POST', headers: { 'x-test-ip': '10.0.3.1' } });
    expect(shed.status).toBe(503);
    expect(Number(shed.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('labels: a token forbidding self-declared labels refuses them with 403; beyond the limits is 400', async () => {
    await start();
    const strict = await token({ labels: { team: 'sre' }, allowAgentLabels: false });
    const forbidden = await enroll({ token: strict, description: { ...description, labels: { env: 'prod' } } });
    expect(forbidden).toMatchObject({ status: 403, body: { field: 'description.labels', error: expect.stringMatching(/does not accept labels chosen by the agent \(env\)/) } });
    const many = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`l${i}`, 'v']));
    expect(await enroll({ token: await token(), description: { ...description, labels: many } })).toMatchObject({ status: 400, body: { field: 'description.labels', error: 'description.labels: at most 20 labels (got 3000)' } });
    const open = await enroll({ token: await token({ labels: { team: 'sre' } }), description: { ...description, labels: { team: 'payments', env: 'prod' } } });
    expect(open.status).toBe(201);
    expect((await getAgent(ctx, open.body.agentId!)).labels).toEqual({ team: 'sre', env: 'prod' });
  });
});

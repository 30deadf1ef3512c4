import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startControlPlane, type RunningControlPlane } from '../support/control-plane.js';

const ADMIN = { email: 'admin@example.com', password: 'a long admin password' };

describe('control-plane API over HTTP', () => {
  let cp: RunningControlPlane;
  let dir: string;
  let cookie = '';

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-api-'));
    cp = await startControlPlane({ DATA_DIR: dir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
    const res = await signIn(ADMIN.email, ADMIN.password);
    expect(res.status).toBe(200);
    cookie = (res.headers.getSetCookie() ?? []).map((c) => c.split(';')[0]).join('; ');
    expect(cookie).toContain('fleet.session_token=');
    expect(res.headers.getSetCookie().join('\n')).toMatch(/HttpOnly/i);
    expect(res.headers.getSetCookie().join('\n')).toMatch(/SameSite=Lax/i);
  });
  afterAll(async () => {
    await cp?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  function signIn(email: string, password: string, from = '127.0.0.9') {
    return fetch(`${cp.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: cp.url, 'x-forwarded-for': from },
      body: JSON.stringify({ email, password }),
    });
  }

  async function trpc(procedure: string, input: unknown, withCookie = true) {
    const res = await fetch(`${cp.url}/api/trpc/${procedure}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(withCookie ? { cookie, origin: cp.url } : {}) },
      body: JSON.stringify(input),
    });
    return { status: res.status, body: (await res.json()) as { error?: { message: string; data: { code: string; fieldErrors: Array<{ path: string; message: string }> | null } }; result?: { data: unknown } } };
  }

  it('refuses anonymous callers with 401', async () => {
    const r = await trpc('accounts.list', undefined, false);
    expect(r.status).toBe(401);
    expect(r.body.error!.data.code).toBe('UNAUTHORIZED');
  });

  it('answers malformed input with 400 naming each field', async () => {
    const r = await trpc('accounts.create', { accountId: '12', name: '', defaultRegion: 'mars-1', roleArn: 'nope' });
    expect(r.status).toBe(400);
    expect(r.body.error!.data.fieldErrors!.map((f) => f.path).sort()).toEqual(['accountId', 'defaultRegion', 'name', 'roleArn']);
    expect(r.body.error!.message).toContain('accountId: must be the 12-digit AWS account id');
    const unknownKey = await trpc('accounts.create', { accountId: '123456789012', name: 'x', defaultRegion: 'us-east-1', roleArn: 'arn:aws:iam::123456789012:role/r', accessKey: 'AKIA…' });
    expect(unknownKey.status).toBe(400);
    expect(unknownKey.body.error!.message).toContain('accessKey');
  });

  it('rate-limits sign-in attempts per source address, which a client cannot spoof', async () => {
    const statuses: number[] = [];
    // Each attempt claims another X-Forwarded-For: the server keys on the socket's address anyway.
    for (let i = 0; i < 12; i++) statuses.push((await signIn(ADMIN.email, 'wrong password!!', `10.9.9.${i}`)).status);
    // 10 attempts a minute, the successful sign-in above included.
    expect(statuses).toEqual([...Array<number>(9).fill(401), 429, 429, 429]);
    // The limit is per client: the signed-in session keeps working.
    expect((await trpc('users.me', undefined)).status).toBe(200);
  });
});

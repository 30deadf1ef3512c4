import { auditLog, sessions, users, type DatabaseHandle } from '@fleet/db';
import { describeEachDatabase } from '@fleet/db/test-support';
import { asc, eq } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ServiceContext } from '../context.js';
import { createUser, setUserDisabled, setUserPassword, unlockUser } from '../users/users.js';
import { createAuth, sessionUser, type Auth } from './auth.js';
import { LOCKOUT, recordedEmail } from './lockout.js';
import { storedSessionToken } from './session-tokens.js';

const BASE = 'http://localhost:3000';
const ADA = { email: 'ada@example.com', name: 'Ada', role: 'admin' as const, password: 'plum-orbit-cascade-47' };
const BOB = { email: 'bob@example.com', name: 'Bob', role: 'viewer' as const, password: 'vivid quartz lantern 93' };

/** Client addresses for the password-change requests, unique in the file (both engines' runs). */
let changeSeq = 0;

describeEachDatabase('operator sign-in', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let auth: Auth;
  let admin: ServiceContext;
  let bobId: string;
  let ipSeq = 0;

  beforeEach(async () => {
    ({ handle, dispose } = await backend.fresh());
    await handle.migrate();
    const ada = await createUser({ db: handle.db, actor: { type: 'system' } }, ADA);
    bobId = (await createUser({ db: handle.db, actor: { type: 'system' } }, BOB)).id;
    admin = { db: handle.db, actor: { type: 'user', id: ada.id, email: ada.email, role: 'admin' }, sourceIp: '127.0.0.1' };
    auth = createAuth({ database: handle, secret: 'x'.repeat(32), baseURL: BASE, trustedOrigins: [BASE] });
  });
  afterEach(async () => dispose());

  /** Signs in from a new source address each time unless `ip` is given (the per-address limit is 10 a minute). */
  async function signIn(email: string, password: string, ip = `203.0.113.${++ipSeq % 250}`) {
    const res = await auth.handler(
      new Request(`${BASE}/api/auth/sign-in/email`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', origin: BASE, 'x-fleet-client-ip': ip },
        body: JSON.stringify({ email, password }),
      }),
    );
    const body = (await res.json().catch(() => ({}))) as { message?: string; code?: string; lockedUntil?: string };
    const cookie = /fleet\.session_token=([^;]+)/.exec(res.headers.get('set-cookie') ?? '')?.[1];
    return { status: res.status, body, retryAfter: res.headers.get('retry-after'), cookie: cookie && decodeURIComponent(cookie) };
  }

  const audit = async () => (await handle.db.select().from(auditLog).orderBy(asc(auditLog.id))).filter((e) => e.action.startsWith('user.sign_in') || e.action === 'user.locked' || e.action === 'user.unlock');

  it(`locks an account after ${LOCKOUT.failures} failed sign-ins from any addresses, refuses it (right password or not) until unlocked`, async () => {
    for (let i = 1; i < LOCKOUT.failures; i++) expect((await signIn(BOB.email, `wrong guess number ${i}`)).status).toBe(401);
    const locking = await signIn(BOB.email, 'wrong guess number 10');
    expect(locking.status).toBe(423);
    expect(locking.body.code).toBe('ACCOUNT_LOCKED');
    expect(locking.body.message).toMatch(/^This account is locked after 10 failed sign-ins\. Try again after \d{4}-\d\d-\d\d \d\d:\d\d UTC \(in 15 minutes\), or ask an admin to unlock it\.$/);
    const until = new Date(locking.body.lockedUntil!);
    expect(until.getTime() - Date.now()).toBeGreaterThan(14 * 60_000);
    expect(until.getTime() - Date.now()).toBeLessThanOrEqual(15 * 60_000);

    // While locked the password is not even checked: right and wrong get the same answer.
    const right = await signIn(BOB.email, BOB.password);
    const wrong = await signIn(BOB.email, 'still guessing here');
    expect(right.status).toBe(423);
    expect(right.cookie).toBeUndefined();
    expect(wrong.status).toBe(423);
    expect(right.body.message).toBe(wrong.body.message);
    expect(Number(right.retryAfter)).toBeGreaterThan(14 * 60);

    // The admin sees the lock and lifts it; the operator signs in at once.
    const unlocked = await unlockUser(admin, bobId);
    expect(unlocked.lockedUntil).toBeNull();
    const after = await signIn(BOB.email, BOB.password);
    expect(after.status).toBe(200);
    expect(after.cookie).toBeTruthy();

    const entries = await audit();
    const failed = entries.filter((e) => e.action === 'user.sign_in_failed');
    expect(failed.map((e) => (e.after as { reason: string }).reason)).toEqual([...Array<string>(10).fill('wrong password'), 'locked', 'locked']);
    expect(new Set(failed.map((e) => e.sourceIp)).size).toBe(12);
    expect(failed.every((e) => e.targetId === BOB.email && e.actorType === 'system')).toBe(true);
    expect(entries.filter((e) => e.action === 'user.locked').map((e) => e.after)).toEqual([{ until: until.toISOString(), consecutiveFailures: 10 }]);
    expect(entries.at(-1)).toMatchObject({ action: 'user.sign_in', actorId: BOB.email, targetId: BOB.email, sourceIp: expect.stringMatching(/^203\.0\.113\./) });
    // Never a password, right or wrong.
    expect(JSON.stringify(entries)).not.toMatch(/guess|quartz/);
  });

  it('a successful sign-in resets the count; a lock expires; the next lock lasts twice as long', async () => {
    for (let i = 0; i < LOCKOUT.failures - 1; i++) expect((await signIn(BOB.email, `wrong guess number ${i}`)).status).toBe(401);
    expect((await signIn(BOB.email, BOB.password)).status).toBe(200);
    for (let i = 0; i < LOCKOUT.failures - 1; i++) expect((await signIn(BOB.email, `wrong guess number ${i}`)).status).toBe(401);
    const [row] = await handle.db.select({ failures: users.failedSignIns, lockedUntil: users.lockedUntil }).from(users).where(eq(users.id, bobId));
    expect(row).toEqual({ failures: 9, lockedUntil: null });

    expect((await signIn(BOB.email, 'wrong guess number 10')).status).toBe(423);
    // Fifteen minutes later (moved in the database), sign-in is possible again…
    await handle.db.update(users).set({ lockedUntil: new Date(Date.now() - 1000) }).where(eq(users.id, bobId));
    for (let i = 0; i < LOCKOUT.failures - 1; i++) expect((await signIn(BOB.email, `wrong guess number ${i}`)).status).toBe(401);
    // …and ten more failures lock it for 30 minutes.
    const second = await signIn(BOB.email, 'wrong guess number 20');
    expect(second.status).toBe(423);
    expect(second.body.message).toContain('(in 30 minutes)');
  });

  it('setting a new password lifts the lock; locks are per account', async () => {
    for (let i = 0; i < LOCKOUT.failures; i++) await signIn(BOB.email, `wrong guess number ${i}`);
    expect((await signIn(BOB.email, BOB.password)).status).toBe(423);
    expect((await signIn(ADA.email, ADA.password)).status).toBe(200);
    await setUserPassword(admin, bobId, 'a brand new sturdy phrase');
    expect((await signIn(BOB.email, 'a brand new sturdy phrase')).status).toBe(200);
  });

  it('records failed sign-ins of unknown e-mails and of disabled accounts, without counting them', async () => {
    expect((await signIn('Nobody@Example.com', 'whatever it is')).status).toBe(401);
    await setUserDisabled(admin, bobId, true);
    expect((await signIn(BOB.email, BOB.password)).status).toBe(403);
    const failed = (await audit()).filter((e) => e.action === 'user.sign_in_failed');
    expect(failed.map((e) => [e.targetId, (e.after as { reason: string }).reason])).toEqual([
      ['Nobody@Example.com', 'unknown e-mail'],
      [BOB.email, 'disabled'],
    ]);
    expect(recordedEmail(` a\u0000b\ud800@x${'y'.repeat(400)} `)).toMatch(/^a\uFFFDb\uFFFD@xy+$/);
    expect(recordedEmail('x'.repeat(400))).toHaveLength(254);
  });

  it('stores session tokens hashed: the cookie works, the stored value does not', async () => {
    const { cookie } = await signIn(ADA.email, ADA.password);
    const token = cookie!.split('.')[0]!;
    const rows = await handle.db.select({ token: sessions.token }).from(sessions);
    expect(rows).toEqual([{ token: storedSessionToken(token) }]);
    expect(rows[0]!.token).not.toContain(token);
    const headers = (c: string) => new Headers({ cookie: `fleet.session_token=${encodeURIComponent(c)}` });
    expect(await sessionUser(auth, headers(cookie!))).toMatchObject({ email: ADA.email, role: 'admin' });

    // A copy of the table is no way in: the stored value, signed as a cookie would be, is refused.
    const signature = cookie!.slice(token.length + 1);
    const forged = await signCookieValue(rows[0]!.token, 'x'.repeat(32));
    expect(forged.split('.')[1]).not.toBe(signature);
    expect(await sessionUser(auth, headers(forged))).toBeNull();

    const out = await auth.handler(new Request(`${BASE}/api/auth/sign-out`, { method: 'POST', headers: { origin: BASE, cookie: `fleet.session_token=${encodeURIComponent(cookie!)}` } }));
    expect(out.status).toBe(200);
    expect(await handle.db.select().from(sessions)).toEqual([]);
    expect(await sessionUser(auth, headers(cookie!))).toBeNull();
  });

  it('holds better-auth password changes to the policy', async () => {
    const { cookie } = await signIn(ADA.email, ADA.password);
    // As the server does, name the client: without an address better-auth's limit on
    // /change-password (3 per 10 s) is one bucket shared by every test in the process (its
    // memory store outlives one auth instance), so each run gets an address of its own.
    const ip = `198.51.100.${++changeSeq}`;
    const change = (newPassword: string) =>
      auth.handler(
        new Request(`${BASE}/api/auth/change-password`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', origin: BASE, cookie: `fleet.session_token=${encodeURIComponent(cookie!)}`, 'x-fleet-client-ip': ip },
          body: JSON.stringify({ currentPassword: ADA.password, newPassword }),
        }),
      );
    const weak = await change('password1234');
    expect(weak.status).toBe(400);
    expect(((await weak.json()) as { message: string }).message).toMatch(/^newPassword is too easy to guess\./);
    expect((await change('another sturdy passphrase 8')).status).toBe(200);
  });
});

/** A better-auth signed cookie value (`value.base64(HMAC-SHA256(secret, value))`). */
async function signCookieValue(value: string, secret: string): Promise<string> {
  const { createHmac } = await import('node:crypto');
  return `${value}.${createHmac('sha256', secret).update(value).digest('base64')}`;
}

import { users, type DatabaseHandle } from '@fleet/db';
import { describeEachDatabase } from '@fleet/db/test-support';
import { eq } from 'drizzle-orm';
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { ServiceContext } from '../context.js';
import { listAudit } from '../audit/audit.js';
import { completeSetup, createUser, ensureAdminFromEnv, issueSetupToken, listUsers, setUserPassword, unlockUser } from './users.js';
import { freshAdmin, rejects } from '../test-support/index.js';

describeEachDatabase('operator passwords and locks', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;
  let ctx: ServiceContext;

  beforeEach(async () => {
    ({ handle, dispose, ctx } = await freshAdmin(backend, { email: 'ada@example.com', name: 'Ada', sourceIp: '127.0.0.1' }));
  });
  afterEach(async () => dispose());

  it('refuses common, guessable and all-whitespace passwords wherever a password is set, naming the field', async () => {
    const weak = await rejects(createUser(ctx, { email: 'bob@example.com', name: 'Bob', role: 'viewer', password: 'password1234' }));
    expect(weak).toMatchObject({ code: 'BAD_INPUT', details: { field: 'password' } });
    expect(weak.message).toMatch(/^password is too easy to guess\. This is similar to a commonly used password\./);
    const own = await rejects(createUser(ctx, { email: 'bob.builder@example.com', name: 'Bob Builder', role: 'viewer', password: 'bob.builder@example.com' }));
    expect(own.message).toContain('your name, your e-mail address or the product name');
    const blank = await rejects(createUser(ctx, { email: 'bob@example.com', name: 'Bob', role: 'viewer', password: ' '.repeat(16) }));
    expect(blank.message).toBe('password must not be only spaces');
    expect((await listUsers(ctx)).map((u) => u.email)).toEqual(['ada@example.com']);

    const bob = await createUser(ctx, { email: 'bob@example.com', name: 'Bob', role: 'viewer', password: 'vivid quartz lantern 93' });
    const reset = await rejects(setUserPassword(ctx, bob.id, 'qwertyuiop123'));
    expect(reset.details.field).toBe('password');
  });

  it('first run: the setup link and ADMIN_PASSWORD are held to the policy', async () => {
    const fresh = await backend.fresh();
    try {
      await fresh.handle.migrate();
      const token = await issueSetupToken(fresh.handle.db);
      const weak = await rejects(completeSetup({ db: fresh.handle.db }, token!, { email: 'root@example.com', name: 'Root', password: 'iloveyou1234' }));
      expect(weak.details.field).toBe('password');
      const env = await rejects(ensureAdminFromEnv(fresh.handle.db, 'root@example.com', 'password1234'));
      expect(env.details.field).toBe('ADMIN_PASSWORD');
      expect(env.message).toMatch(/^ADMIN_PASSWORD: is too easy to guess\./);
      expect(await ensureAdminFromEnv(fresh.handle.db, 'root@example.com', 'plum-orbit-cascade-47')).toBe('created');
    } finally {
      await fresh.dispose();
    }
  });

  it('lists a lock until it expires or an admin lifts it (audited)', async () => {
    const bob = await createUser(ctx, { email: 'bob@example.com', name: 'Bob', role: 'viewer', password: 'vivid quartz lantern 93' });
    const until = new Date(Date.now() + 15 * 60_000);
    await handle.db.update(users).set({ failedSignIns: 10, lockedUntil: until }).where(eq(users.id, bob.id));
    expect((await listUsers(ctx)).find((u) => u.id === bob.id)?.lockedUntil).toEqual(until);
    const unlocked = await unlockUser(ctx, bob.id);
    expect(unlocked.lockedUntil).toBeNull();
    const [row] = await handle.db.select({ failures: users.failedSignIns }).from(users).where(eq(users.id, bob.id));
    expect(row!.failures).toBe(0);
    const [entry] = (await listAudit(ctx, { action: 'user.unlock' })).entries;
    expect(entry).toMatchObject({ actorId: 'ada@example.com', targetId: 'bob@example.com', before: { lockedUntil: until.toISOString() } });
    // An expired lock is not shown as one.
    await handle.db.update(users).set({ lockedUntil: new Date(Date.now() - 1000) }).where(eq(users.id, bob.id));
    expect((await listUsers(ctx)).find((u) => u.id === bob.id)?.lockedUntil).toBeNull();
  });
});

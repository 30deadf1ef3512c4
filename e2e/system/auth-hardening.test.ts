import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase } from '@fleet/db';
import { sql } from 'drizzle-orm';
import { Agent, fetch as undiciFetch } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runToExit, startControlPlane, type RunningControlPlane } from '../support/control-plane.js';
import { signIn as operatorSignIn } from '../support/fleet.js';

const ADMIN = { email: 'admin@example.com', password: 'a long admin password' };

/** Every entry under `root` whose mode is not 0700 (directories) or 0600 (files). */
async function looseModes(root: string): Promise<string[]> {
  const loose: string[] = [];
  const walk = async (dir: string) => {
    const mode = (await stat(dir)).mode & 0o777;
    if (mode !== 0o700) loose.push(`${path.relative(root, dir) || '.'}/ ${mode.toString(8)}`);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else if (((await stat(p)).mode & 0o777) !== 0o600) loose.push(`${path.relative(root, p)} ${((await stat(p)).mode & 0o777).toString(8)}`);
    }
  };
  await walk(root);
  return loose;
}

describe('operator sign-in and credentials against the real server', () => {
  let cp: RunningControlPlane;
  let root: string;
  let dataDir: string;
  const sources = new Map<string, Agent>();

  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'fleet-auth-'));
    dataDir = path.join(root, 'data');
    cp = await startControlPlane({ DATA_DIR: dataDir, ADMIN_EMAIL: ADMIN.email, ADMIN_PASSWORD: ADMIN.password });
  });
  afterAll(async () => {
    await cp?.stop();
    await Promise.all([...sources.values()].map((a) => a.close()));
    await rm(root, { recursive: true, force: true });
  });

  /** A sign-in from the loopback address `from` (127.0.0.0/8 all reaches the server): a different client each time. */
  async function signIn(email: string, password: string, from: string) {
    let dispatcher = sources.get(from);
    if (!dispatcher) sources.set(from, (dispatcher = new Agent({ localAddress: from })));
    const res = await undiciFetch(`${cp.url}/api/auth/sign-in/email`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: cp.url },
      body: JSON.stringify({ email, password }),
      dispatcher,
    });
    return { status: res.status, retryAfter: res.headers.get('retry-after'), body: (await res.json()) as { message?: string; code?: string } };
  }

  it('a weak ADMIN_PASSWORD stops start-up with one line naming it', async () => {
    const out = await runToExit({ DATA_DIR: path.join(root, 'weak'), ADMIN_EMAIL: 'root@example.com', ADMIN_PASSWORD: 'password1234' });
    expect(out.code).toBe(1);
    expect(out.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^fleet control plane: ADMIN_PASSWORD: is too easy to guess\. /)]);
    expect(out.stderr + out.stdout).not.toContain('password1234');
  });

  it('10 failed sign-ins from 10 addresses lock the account for 15 minutes; the right password is refused alike', async () => {
    // The per-address limit (10 a minute) never applies: each attempt comes from its own address.
    for (let i = 1; i <= 9; i++) expect((await signIn(ADMIN.email, `wrong guess ${i}`, `127.0.0.${10 + i}`)).status).toBe(401);
    const locking = await signIn(ADMIN.email, 'wrong guess 10', '127.0.0.20');
    expect(locking.status).toBe(423);
    expect(locking.body.message).toMatch(/^This account is locked after 10 failed sign-ins\. Try again after .+ UTC \(in 15 minutes\), or ask an admin to unlock it\.$/);
    const right = await signIn(ADMIN.email, ADMIN.password, '127.0.0.21');
    const wrong = await signIn(ADMIN.email, 'wrong guess 12', '127.0.0.22');
    expect([right.status, wrong.status]).toEqual([423, 423]);
    expect(right.body).toEqual(wrong.body);
    expect(Number(right.retryAfter)).toBeGreaterThan(14 * 60);
  });

  it('each failure is audited with its address (never the password); PGlite files stay owner-only while the server runs; session tokens are stored hashed', async () => {
    expect(await looseModes(dataDir)).toEqual([]);
    await cp.stop();
    expect(await looseModes(dataDir)).toEqual([]);

    // Lift the lock directly (the admin is the only operator), then sign in through a new server.
    const db = await openDatabase({ dataDir });
    try {
      const audit = await db.db.execute(sql`select action, target_id, source_ip, after from audit_log where action like 'user.%' order by id`);
      const rows = (audit as unknown as { rows: Array<{ action: string; target_id: string; source_ip: string; after: { reason?: string } | null }> }).rows;
      const failed = rows.filter((r) => r.action === 'user.sign_in_failed');
      expect(failed.map((r) => r.after?.reason)).toEqual([...Array<string>(10).fill('wrong password'), 'locked', 'locked']);
      expect(failed.map((r) => r.source_ip)).toEqual(Array.from({ length: 12 }, (_, i) => `127.0.0.${11 + i}`));
      expect(rows.filter((r) => r.action === 'user.locked')).toHaveLength(1);
      expect(JSON.stringify(rows)).not.toContain('wrong guess');
      await db.db.execute(sql`update users set locked_until = null, failed_sign_ins = 0`);
    } finally {
      await db.close();
    }
    cp = await startControlPlane({ DATA_DIR: dataDir });
    const op = await operatorSignIn(() => cp.url, ADMIN.email, ADMIN.password);
    expect(await op.query<{ email: string }>('users.me')).toMatchObject({ email: ADMIN.email });
    await cp.stop();

    const again = await openDatabase({ dataDir });
    try {
      const tokens = (await again.db.execute(sql`select token from sessions`)) as unknown as { rows: Array<{ token: string }> };
      expect(tokens.rows.length).toBeGreaterThan(0);
      for (const { token } of tokens.rows) expect(token).toMatch(/^sha256:[\w-]{43}$/);
      const signIns = (await again.db.execute(sql`select source_ip from audit_log where action = 'user.sign_in'`)) as unknown as { rows: Array<{ source_ip: string }> };
      expect(signIns.rows).toEqual([{ source_ip: '127.0.0.1' }]);
    } finally {
      await again.close();
    }
    expect(await looseModes(dataDir)).toEqual([]);
  });
});

import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { openDatabase, pipelines, queryRows } from '@fleet/db';
import { createPostgresDatabase, testPostgresUrl } from '@fleet/db/test-support';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { getJson, runToExit, startControlPlane, type RunningControlPlane } from '../support/control-plane.js';

const running: RunningControlPlane[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});
async function start(env: Record<string, string | undefined>): Promise<RunningControlPlane> {
  const p = await startControlPlane(env);
  running.push(p);
  return p;
}

describe('control-plane process on PGlite', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'fleet-cp-'));
  });
  afterEach(async () => rm(dataDir, { recursive: true, force: true }));

  it('serves /healthz and /readyz with the database migrated', async () => {
    const cp = await start({ DATA_DIR: dataDir });
    expect(await getJson(cp.url, '/healthz')).toEqual({ status: 200, body: { status: 'ok' } });
    const ready = await getJson(cp.url, '/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body).toMatchObject({
      status: 'ready',
      database: { kind: 'pglite', reachable: true, migrations: { upToDate: true } },
    });
  });

  it('restarts on the same data directory, keeps the data and does not migrate again', async () => {
    const first = await start({ DATA_DIR: dataDir });
    expect(first.logs.find((l) => l.msg === 'database schema up to date')).toBeUndefined();
    expect(await first.stop()).toBe(0);
    running.splice(running.indexOf(first), 1);
    expect(first.logs.at(-1)?.msg).toBe('stopped');

    const db = await openDatabase({ dataDir });
    await db.db.insert(pipelines).values({ name: 'survives restarts' });
    await db.close();

    const second = await start({ DATA_DIR: dataDir });
    expect(second.logs.some((l) => l.msg === 'database schema up to date' && l.applied === 0)).toBe(true);
    expect((await getJson(second.url, '/readyz')).status).toBe(200);
    expect(await second.stop()).toBe(0);
    running.splice(running.indexOf(second), 1);

    const again = await openDatabase({ dataDir });
    const rows = await again.db.select({ name: pipelines.name }).from(pipelines);
    await again.close();
    expect(rows).toEqual([{ name: 'survives restarts' }]);
  });

  it('refuses a second process on the same data directory with a one-line DATA_DIR error', async () => {
    await start({ DATA_DIR: dataDir });
    const second = await runToExit({ DATA_DIR: dataDir });
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^fleet control plane: DATA_DIR: .* is in use by another control-plane process/);
    expect(second.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('answers unknown API and agent paths with JSON errors, not the UI', async () => {
    const cp = await start({ DATA_DIR: dataDir });
    const agent = await getJson(cp.url, '/agent/v1/nothing');
    expect(agent.status).toBe(404);
    const trpc = await getJson(cp.url, '/api/trpc/no.such.procedure');
    expect(trpc.status).toBe(404);
    expect(JSON.stringify(trpc.body)).toContain('No procedure found');
  });
});

describe('control-plane start-up errors', () => {
  let scratch: string;
  beforeEach(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), 'fleet-cp-bad-'));
  });
  afterEach(async () => rm(scratch, { recursive: true, force: true }));

  const oneLine = (stderr: string) => {
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).not.toMatch(/\n\s+at /);
  };

  it('names DATABASE_URL when it is not a PostgreSQL URL', async () => {
    const r = await runToExit({ DATABASE_URL: 'mysql://root@127.0.0.1/fleet' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fleet control plane: DATABASE_URL: must start with postgres:\/\//);
    oneLine(r.stderr);
  });

  it('names DATABASE_URL when the server cannot be reached, hiding the password', async () => {
    const r = await runToExit({ DATABASE_URL: 'postgres://fleet:s3cret@127.0.0.1:1/fleet' });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fleet control plane: DATABASE_URL: cannot connect to postgres:\/\/fleet:\*\*\*@127\.0\.0\.1:1\/fleet/);
    expect(r.stderr + r.stdout).not.toContain('s3cret');
    oneLine(r.stderr);
  });

  it('names DATA_DIR when it cannot be written', async () => {
    const file = path.join(scratch, 'file');
    await writeFile(file, '');
    const r = await runToExit({ DATA_DIR: path.join(file, 'data') });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^fleet control plane: DATA_DIR: cannot write to .*file\/data/);
    oneLine(r.stderr);
  });

  it('names PORT when it is not a port number', async () => {
    const r = await runToExit({ DATA_DIR: scratch, PORT: 'http' });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('fleet control plane: PORT: must be a whole number between 0 and 65535 (got "http")\n');
  });
});

const pgUrl = testPostgresUrl();
describe.skipIf(!pgUrl)('control-plane processes on PostgreSQL', () => {
  let database: { url: string; drop(): Promise<void> };
  beforeEach(async () => {
    database = await createPostgresDatabase(pgUrl!);
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((p) => p.stop()));
    await database.drop();
  });

  it('two processes started at once both come up and the schema is migrated once', async () => {
    const [a, b] = await Promise.all([start({ DATABASE_URL: database.url }), start({ DATABASE_URL: database.url })]);
    for (const cp of [a, b]) {
      const ready = await getJson(cp.url, '/readyz');
      expect(ready.status).toBe(200);
      expect(ready.body).toMatchObject({ database: { kind: 'postgres', migrations: { upToDate: true } } });
    }
    const appliedBy = (cp: RunningControlPlane) => Number(cp.logs.find((l) => typeof l.applied === 'number')?.applied);
    const db = await openDatabase({ databaseUrl: database.url });
    try {
      const status = await db.migrationStatus();
      const rows = await queryRows<{ n: number }>(db.db, sql`select count(*)::int as n from drizzle.__drizzle_migrations`);
      expect(rows[0]?.n).toBe(status.expected);
      // One process applied every migration, the other found nothing to do.
      expect([appliedBy(a), appliedBy(b)].sort()).toEqual([0, status.expected]);
    } finally {
      await db.close();
    }
  });
});

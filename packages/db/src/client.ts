import { chmod, mkdir, open, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PGlite } from '@electric-sql/pglite';
import { sql, type SQL } from 'drizzle-orm';
import { readMigrationFiles } from 'drizzle-orm/migrator';
import { drizzle as drizzlePg } from 'drizzle-orm/node-postgres';
import { migrate as migratePg } from 'drizzle-orm/node-postgres/migrator';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePglite } from 'drizzle-orm/pglite';
import { migrate as migratePglite } from 'drizzle-orm/pglite/migrator';
import pg from 'pg';
import lockfile from 'proper-lockfile';
import { z } from 'zod';
import { DatabaseSetupError, describeCause, redactDatabaseUrl } from './errors.js';
import * as schema from './schema.js';

/** The typed Drizzle handle every service uses, whichever engine is behind it. */
export type Db = PgDatabase<PgQueryResultHKT, typeof schema>;

/** Where the database lives: PostgreSQL when `databaseUrl` is set, else PGlite in `dataDir`. */
export interface DatabaseOptions {
  /** `postgres://` or `postgresql://` URL (the `DATABASE_URL` setting). */
  databaseUrl?: string | undefined;
  /** Directory for the embedded PGlite database (the `DATA_DIR` setting); default `./.data`. */
  dataDir?: string | undefined;
  /** Size of the PostgreSQL connection pool (default 10). */
  poolSize?: number | undefined;
}

/** What {@link DatabaseHandle.migrationStatus} reports. */
export interface MigrationStatus {
  /** Migrations shipped with this build. */
  expected: number;
  /** Of those, how many the database has applied. */
  applied: number;
  /** True when every shipped migration is applied. */
  upToDate: boolean;
}

/**
 * One open database. A process opens exactly one (PGlite is in-process: two handles on one
 * data directory would corrupt it, so the directory is locked while open).
 */
export interface DatabaseHandle {
  readonly kind: 'pglite' | 'postgres';
  readonly db: Db;
  /** Where the data lives, safe to log (passwords redacted). */
  readonly location: string;
  /** Runs a trivial query; rejects when the database is unreachable. */
  ping(): Promise<void>;
  /**
   * Applies every pending migration. Idempotent; on PostgreSQL it holds an advisory lock so
   * that replicas starting at once migrate one after the other. Resolves to how many ran.
   */
  migrate(): Promise<{ applied: number }>;
  migrationStatus(): Promise<MigrationStatus>;
  /**
   * Subscribes to `NOTIFY channel` (see {@link notify}). On PostgreSQL a dedicated connection
   * listens and reconnects with backoff after it is lost; `onResync` is then called, because
   * notifications sent meanwhile are gone and the listener must re-read the state it follows.
   * Resolves to a function that unsubscribes.
   */
  listen(channel: string, onMessage: (payload: string) => void, onResync?: () => void): Promise<() => Promise<void>>;
  /** Closes connections (and flushes and unlocks PGlite). Safe to call twice. */
  close(): Promise<void>;
}

/**
 * Sends `payload` to listeners of `channel` on every process using this database. Inside a
 * transaction it is delivered only when (and if) the transaction commits.
 */
export async function notify(db: Db, channel: string, payload: string): Promise<void> {
  await db.execute(sql`select pg_notify(${channel}, ${payload})`);
}

const CHANNEL_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

function checkChannel(channel: string): void {
  if (!CHANNEL_NAME.test(channel)) throw new Error(`invalid notification channel name ${JSON.stringify(channel)}`);
}

/** LISTEN on a dedicated PostgreSQL connection that comes back after it is lost. */
async function listenPostgres(
  connectionString: string,
  channel: string,
  onMessage: (payload: string) => void,
  onResync?: () => void,
): Promise<() => Promise<void>> {
  checkChannel(channel);
  let client: pg.Client | null = null;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let failures = 0;
  const connect = async (first: boolean): Promise<void> => {
    const c = new pg.Client({ connectionString, application_name: 'fleet-control-plane-listen', connectionTimeoutMillis: 10_000 });
    c.on('notification', (n) => {
      if (n.channel === channel) onMessage(n.payload ?? '');
    });
    c.on('error', () => undefined);
    c.on('end', () => {
      if (client === c) client = null;
      if (!stopped) schedule();
    });
    await c.connect();
    await c.query(`LISTEN ${channel}`);
    if (stopped) {
      await c.end().catch(() => undefined);
      return;
    }
    client = c;
    failures = 0;
    if (!first) onResync?.();
  };
  const schedule = () => {
    if (timer || stopped) return;
    // Exponential backoff with full jitter, 0.5 s → 30 s.
    const delay = Math.random() * Math.min(30_000, 500 * 2 ** Math.min(failures++, 6));
    timer = setTimeout(() => {
      timer = undefined;
      connect(false).catch(() => schedule());
    }, delay);
    timer.unref();
  };
  await connect(true);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    const c = client;
    client = null;
    await c?.end().catch(() => undefined);
  };
}

/** Folder of the committed SQL migrations (same relative place from src/ and dist/). */
export const migrationsFolder = fileURLToPath(new URL('../migrations', import.meta.url));

/** Advisory lock key serialising migrations across processes ("fleetmig" as a 64-bit int). */
const MIGRATION_LOCK_KEY = 0x666c_6565_746d_6967n;

const postgresUrl = z
  .string()
  .trim()
  .min(1, { message: 'is empty', abort: true })
  .refine((v) => URL.canParse(v), {
    message: 'is not a URL (expected postgres://user:password@host:5432/database)',
    abort: true,
  })
  .refine((v) => ['postgres:', 'postgresql:'].includes(new URL(v).protocol), {
    message: 'must start with postgres:// or postgresql://',
  });

/**
 * Opens the database the options point at and checks it is usable. Does not migrate.
 * PGlite: the data directory and everything in it are made owner-only (0700 directories, 0600
 * files, existing installs included), and the process umask is 077 while it is open.
 * @throws DatabaseSetupError naming `DATABASE_URL` or `DATA_DIR` with a one-line reason.
 */
export async function openDatabase(options: DatabaseOptions = {}): Promise<DatabaseHandle> {
  if (options.databaseUrl !== undefined && options.databaseUrl !== '') {
    return openPostgres(options.databaseUrl, options.poolSize ?? 10);
  }
  return openPglite(path.resolve(options.dataDir || '.data'));
}

async function openPostgres(rawUrl: string, poolSize: number): Promise<DatabaseHandle> {
  const parsed = postgresUrl.safeParse(rawUrl);
  if (!parsed.success) {
    throw new DatabaseSetupError('DATABASE_URL', parsed.error.issues[0]?.message ?? 'is invalid');
  }
  const location = redactDatabaseUrl(parsed.data);
  const pool = new pg.Pool({
    connectionString: parsed.data,
    max: poolSize,
    connectionTimeoutMillis: 10_000,
    application_name: 'fleet-control-plane',
  });
  // An idle client that loses its server must not crash the process.
  pool.on('error', () => undefined);
  try {
    await pool.query('select 1');
  } catch (err) {
    await pool.end().catch(() => undefined);
    throw new DatabaseSetupError('DATABASE_URL', `cannot connect to ${location}: ${describeCause(err)}`, {
      cause: err,
    });
  }
  const db = drizzlePg({ client: pool, schema }) as unknown as Db;
  const listeners = new Set<() => Promise<void>>();
  let closed = false;
  return {
    kind: 'postgres',
    db,
    location,
    async ping() {
      await pool.query('select 1');
    },
    async migrate() {
      // One connection holds the lock and runs the migrations, so a replica that waited for
      // the lock sees the schema its peer finished and applies nothing.
      const client = await pool.connect();
      try {
        await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK_KEY.toString()]);
        try {
          const locked = drizzlePg({ client });
          const before = await countApplied(locked as unknown as Db);
          await migratePg(locked, { migrationsFolder });
          return { applied: (await countApplied(locked as unknown as Db)) - before };
        } finally {
          await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY.toString()]);
        }
      } finally {
        client.release();
      }
    },
    migrationStatus: () => migrationStatus(db),
    async listen(channel, onMessage, onResync) {
      const stop = await listenPostgres(parsed.data, channel, onMessage, onResync);
      listeners.add(stop);
      return async () => {
        listeners.delete(stop);
        await stop();
      };
    },
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([...listeners].map((stop) => stop()));
      await pool.end();
    },
  };
}

/**
 * Makes `root` and every directory under it 0700 and every file 0600: the database files, the
 * lock and the probe are the operator's alone. Symbolic links are left as they are.
 */
async function restrictTree(root: string): Promise<void> {
  await chmod(root, 0o700);
  for (const entry of await readdir(root, { withFileTypes: true })) {
    const p = path.join(root, entry.name);
    if (entry.isDirectory()) await restrictTree(p);
    else if (entry.isFile()) await chmod(p, 0o600);
  }
}

let privateUmaskHolders = 0;
let savedUmask: number | undefined;

/**
 * While a PGlite database is open the process umask is 077, so every file PGlite creates later
 * (WAL segments, the relcache init files it writes with fopen's 0666, the lock) is the owner's
 * only; the previous umask comes back when the last one closes. Worker threads cannot change
 * the umask: there `restrictTree` at open and at close is the only guard.
 */
function holdPrivateUmask(): () => void {
  let held = false;
  try {
    if (privateUmaskHolders === 0) savedUmask = process.umask(0o077);
    privateUmaskHolders++;
    held = true;
  } catch {
    // ERR_WORKER_UNSUPPORTED_OPERATION
  }
  return () => {
    if (!held) return;
    held = false;
    if (--privateUmaskHolders === 0 && savedUmask !== undefined) process.umask(savedUmask);
  };
}

async function openPglite(dataDir: string): Promise<DatabaseHandle> {
  const location = path.join(dataDir, 'pglite');
  try {
    await mkdir(location, { recursive: true, mode: 0o700 });
    // Installs made before modes were restricted have 0755 directories and 0666 files.
    await restrictTree(dataDir);
    // Prove we can write (access() lies for root on read-only mounts).
    const probe = path.join(dataDir, `.write-probe-${process.pid}`);
    await (await open(probe, 'w')).close();
    await rm(probe, { force: true });
  } catch (err) {
    throw new DatabaseSetupError('DATA_DIR', `cannot write to ${dataDir}: ${describeCause(err)}`, { cause: err });
  }
  const releaseUmask = holdPrivateUmask();
  let release: () => Promise<void>;
  try {
    release = await lockfile.lock(location, {
      lockfilePath: path.join(dataDir, 'pglite.lock'),
      realpath: false,
      stale: 15_000,
      update: 5_000,
      onCompromised: () => undefined,
    });
  } catch (err) {
    releaseUmask();
    const busy = (err as { code?: string }).code === 'ELOCKED';
    throw new DatabaseSetupError(
      'DATA_DIR',
      busy
        ? `${dataDir} is in use by another control-plane process (PGlite allows one process per data directory; use DATABASE_URL for several). If that process crashed, its lock expires within 15 s: start again then`
        : `cannot lock ${dataDir}: ${describeCause(err)}`,
      { cause: err },
    );
  }
  let client: PGlite;
  try {
    client = await PGlite.create(location);
    // A new database's files come out of PGlite's initdb image 0666.
    await restrictTree(dataDir);
  } catch (err) {
    await release();
    releaseUmask();
    throw new DatabaseSetupError('DATA_DIR', `cannot open the database in ${location}: ${describeCause(err)}`, {
      cause: err,
    });
  }
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  let closed = false;
  return {
    kind: 'pglite',
    db,
    location,
    async ping() {
      await client.query('select 1');
    },
    async migrate() {
      const before = await countApplied(db);
      await migratePglite(drizzlePglite({ client }), { migrationsFolder });
      return { applied: Math.max(0, (await countApplied(db)) - before) };
    },
    migrationStatus: () => migrationStatus(db),
    listen: (channel, onMessage) => listenPglite(client, channel, onMessage),
    async close() {
      if (closed) return;
      closed = true;
      try {
        await client.close();
        await restrictTree(dataDir);
      } finally {
        await release();
        releaseUmask();
      }
    },
  };
}

/** PGlite is in-process: its own LISTEN never loses the connection, so there is no resync. */
async function listenPglite(client: PGlite, channel: string, onMessage: (payload: string) => void): Promise<() => Promise<void>> {
  checkChannel(channel);
  const unsubscribe = await client.listen(channel, onMessage);
  return async () => {
    if (!client.closed) await unsubscribe();
  };
}

/** Opens an in-memory PGlite database (tests and tools); nothing touches the disk. */
export async function openMemoryDatabase(): Promise<DatabaseHandle> {
  const client = await PGlite.create();
  const db = drizzlePglite({ client, schema }) as unknown as Db;
  return {
    kind: 'pglite',
    db,
    location: 'memory://',
    ping: async () => void (await client.query('select 1')),
    async migrate() {
      const before = await countApplied(db);
      await migratePglite(drizzlePglite({ client }), { migrationsFolder });
      return { applied: (await countApplied(db)) - before };
    },
    migrationStatus: () => migrationStatus(db),
    listen: (channel, onMessage) => listenPglite(client, channel, onMessage),
    close: async () => {
      if (!client.closed) await client.close();
    },
  };
}

/**
 * Runs raw SQL and returns its rows, on either engine (both drivers answer `{ rows }`).
 * Use for queries Drizzle's builder cannot express; parameters go through `sql` placeholders.
 */
export async function queryRows<T>(db: Db, query: SQL): Promise<T[]> {
  const result = (await db.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

async function appliedHashes(db: Db): Promise<Set<string>> {
  const exists = await queryRows<{ t: string | null }>(
    db,
    sql`select to_regclass('drizzle.__drizzle_migrations')::text as t`,
  );
  if (!exists[0]?.t) return new Set();
  const rows = await queryRows<{ hash: string }>(db, sql`select hash from drizzle.__drizzle_migrations`);
  return new Set(rows.map((r) => r.hash));
}

async function countApplied(db: Db): Promise<number> {
  return (await appliedHashes(db)).size;
}

async function migrationStatus(db: Db): Promise<MigrationStatus> {
  const shipped = readMigrationFiles({ migrationsFolder });
  const applied = await appliedHashes(db);
  const done = shipped.filter((m) => applied.has(m.hash)).length;
  return { expected: shipped.length, applied: done, upToDate: done === shipped.length };
}

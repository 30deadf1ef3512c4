/**
 * Test support: run a suite against every database engine we ship — PGlite always, and a real
 * PostgreSQL when `TEST_DATABASE_URL` points at a server where we may create databases.
 * With `CI=true` a missing `TEST_DATABASE_URL` is an error, never a silent skip.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { describe } from 'vitest';
import { openDatabase, openMemoryDatabase, type DatabaseHandle } from '../client.js';

/** A database engine a suite can run against, producing fresh empty databases. */
export interface TestBackend {
  name: 'pglite' | 'postgres';
  /** A new, empty, unmigrated database; dropped by the returned `dispose`. */
  fresh(): Promise<{ url?: string; handle: DatabaseHandle; dispose(): Promise<void> }>;
}

/** Admin URL of the test PostgreSQL server, or undefined (throws under CI). */
export function testPostgresUrl(): string | undefined {
  const url = process.env.TEST_DATABASE_URL;
  if (!url && process.env.CI === 'true') {
    throw new Error('TEST_DATABASE_URL must point at a PostgreSQL server when CI=true (see .ci/run)');
  }
  return url || undefined;
}

/** Creates an empty database on the test server and returns its URL and a dropper. */
export async function createPostgresDatabase(adminUrl: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `fleet_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`create database ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`drop database if exists ${name} with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}

export const pgliteBackend: TestBackend = {
  name: 'pglite',
  async fresh() {
    const handle = await openMemoryDatabase();
    return { handle, dispose: () => handle.close() };
  },
};

export function postgresBackend(adminUrl: string): TestBackend {
  return {
    name: 'postgres',
    async fresh() {
      const created = await createPostgresDatabase(adminUrl);
      const handle = await openDatabase({ databaseUrl: created.url, poolSize: 4 });
      return {
        url: created.url,
        handle,
        async dispose() {
          await handle.close();
          await created.drop();
        },
      };
    },
  };
}

/**
 * `describe` once per backend. PostgreSQL runs when TEST_DATABASE_URL is set; otherwise the
 * suite is reported as skipped locally and fails under CI.
 */
export function describeEachDatabase(title: string, body: (backend: TestBackend) => void): void {
  describe(`${title} [pglite]`, () => body(pgliteBackend));
  const url = testPostgresUrl();
  if (url) describe(`${title} [postgres]`, () => body(postgresBackend(url)));
  else describe.skip(`${title} [postgres] (set TEST_DATABASE_URL to run)`, () => body(postgresBackend('')));
}

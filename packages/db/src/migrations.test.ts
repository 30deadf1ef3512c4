import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { getTableConfig } from 'drizzle-orm/pg-core';
import { eq, sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase, queryRows, type DatabaseHandle } from './client.js';
import { DatabaseSetupError, pgErrorCode } from './errors.js';
import * as schema from './schema.js';
import { describeEachDatabase } from './test-support/index.js';

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const allTables = Object.values(schema)
  .filter((v) => typeof v === 'object' && v !== null && Symbol.for('drizzle:IsDrizzleTable') in v)
  .map((t) => getTableConfig(t as Parameters<typeof getTableConfig>[0]).name)
  .sort();

async function expectCode(p: Promise<unknown>, code: string) {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err, `expected SQLSTATE ${code}`).toBeDefined();
  expect(pgErrorCode(err)).toBe(code);
}

describeEachDatabase('migrations', (backend) => {
  let handle: DatabaseHandle;
  let dispose: () => Promise<void>;

  beforeEach(async () => {
    ({ handle, dispose } = await backend.fresh());
    await handle.migrate();
  });
  afterEach(async () => dispose());

  it('create every table of the schema', async () => {
    const rows = await queryRows<{ table_name: string }>(
      handle.db,
      sql`select table_name from information_schema.tables where table_schema = 'public' order by table_name`,
    );
    expect(allTables.length).toBeGreaterThanOrEqual(13);
    expect(rows.map((r) => r.table_name)).toEqual(allTables);
  });

  it('are idempotent and report the schema up to date', async () => {
    expect(await handle.migrate()).toEqual({ applied: 0 });
    const status = await handle.migrationStatus();
    expect(status.upToDate).toBe(true);
    expect(status.applied).toBe(status.expected);
    expect(status.expected).toBeGreaterThanOrEqual(2);
  });

  it('reject a duplicate enrollment-token hash', async () => {
    const token = {
      name: 'ec2 prod',
      tokenHash: sha('secret-1'),
      tokenPrefix: 'fet_abcd',
      expiresAt: new Date(Date.now() + 3_600_000),
    };
    await handle.db.insert(schema.enrollmentTokens).values(token);
    await expectCode(handle.db.insert(schema.enrollmentTokens).values({ ...token, name: 'other' }), '23505');
  });

  it('hold the enrollment-token use count within max uses', async () => {
    const [row] = await handle.db
      .insert(schema.enrollmentTokens)
      .values({
        name: 'once',
        tokenHash: sha('secret-2'),
        tokenPrefix: 'fet_efgh',
        expiresAt: new Date(Date.now() + 3_600_000),
        maxUses: 1,
      })
      .returning();
    const bump = () =>
      handle.db
        .update(schema.enrollmentTokens)
        .set({ useCount: sql`${schema.enrollmentTokens.useCount} + 1` })
        .where(eq(schema.enrollmentTokens.id, row!.id));
    await bump();
    await expectCode(bump(), '23514');
  });

  it('reject a malformed AWS account id and a duplicate account', async () => {
    const account = {
      accountId: '123456789012',
      name: 'prod',
      defaultRegion: 'eu-west-1',
      roleArn: 'arn:aws:iam::123456789012:role/fleet-writer',
      externalId: randomUUID(),
    };
    await expectCode(handle.db.insert(schema.awsAccounts).values({ ...account, accountId: '12345' }), '23514');
    await handle.db.insert(schema.awsAccounts).values(account);
    await expectCode(handle.db.insert(schema.awsAccounts).values({ ...account, name: 'again' }), '23505');
  });

  it('treat user e-mail addresses case-insensitively unique', async () => {
    await handle.db.insert(schema.users).values({ id: 'u1', name: 'Ada', email: 'ada@example.com', role: 'admin' });
    await expectCode(
      handle.db.insert(schema.users).values({ id: 'u2', name: 'Ada', email: 'ADA@example.com' }),
      '23505',
    );
    await expectCode(
      handle.db.insert(schema.users).values({ id: 'u3', name: 'Bob', email: 'bob@example.com', role: 'root' as 'admin' }),
      '23514',
    );
  });

  it('keep pipeline versions immutable except for publication', async () => {
    const [p] = await handle.db.insert(schema.pipelines).values({ name: 'node metrics' }).returning();
    const [v] = await handle.db
      .insert(schema.pipelineVersions)
      .values({ pipelineId: p!.id, version: 1, config: { scrape: [] }, contentHash: sha('v1') })
      .returning();
    await handle.db
      .update(schema.pipelineVersions)
      .set({ published: true, publishedAt: new Date() })
      .where(eq(schema.pipelineVersions.id, v!.id));
    await expectCode(
      handle.db
        .update(schema.pipelineVersions)
        .set({ config: { scrape: ['changed'] } })
        .where(eq(schema.pipelineVersions.id, v!.id)),
      '23514',
    );
    await expectCode(
      handle.db.insert(schema.pipelineVersions).values({ pipelineId: p!.id, version: 1, config: {}, contentHash: sha('x') }),
      '23505',
    );
    await expectCode(
      handle.db.insert(schema.pipelineVersions).values({ pipelineId: p!.id, version: 2, config: {}, contentHash: 'nothex' }),
      '23514',
    );
  });

  it('cascade agent stats when an agent is deleted', async () => {
    const [a] = await handle.db
      .insert(schema.agents)
      .values({ name: 'ip-10-0-0-1', secretHash: sha('agent-secret'), labels: { env: 'prod' } })
      .returning();
    await handle.db.insert(schema.agentStats).values({ agentId: a!.id, bucket: new Date(), samplesScraped: 10 });
    await handle.db.delete(schema.agents).where(eq(schema.agents.id, a!.id));
    const left = await handle.db.select().from(schema.agentStats);
    expect(left).toEqual([]);
  });
});

describe('PGlite in a data directory', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-db-'));
  });
  afterEach(async () => rm(dir, { recursive: true, force: true }));

  it('keeps data across close and reopen, without re-running migrations', async () => {
    const first = await openDatabase({ dataDir: dir });
    expect((await first.migrate()).applied).toBeGreaterThanOrEqual(2);
    await first.db.insert(schema.pipelines).values({ name: 'kept' });
    await first.close();

    const second = await openDatabase({ dataDir: dir });
    try {
      expect(await second.migrate()).toEqual({ applied: 0 });
      const rows = await second.db.select({ name: schema.pipelines.name }).from(schema.pipelines);
      expect(rows).toEqual([{ name: 'kept' }]);
    } finally {
      await second.close();
    }
  });

  it('refuses a second opener of the same directory, naming DATA_DIR', async () => {
    const first = await openDatabase({ dataDir: dir });
    try {
      const err = await openDatabase({ dataDir: dir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DatabaseSetupError);
      expect((err as Error).message).toMatch(/^DATA_DIR: .* is in use by another control-plane process/);
    } finally {
      await first.close();
    }
  });

  it('names DATA_DIR when the directory cannot be created', async () => {
    const file = path.join(dir, 'a-file');
    await writeFile(file, 'not a directory');
    const err = await openDatabase({ dataDir: path.join(file, 'data') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseSetupError);
    expect((err as DatabaseSetupError).setting).toBe('DATA_DIR');
    expect((err as Error).message).toMatch(/^DATA_DIR: cannot write to .*a-file\/data: ENOTDIR/);
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('DATABASE_URL validation', () => {
  it.each([
    ['not a url', /^DATABASE_URL: is not a URL/],
    ['mysql://u:p@127.0.0.1/db', /^DATABASE_URL: must start with postgres:\/\//],
    ['   ', /^DATABASE_URL: is empty/],
  ])('rejects %j with a one-line message', async (url, pattern) => {
    const err = await openDatabase({ databaseUrl: url }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DatabaseSetupError);
    expect((err as Error).message).toMatch(pattern);
  });

  it('reports an unreachable server without leaking the password', async () => {
    const err = await openDatabase({ databaseUrl: 'postgres://fleet:hunter2@127.0.0.1:1/fleet' }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DatabaseSetupError);
    const message = (err as Error).message;
    expect(message).toMatch(/^DATABASE_URL: cannot connect to postgres:\/\/fleet:\*\*\*@127\.0\.0\.1:1\/fleet: .*ECONNREFUSED/);
    expect(message).not.toContain('hunter2');
    expect(message).not.toContain('\n');
  });
});

import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { drizzle } from 'drizzle-orm/pglite';
import { migrate } from 'drizzle-orm/pglite/migrator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationsFolder } from './client.js';

/**
 * Migration 0008 binds the `aws_account` references of versions saved before it to the accounts
 * they name then, so a rename after the upgrade cannot break a version that is already published.
 */
describe('migration 0008 (account references bound by id)', () => {
  let dir: string;
  let client: PGlite;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'fleet-mig-'));
    // The migrations as they were before 0008.
    const before = path.join(dir, 'before');
    await cp(migrationsFolder, before, { recursive: true });
    const journalFile = path.join(before, 'meta', '_journal.json');
    const journal = JSON.parse(await readFile(journalFile, 'utf8')) as { entries: Array<{ tag: string }> };
    journal.entries = journal.entries.filter((e) => e.tag < '0008');
    await writeFile(journalFile, JSON.stringify(journal));
    client = new PGlite();
    await migrate(drizzle({ client }), { migrationsFolder: before });
  });
  afterAll(async () => {
    await client?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('binds each reference (by name or account id) to the account it named, and leaves unknown ones out', async () => {
    const { rows } = await client.query<{ id: string }>(
      `insert into aws_accounts (account_id, name, default_region, role_arn, external_id) values
         ('123456789012', 'dev', 'us-east-1', 'arn:aws:iam::123456789012:role/a', 'fleet-a'),
         ('210987654321', 'prod', 'us-east-1', 'arn:aws:iam::210987654321:role/b', 'fleet-b')
       returning id`,
    );
    const [devId, prodId] = rows.map((r) => r.id);
    const { rows: p } = await client.query<{ id: string }>(`insert into pipelines (name) values ('node') returning id`);
    const config = { remote_write: [{ url: 'https://a', aws_account: 'dev' }, { url: 'https://b', aws_account: '210987654321' }, { url: 'https://c', aws_account: 'gone' }, { url: 'https://d' }] };
    await client.query(`insert into pipeline_versions (pipeline_id, version, config, content_hash, published) values ($1, 1, $2, $3, true), ($1, 2, '{"scrape_configs": []}', $3, false)`, [p[0]!.id, JSON.stringify(config), 'a'.repeat(64)]);

    await migrate(drizzle({ client }), { migrationsFolder });
    const { rows: versions } = await client.query<{ version: number; account_refs: Record<string, string>; source: string | null }>(`select version, account_refs, source from pipeline_versions order by version`);
    expect(versions).toEqual([
      { version: 1, account_refs: { dev: devId, '210987654321': prodId }, source: null },
      { version: 2, account_refs: {}, source: null },
    ]);
    // The bindings are part of the immutable version.
    await expect(client.query(`update pipeline_versions set account_refs = '{}' where version = 1`)).rejects.toThrow(/immutable/);
  });
});

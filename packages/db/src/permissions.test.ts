import { chmod, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { sql } from 'drizzle-orm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openDatabase } from './client.js';

/** Every entry under `root` (and `root`) whose mode is not 0700 (directories) or 0600 (files). */
async function looseModes(root: string): Promise<string[]> {
  const loose: string[] = [];
  const walk = async (dir: string) => {
    const mode = (await stat(dir)).mode & 0o777;
    if (mode !== 0o700) loose.push(`${path.relative(root, dir) || '.'}/ ${mode.toString(8)}`);
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(p);
      else {
        const m = (await stat(p)).mode & 0o777;
        if (m !== 0o600) loose.push(`${path.relative(root, p)} ${m.toString(8)}`);
      }
    }
  };
  await walk(root);
  return loose;
}

/** Writes enough to fill and switch WAL segments, and makes PGlite rewrite its relcache files. */
async function write(db: Awaited<ReturnType<typeof openDatabase>>['db']): Promise<void> {
  await db.execute(sql`create table if not exists filler (x text)`);
  await db.execute(sql`insert into filler select repeat(md5(g::text), 32) from generate_series(1, 20000) g`);
  await db.execute(sql`create index if not exists filler_x on filler (x)`);
  await db.execute(sql`checkpoint`);
  await db.execute(sql`select pg_switch_wal()`);
}

describe('PGlite data directory permissions', () => {
  let dir: string;
  let umask: number;
  beforeEach(async () => {
    dir = path.join(await mkdtemp(path.join(tmpdir(), 'fleet-perms-')), 'data');
    // The usual default: files 0644, directories 0755 unless the database restricts them.
    umask = process.umask(0o022);
  });
  afterEach(async () => {
    process.umask(umask);
    await rm(path.dirname(dir), { recursive: true, force: true });
  });

  it('creates a new data directory owner-only: 0700 directories, 0600 files, also those written later and the lock', async () => {
    const handle = await openDatabase({ dataDir: dir });
    try {
      await handle.migrate();
      await write(handle.db);
      // While open: the lock directory, new WAL segments and relcache files included.
      const entries = await readdir(dir);
      expect(entries).toContain('pglite.lock');
      expect(await looseModes(dir)).toEqual([]);
    } finally {
      await handle.close();
    }
    expect(await looseModes(dir)).toEqual([]);
    // The process umask is given back once the database is closed.
    expect(process.umask(0o022)).toBe(0o022);
  });

  it('restricts an existing install made with world-writable modes when it opens', async () => {
    const first = await openDatabase({ dataDir: dir });
    await first.migrate();
    await first.close();
    // As releases before this fix left it: 0777 directories, 0666 files.
    const loosen = async (p: string) => {
      await chmod(p, 0o777);
      for (const entry of await readdir(p, { withFileTypes: true })) {
        if (entry.isDirectory()) await loosen(path.join(p, entry.name));
        else await chmod(path.join(p, entry.name), 0o666);
      }
    };
    await loosen(dir);
    expect((await looseModes(dir)).length).toBeGreaterThan(100);

    const again = await openDatabase({ dataDir: dir });
    try {
      expect(await looseModes(dir)).toEqual([]);
      await write(again.db);
      expect(await looseModes(dir)).toEqual([]);
    } finally {
      await again.close();
    }
  });
});

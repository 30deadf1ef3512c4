// A throwaway PostgreSQL 15 cluster for `npm run bench:dashboard`, as .ci/run makes one: initdb in
// a temp dir (as the `postgres` user when we are root), started on a free loopback port, stopped
// and removed by stop() — which is synchronous so that exit and signal handlers can call it.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Server settings of the throwaway cluster: durability off (it is thrown away), planner settings left at their defaults. */
export const CLUSTER_SETTINGS = {
  listen_addresses: '127.0.0.1',
  max_connections: '100',
  // Durability is pointless for a cluster we delete; these only make seeding faster.
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  wal_level: 'minimal',
  max_wal_senders: '0',
  max_wal_size: '2GB',
  checkpoint_timeout: '30min',
  // Index builds after the bulk load.
  maintenance_work_mem: '1GB',
};

export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {net.AddressInfo} */ (srv.address());
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Creates and starts the cluster. Resolves to { url, dir, settings, stop() }.
 * @param {{ pgbin?: string, log: (msg: string) => void }} options
 */
export async function startCluster({ pgbin = '/usr/lib/postgresql/15/bin', log }) {
  if (!existsSync(path.join(pgbin, 'postgres'))) {
    throw new Error(`${pgbin}/postgres not found: install postgresql-15 (apt-get install postgresql-15) or set BENCH_DATABASE_URL`);
  }
  const root = process.getuid?.() === 0;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'fleet-bench-pg-'));
  const data = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  chmodSync(dir, 0o755);
  const run = (cmd, args) => {
    if (!root) return execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    return execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  };
  let started = false;
  let stopped = false;
  const stop = () => {
    if (stopped) return;
    stopped = true;
    if (started) {
      try {
        run(path.join(pgbin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']);
      } catch {
        /* already down */
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    if (root) {
      try {
        execFileSync('id', ['postgres'], { stdio: 'ignore' });
      } catch {
        execFileSync('useradd', ['--system', '--home-dir', '/var/lib/postgresql', 'postgres'], { stdio: 'ignore' });
      }
      execFileSync('chown', ['-R', 'postgres', dir]);
    }
    run(path.join(pgbin, 'initdb'), ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8']);
    const port = await freePort();
    const opts = [`-p ${port}`, `-k ${dir}`, ...Object.entries(CLUSTER_SETTINGS).map(([k, v]) => `-c ${k}=${v}`)].join(' ');
    started = true;
    try {
      run(path.join(pgbin, 'pg_ctl'), ['-D', data, '-l', logFile, '-w', '-t', '60', '-o', opts, 'start']);
    } catch (err) {
      const tail = existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n') : '';
      throw new Error(`pg_ctl start failed: ${err.message}\n${tail}`, { cause: err });
    }
    log(`throwaway PostgreSQL 15 on 127.0.0.1:${port} (data in ${data})`);
    return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, dir, settings: CLUSTER_SETTINGS, stop };
  } catch (err) {
    stop();
    throw err;
  }
}

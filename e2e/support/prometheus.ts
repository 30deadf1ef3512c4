/**
 * A real Prometheus (Debian's `prometheus` package) as a remote-write receiver for
 * whole-system tests: started with `--web.enable-remote-write-receiver` on a loopback port,
 * with a throwaway TSDB, and queried back over its HTTP API.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const PROMETHEUS_BIN = process.env.PROMETHEUS_BIN ?? '/usr/bin/prometheus';

/** True when the binary is present; under CI=true a missing binary is an error, not a skip. */
export function prometheusAvailable(): boolean {
  const ok = existsSync(PROMETHEUS_BIN);
  if (!ok && process.env.CI === 'true') throw new Error(`${PROMETHEUS_BIN} not found: .ci/run must apt-get install prometheus`);
  return ok;
}

/** A free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A running Prometheus. */
export interface RunningPrometheus {
  url: string;
  /** The remote-write receiver endpoint. */
  writeUrl: string;
  /** Instant query; returns the `data.result` vector. */
  query(promql: string, time?: number): Promise<Array<{ metric: Record<string, string>; value: [number, string] }>>;
  /** Range query over raw samples via `query_range`-free API: every sample of a selector in [start, end] (seconds). */
  samples(selector: string, start: number, end: number): Promise<Array<{ metric: Record<string, string>; values: Array<[number, string]> }>>;
  stop(): Promise<void>;
}

export async function startPrometheus(): Promise<RunningPrometheus> {
  const dir = await mkdtemp(path.join(tmpdir(), 'fleet-prom-'));
  await writeFile(path.join(dir, 'prometheus.yml'), 'global: {}\n');
  const port = await freePort();
  const child: ChildProcess = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${path.join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-remote-write-receiver',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (i > 600) throw new Error(`prometheus did not become ready: ${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const api = async (pathAndQuery: string) => {
    const res = await fetch(`${url}${pathAndQuery}`);
    const body = (await res.json()) as { status: string; data: { result: unknown }; error?: string };
    if (body.status !== 'success') throw new Error(`prometheus ${pathAndQuery}: ${body.error}`);
    return body.data.result;
  };
  return {
    url,
    writeUrl: `${url}/api/v1/write`,
    query: async (promql, time) =>
      (await api(`/api/v1/query?query=${encodeURIComponent(promql)}${time === undefined ? '' : `&time=${time}`}`)) as Array<{ metric: Record<string, string>; value: [number, string] }>,
    samples: async (selector, start, end) => {
      const range = Math.max(1, Math.ceil(end - start));
      return (await api(`/api/v1/query?query=${encodeURIComponent(`${selector}[${range}s]`)}&time=${end}`)) as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>;
    },
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

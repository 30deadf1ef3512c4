/**
 * Runs the built `fleet-agent` CLI as a real child process and reads its self-metrics.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './control-plane.js';
import { runLogged, startLogged } from './process.js';

export const agentBin = path.join(repoRoot, 'apps/agent/bin/fleet-agent.js');

/** A running agent process. */
export interface RunningAgent {
  child: ChildProcess;
  /** Self-metrics base URL. */
  url: string;
  logs: Array<Record<string, unknown>>;
  stderr(): string;
  /** Value of one metric series (sum over series matching `labels`), from /metrics. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** SIGTERM and wait; resolves to the exit code. */
  stop(): Promise<number | null>;
  /** SIGKILL and wait. */
  kill(): Promise<void>;
}

function assertBuilt(): void {
  if (!existsSync(path.join(repoRoot, 'apps/agent/dist/cli/main.js'))) {
    throw new Error('apps/agent/dist is missing: run `npm run build` (npm test does) before the system tests');
  }
}

/** Parses Prometheus text exposition into (name, labels, value) rows (enough for self-metrics). */
export function parseMetricsText(text: string): Array<{ name: string; labels: Record<string, string>; value: number }> {
  const rows: Array<{ name: string; labels: Record<string, string>; value: number }> = [];
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    rows.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return rows;
}

function agentOptions(env: Record<string, string | undefined>) {
  assertBuilt();
  return { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } };
}

/** Starts `fleet-agent <args>` and resolves once it logged "agent started". */
export async function startAgent(args: string[], env: Record<string, string | undefined>): Promise<RunningAgent> {
  const { proc, entry } = await startLogged(process.execPath, [agentBin, ...args], agentOptions(env), (e) => e.msg === 'agent started');
  const url = String(entry.telemetry);
  return {
    child: proc.child,
    url,
    logs: proc.logs,
    stderr: proc.stderr,
    async metric(name, labels = {}) {
      const text = await (await fetch(`${url}/metrics`)).text();
      return parseMetricsText(text)
        .filter((r) => r.name === name && Object.entries(labels).every(([k, v]) => r.labels[k] === v))
        .reduce((sum, r) => sum + r.value, 0);
    },
    async stop() {
      if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
      return proc.exited;
    },
    async kill() {
      if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
      await proc.exited;
    },
  };
}

/** Runs `fleet-agent <args>` to completion. */
export function runAgentToExit(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return runLogged(process.execPath, [agentBin, ...args], agentOptions(env));
}

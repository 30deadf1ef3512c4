/**
 * Runs the built `fleet-agent` CLI as a real child process and reads its self-metrics.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './control-plane.js';

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

/** Starts `fleet-agent <args>` and resolves once it logged "agent started". */
export function startAgent(args: string[], env: Record<string, string | undefined>): Promise<RunningAgent> {
  assertBuilt();
  const child = spawn(process.execPath, [agentBin, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Array<Record<string, unknown>> = [];
  let stderr = '';
  let buffer = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (entry.msg === 'agent started') {
          const url = String(entry.telemetry);
          resolve({
            child,
            url,
            logs,
            stderr: () => stderr,
            async metric(name, labels = {}) {
              const text = await (await fetch(`${url}/metrics`)).text();
              return parseMetricsText(text)
                .filter((r) => r.name === name && Object.entries(labels).every(([k, v]) => r.labels[k] === v))
                .reduce((s, r) => s + r.value, 0);
            },
            async stop() {
              if (child.exitCode === null) child.kill('SIGTERM');
              return exited;
            },
            async kill() {
              if (child.exitCode === null) child.kill('SIGKILL');
              await exited;
            },
          });
        }
      }
    });
    void exited.then((code) => reject(new Error(`fleet-agent exited with ${code} before starting:\n${stderr}`)));
  });
}

/** Runs `fleet-agent <args>` to completion. */
export function runAgentToExit(args: string[], env: Record<string, string | undefined>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  assertBuilt();
  const child = spawn(process.execPath, [agentBin, ...args], { cwd: repoRoot, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

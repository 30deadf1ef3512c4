/**
 * Starts the built control-plane server (`apps/control-plane/dist/server/main.js`) as a real
 * child process on a loopback port and waits until it says where it listens.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLogged, startLogged } from './process.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const serverEntry = path.join(repoRoot, 'apps/control-plane/dist/server/main.js');

/** A running control-plane process. */
export interface RunningControlPlane {
  url: string;
  child: ChildProcess;
  /** Every JSON log line so far, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Every other stdout line so far (e.g. the first-run setup link), blank lines left out. */
  stdoutLines: string[];
  /** The one-time first-run setup link the server printed (`…/setup?token=…`), if it printed one. */
  setupLink(): string | undefined;
  /** Sends SIGTERM and resolves to the exit code. */
  stop(): Promise<number | null>;
}

/** Outcome of a process that exited on its own (e.g. refused to start). */
export interface ExitedProcess {
  code: number | null;
  stdout: string;
  stderr: string;
}

function assertBuilt(): void {
  if (!existsSync(serverEntry)) {
    throw new Error(`${serverEntry} is missing: run \`npm run build\` (npm test does) before the system tests`);
  }
}

function serverOptions(env: Record<string, string | undefined>) {
  assertBuilt();
  return {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', ...env },
  };
}

/** Starts a server and resolves once it listens; rejects with its stderr if it exits first. */
export async function startControlPlane(env: Record<string, string | undefined>): Promise<RunningControlPlane> {
  const { proc, entry } = await startLogged(
    process.execPath,
    [serverEntry],
    serverOptions(env),
    (e) => typeof e.url === 'string' && String(e.msg).startsWith('control plane listening on'),
  );
  return {
    url: entry.url as string,
    child: proc.child,
    logs: proc.logs,
    stdoutLines: proc.stdoutLines,
    setupLink: () => setupLinkIn(proc.stdoutLines),
    async stop() {
      if (proc.child.exitCode === null) proc.child.kill('SIGTERM');
      return proc.exited;
    },
  };
}

/** The link of the line `First run: create the admin account at <link>`. */
export function setupLinkIn(lines: readonly string[]): string | undefined {
  for (const line of lines) {
    const m = /First run: create the admin account at (\S+)/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/** Runs a server that is expected to refuse to start; resolves when it exits. */
export function runToExit(env: Record<string, string | undefined>): Promise<ExitedProcess> {
  return runLogged(process.execPath, [serverEntry], serverOptions(env));
}

/** GET a path and parse the JSON body. */
export async function getJson(base: string, pathname: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(new URL(pathname, base));
  return { status: res.status, body: await res.json() };
}

/**
 * Starts the built control-plane server (`apps/control-plane/dist/server/main.js`) as a real
 * child process on a loopback port and waits until it says where it listens.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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

function spawnServer(env: Record<string, string | undefined>): ChildProcess {
  assertBuilt();
  return spawn(process.execPath, [serverEntry], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** Starts a server and resolves once it listens; rejects with its stderr if it exits first. */
export function startControlPlane(env: Record<string, string | undefined>): Promise<RunningControlPlane> {
  const child = spawnServer(env);
  const logs: Array<Record<string, unknown>> = [];
  const stdoutLines: string[] = [];
  let stderr = '';
  let buffer = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (!line.startsWith('{')) {
          if (line.trim()) stdoutLines.push(line);
          continue;
        }
        const entry = JSON.parse(line) as Record<string, unknown>;
        logs.push(entry);
        if (typeof entry.url === 'string' && String(entry.msg).startsWith('control plane listening on')) {
          resolve({
            url: entry.url,
            child,
            logs,
            stdoutLines,
            setupLink: () => setupLinkIn(stdoutLines),
            async stop() {
              if (child.exitCode === null) child.kill('SIGTERM');
              return exited;
            },
          });
        }
      }
    });
    void exited.then((code) => reject(new Error(`control plane exited with ${code} before listening: ${stderr}`)));
  });
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
  const child = spawnServer(env);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** GET a path and parse the JSON body. */
export async function getJson(base: string, pathname: string): Promise<{ status: number; body: unknown }> {
  const res = await fetch(new URL(pathname, base));
  return { status: res.status, body: await res.json() };
}

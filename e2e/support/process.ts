/**
 * Child processes that log JSON lines on stdout (the control plane and the agent): spawn one,
 * collect its log entries (and plain lines, e.g. the printed setup link), and wait for the entry
 * that says it is ready.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';

/** A started process and what it has said so far. */
export interface LoggedProcess {
  child: ChildProcess;
  /** Every JSON log line so far, parsed. */
  logs: Array<Record<string, unknown>>;
  /** Non-JSON stdout lines (human messages). */
  stdoutLines: string[];
  stderr(): string;
  /** Resolves with the exit code once the process ended and its output is read. */
  exited: Promise<number | null>;
}

/**
 * Spawns `command` and resolves once a log entry satisfies `ready` (with that entry); rejects
 * with the process's stderr if it exits first.
 */
export function startLogged(
  command: string,
  args: string[],
  options: SpawnOptions,
  ready: (entry: Record<string, unknown>) => boolean,
): Promise<{ proc: LoggedProcess; entry: Record<string, unknown> }> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Array<Record<string, unknown>> = [];
  const stdoutLines: string[] = [];
  let stderr = '';
  let buffer = '';
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)));
  const proc: LoggedProcess = { child, logs, stdoutLines, stderr: () => stderr, exited };
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
        if (ready(entry)) resolve({ proc, entry });
      }
    });
    void exited.then((code) => reject(new Error(`${command} ${args.join(' ')} exited with ${code} before it was ready:\n${stderr}`)));
  });
}

/** Runs a command to completion and returns its exit code and output. */
export function runLogged(command: string, args: string[], options: SpawnOptions): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, stdout, stderr })));
}

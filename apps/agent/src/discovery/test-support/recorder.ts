import type { Discoverer, DiscoveryDeps, TargetGroup } from '../discovery.js';

interface Waiter {
  what: string;
  test: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Records what a discoverer reports (updates, errors, log lines) and lets a test wait for a
 * condition on them; conditions are re-checked on every report, never by polling.
 */
export class Recorder {
  readonly updates: TargetGroup[][] = [];
  readonly errors: string[] = [];
  readonly logs: Array<{ level: string; message: string; fields?: Record<string, unknown> }> = [];
  private waiters: Waiter[] = [];

  /** Deps for the discoverer under test, logging into this recorder. */
  deps(env: NodeJS.ProcessEnv = {}): DiscoveryDeps {
    return {
      env,
      log: (level, message, fields) => {
        this.logs.push({ level, message, ...(fields ? { fields } : {}) });
      },
    };
  }

  /** Starts the discoverer with this recorder's callbacks. */
  start(d: Discoverer): void {
    d.start(
      (groups) => {
        this.updates.push(groups);
        this.check();
      },
      (message) => {
        this.errors.push(message);
        this.check();
      },
    );
  }

  /** The groups of the latest update (empty before the first). */
  get latest(): TargetGroup[] {
    return this.updates.at(-1) ?? [];
  }

  /** Resolves once `test` holds (checked now and after every report); rejects after `timeoutMs`. */
  until(what: string, test: () => boolean, timeoutMs = 10_000): Promise<void> {
    if (test()) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter = {
        what,
        test,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters = this.waiters.filter((w) => w !== waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; updates: ${JSON.stringify(this.updates.slice(-3))}; errors: ${JSON.stringify(this.errors.slice(-5))}`));
        }, timeoutMs),
      };
      this.waiters.push(waiter);
    });
  }

  /** Waits for an error matching `pattern` (any time since start). */
  error(pattern: RegExp, timeoutMs?: number): Promise<void> {
    return this.until(`an error matching ${pattern}`, () => this.errors.some((e) => pattern.test(e)), timeoutMs);
  }

  private check(): void {
    for (const w of [...this.waiters]) {
      if (w.test()) {
        clearTimeout(w.timer);
        this.waiters = this.waiters.filter((x) => x !== w);
        w.resolve();
      }
    }
  }
}

/** Every target address of a list of groups, sorted. */
export const addresses = (groups: TargetGroup[]): string[] => groups.flatMap((g) => g.targets).sort();

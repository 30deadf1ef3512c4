/** What {@link WorkQueue.push} and {@link WorkQueue.pushLatest} did with the work. */
export type Queued = 'queued' | 'coalesced' | 'full';

/**
 * One session's database work, run one item at a time in the order it was queued (so an agent's
 * reports land in order), with bounds: at most `maxPending` items from the agent wait at once
 * (`bounded` work beyond that is refused, `full`), and work queued under a coalescing key
 * (`pushLatest`) keeps a single waiting item whose value later calls replace — a heartbeat
 * carries cumulative counters, so only the latest one waiting needs recording. The server's
 * own work (connection history, config pushes) is queued unbounded: it is not the agent's to
 * multiply. A failed item is passed to `onError` and the queue goes on.
 */
export class WorkQueue {
  private readonly items: Array<() => Promise<unknown>> = [];
  private readonly latest = new Map<string, { value: unknown }>();
  private bounded = 0;
  private running: Promise<void> | null = null;

  constructor(
    private readonly maxPending: number,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Items waiting (not yet started). */
  get pending(): number {
    return this.items.length;
  }

  /** Queues `work`; `full` (nothing queued) when `bounded` and `maxPending` bounded items wait already. */
  push(work: () => Promise<unknown>, options: { bounded: boolean } = { bounded: true }): Queued {
    if (options.bounded) {
      if (this.bounded >= this.maxPending) return 'full';
      this.bounded++;
      this.items.push(async () => {
        this.bounded--;
        await work();
      });
    } else {
      this.items.push(work);
    }
    this.kick();
    return 'queued';
  }

  /**
   * Queues `run(value)` under `key`, or — when an item of that key is waiting and has not
   * started — replaces the value it will run with (`coalesced`). Once an item starts, the next
   * call queues a new one, so at most one runs and one waits per key.
   */
  pushLatest<T>(key: string, value: T, run: (value: T) => Promise<unknown>, options: { bounded: boolean } = { bounded: true }): Queued {
    const waiting = this.latest.get(key);
    if (waiting) {
      waiting.value = value;
      return 'coalesced';
    }
    const slot = { value: value as unknown };
    const queued = this.push(() => {
      this.latest.delete(key);
      return run(slot.value as T);
    }, options);
    if (queued === 'queued') this.latest.set(key, slot);
    return queued;
  }

  /** Resolves once nothing is waiting or running. */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private kick(): void {
    if (this.running) return;
    // Started on a microtask: the caller finishes queueing (and registering) before any work runs.
    this.running = Promise.resolve().then(async () => {
      for (let work = this.items.shift(); work; work = this.items.shift()) {
        try {
          await work();
        } catch (err) {
          this.onError(err);
        }
      }
      this.running = null;
    });
  }
}

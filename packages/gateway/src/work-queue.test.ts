import { describe, expect, it } from 'vitest';
import { WorkQueue } from './work-queue.js';

describe('WorkQueue', () => {
  it('runs work in order, one at a time, and keeps going after a failure', async () => {
    const errors: unknown[] = [];
    const queue = new WorkQueue(10, (e) => errors.push(e));
    const ran: number[] = [];
    let running = 0;
    for (let i = 0; i < 5; i++) {
      queue.push(async () => {
        expect(++running).toBe(1);
        await Promise.resolve();
        ran.push(i);
        running--;
        if (i === 2) throw new Error('boom');
      });
    }
    await queue.idle();
    expect(ran).toEqual([0, 1, 2, 3, 4]);
    expect(errors).toHaveLength(1);
  });

  it('keeps one waiting item per coalescing key with the latest value, and refuses bounded work past its limit', async () => {
    const queue = new WorkQueue(2, () => undefined);
    const seen: number[] = [];
    let release!: () => void;
    queue.push(() => new Promise<void>((r) => (release = r)), { bounded: false });
    expect(queue.pushLatest('hb', 1, async (v) => seen.push(v))).toBe('queued');
    for (let v = 2; v <= 1000; v++) expect(queue.pushLatest('hb', v, async (x) => seen.push(x))).toBe('coalesced');
    expect(queue.push(async () => undefined)).toBe('queued');
    expect(queue.push(async () => undefined)).toBe('full');
    // Server work is never refused.
    expect(queue.push(async () => undefined, { bounded: false })).toBe('queued');
    await Promise.resolve();
    release();
    await queue.idle();
    expect(seen).toEqual([1000]);
  });
});

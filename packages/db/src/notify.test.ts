import { expect, it } from 'vitest';
import { notify } from './client.js';
import { describeEachDatabase } from './test-support/index.js';

function inbox() {
  const got: string[] = [];
  let wake: (() => void) | null = null;
  return {
    push(p: string) {
      got.push(p);
      wake?.();
    },
    async next(count: number): Promise<string[]> {
      while (got.length < count) await new Promise<void>((r) => (wake = r));
      return got.slice(0, count);
    },
    got,
  };
}

describeEachDatabase('listen/notify', (backend) => {
  it('delivers a notification to a listener, and only after the transaction commits', async () => {
    const { handle, dispose } = await backend.fresh();
    try {
      const box = inbox();
      const stop = await handle.listen('fleet_test', (p) => box.push(p));
      await handle.db.transaction(async (tx) => {
        await notify(tx, 'fleet_test', 'in-tx');
        // A rolled-back transaction sends nothing.
      });
      await handle.db
        .transaction(async (tx) => {
          await notify(tx, 'fleet_test', 'rolled-back');
          throw new Error('rollback');
        })
        .catch(() => undefined);
      await notify(handle.db, 'fleet_test', 'plain');
      expect(await box.next(2)).toEqual(['in-tx', 'plain']);
      await stop();
      await notify(handle.db, 'fleet_test', 'after-stop');
      // A round trip after the NOTIFY: had it been delivered it would be here by now.
      await handle.ping();
      await notify(handle.db, 'fleet_test', 'after-stop-2');
      await handle.ping();
      expect(box.got).toEqual(['in-tx', 'plain']);
    } finally {
      await dispose();
    }
  });

  it('refuses a channel name that is not an identifier', async () => {
    const { handle, dispose } = await backend.fresh();
    try {
      await expect(handle.listen('bad; drop table x', () => undefined)).rejects.toThrow(/invalid notification channel name/);
    } finally {
      await dispose();
    }
  });
});

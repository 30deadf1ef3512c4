import { applyRetention, refreshRollups } from '@fleet/core';
import type { DatabaseHandle } from '@fleet/db';
import type { Logger } from './logger.js';

/**
 * Background upkeep of the fleet history: rolls recent per-minute agent stats up into fleet and
 * pipeline-version series every `intervalMs`, and applies retention every tenth run. Both are
 * idempotent, so every replica may run them. Resolves `stop()` once a run in flight ends.
 */
export function startMaintenance(options: { database: DatabaseHandle; logger: Logger; intervalMs: number }): { stop(): Promise<void> } {
  const { database, logger, intervalMs } = options;
  let runs = 0;
  let running: Promise<void> = Promise.resolve();
  const tick = () => {
    running = running.then(async () => {
      const started = Date.now();
      try {
        await refreshRollups(database.db);
        if (runs++ % 10 === 0) {
          const deleted = await applyRetention(database.db);
          if (deleted) logger.info({ deleted }, 'fleet history past its retention deleted');
        }
        const ms = Date.now() - started;
        if (ms > intervalMs / 2) logger.warn({ ms, intervalMs }, 'fleet stats rollup is slow for its interval');
      } catch (err) {
        logger.warn({ err }, 'fleet stats maintenance failed; retrying at the next interval');
      }
    });
  };
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  tick();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

// Child process of bench/dashboard/run.mjs: applyRetention(db, RETENTION_AT) on DATABASE_URL,
// timed; prints one JSON line { deleted, ms, maxRssMiB }. A child (with a large heap) because
// applyRetention returns every deleted row to count them: 14 M rows at once after a day.
/* eslint-disable no-console -- prints its result for the parent */
/* global performance -- a Node 20 global */
import { openDatabase } from '@fleet/db';
import { applyRetention } from '@fleet/core';

const handle = await openDatabase({ databaseUrl: process.env.DATABASE_URL });
try {
  const t0 = performance.now();
  const deleted = await applyRetention(handle.db, new Date(process.env.RETENTION_AT));
  const elapsed = performance.now() - t0;
  console.log(JSON.stringify({ deleted, ms: elapsed, maxRssMiB: process.resourceUsage().maxRSS / 1024 }));
} finally {
  await handle.close();
}

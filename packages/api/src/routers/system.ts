import { getSystemStatus } from '@fleet/core';
import { publicProcedure, router } from '../trpc.js';

/** Process and database status, shown on the home page. */
export const systemRouter = router({
  status: publicProcedure.query(({ ctx }) => getSystemStatus({ database: ctx.database, version: ctx.version })),
});

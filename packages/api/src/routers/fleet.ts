import { agentDetail, fleetOverview, pipelineStats, STATS_WINDOWS } from '@fleet/core';
import { z } from 'zod';
import { roleProcedure, router } from '../trpc.js';

const windowMinutes = z
  .number()
  .int()
  .refine((w) => (STATS_WINDOWS as readonly number[]).includes(w), `one of ${STATS_WINDOWS.join(', ')} minutes`);

/** Fleet health: the overview, an agent's history and findings, delivery per pipeline version. */
export const fleetRouter = router({
  overview: roleProcedure('viewer')
    .input(z.object({ windowMinutes: windowMinutes.default(60) }).strict())
    .query(({ ctx, input }) => fleetOverview({ db: ctx.database.db }, input)),
  agent: roleProcedure('viewer')
    .input(z.object({ id: z.uuid('not an agent id'), windowMinutes: windowMinutes.default(60) }).strict())
    .query(({ ctx, input }) => agentDetail({ db: ctx.database.db }, input.id, { windowMinutes: input.windowMinutes })),
  pipeline: roleProcedure('viewer')
    .input(z.object({ id: z.uuid('not a pipeline id'), windowMinutes: windowMinutes.default(1440) }).strict())
    .query(({ ctx, input }) => pipelineStats({ db: ctx.database.db }, input.id, { windowMinutes: input.windowMinutes })),
});

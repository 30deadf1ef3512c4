import { agentLabelsSchema, getAgent, listAgents, removeAgent, setAgentLabels } from '@fleet/core';
import { z } from 'zod';
import { roleProcedure, router, serviceContext } from '../trpc.js';

const agentId = z.object({ id: z.uuid('not an agent id') });

/** The fleet: agents, their state and config status; labels (editors) and removal (admins). */
export const agentsRouter = router({
  list: roleProcedure('viewer')
    .input(
      z
        .object({
          search: z.string().max(200).optional(),
          state: z.enum(['online', 'offline', 'never_connected']).optional(),
          configStatus: z.enum(['none', 'pending', 'applying', 'applied', 'failed']).optional(),
          health: z.enum(['healthy', 'degraded', 'failing']).optional(),
          limit: z.number().int().min(1).max(500).default(50),
          offset: z.number().int().min(0).default(0),
        })
        .strict()
        .default({ limit: 50, offset: 0 }),
    )
    .query(({ ctx, input }) => listAgents({ db: ctx.database.db }, input)),
  get: roleProcedure('viewer')
    .input(agentId)
    .query(({ ctx, input }) => getAgent({ db: ctx.database.db }, input.id)),
  setLabels: roleProcedure('editor')
    .input(agentId.extend({ labels: agentLabelsSchema }))
    .mutation(({ ctx, input }) => setAgentLabels(serviceContext(ctx), input.id, input.labels)),
  remove: roleProcedure('admin')
    .input(agentId)
    .mutation(({ ctx, input }) => removeAgent(serviceContext(ctx), input.id)),
});

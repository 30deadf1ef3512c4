import { auditActions, listAudit } from '@fleet/core';
import { z } from 'zod';
import { roleProcedure, router } from '../trpc.js';

/** The audit log: who changed what, when, before/after. */
export const auditRouter = router({
  list: roleProcedure('viewer')
    .input(
      z
        .object({
          search: z.string().max(200).optional(),
          action: z.string().max(100).optional(),
          targetType: z.string().max(100).optional(),
          targetId: z.string().max(300).optional(),
          actor: z.string().max(300).optional(),
          from: z.coerce.date().optional(),
          to: z.coerce.date().optional(),
          beforeId: z.number().int().positive().optional(),
          limit: z.number().int().min(1).max(200).optional(),
        })
        .optional(),
    )
    .query(({ ctx, input }) => listAudit({ db: ctx.database.db }, input ?? {})),
  actions: roleProcedure('viewer').query(({ ctx }) => auditActions({ db: ctx.database.db })),
});

import { createEnrollmentToken, listEnrollmentTokens, newTokenSchema, revokeEnrollmentToken } from '@fleet/core';
import { z } from 'zod';
import { roleProcedure, router, serviceContext } from '../trpc.js';

/** Enrollment tokens (admins): the secret is returned once, at creation. */
export const enrollmentRouter = router({
  list: roleProcedure('admin').query(({ ctx }) => listEnrollmentTokens({ db: ctx.database.db })),
  create: roleProcedure('admin')
    .input(newTokenSchema)
    .mutation(({ ctx, input }) => createEnrollmentToken(serviceContext(ctx), input)),
  revoke: roleProcedure('admin')
    .input(z.object({ id: z.uuid('not a token id') }))
    .mutation(({ ctx, input }) => revokeEnrollmentToken(serviceContext(ctx), input.id)),
});

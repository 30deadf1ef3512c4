import { buildInstallPlan, createEnrollmentToken, installPlanSchema, listEnrollmentTokens, newTokenSchema, revokeEnrollmentToken } from '@fleet/core';
import { z } from 'zod';
import { roleProcedure, router, serviceContext } from '../trpc.js';

/** Enrollment tokens (admins): the secret is returned once, at creation; and the install wizards' plans. */
export const enrollmentRouter = router({
  list: roleProcedure('admin').query(({ ctx }) => listEnrollmentTokens({ db: ctx.database.db })),
  create: roleProcedure('admin')
    .input(newTokenSchema)
    .mutation(({ ctx, input }) => createEnrollmentToken(serviceContext(ctx), input)),
  revoke: roleProcedure('admin')
    .input(z.object({ id: z.uuid('not a token id') }))
    .mutation(({ ctx, input }) => revokeEnrollmentToken(serviceContext(ctx), input.id)),
  /** What an EC2 or EKS enrollment with a token needs (IAM, commands, Helm), for this control plane's version. */
  installPlan: roleProcedure('admin')
    .input(installPlanSchema)
    .query(({ ctx, input }) => buildInstallPlan({ db: ctx.database.db }, { ...input, version: ctx.version })),
});

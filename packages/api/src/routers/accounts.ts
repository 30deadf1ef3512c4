import { awsAccountInputSchema, createAwsAccount, deleteAwsAccount, getAwsAccount, listAwsAccounts, rotateExternalId, updateAwsAccount } from '@fleet/core';
import { z } from 'zod';
import { roleProcedure, router, serviceContext } from '../trpc.js';

const id = z.object({ id: z.uuid('not an account id') });

/** AWS accounts agents write into (no keys, ever). */
export const accountsRouter = router({
  list: roleProcedure('viewer')
    .input(z.object({ search: z.string().max(200).optional() }).optional())
    .query(({ ctx, input }) => listAwsAccounts({ db: ctx.database.db }, input?.search)),
  get: roleProcedure('viewer')
    .input(id)
    .query(({ ctx, input }) => getAwsAccount({ db: ctx.database.db }, input.id)),
  create: roleProcedure('admin')
    .input(awsAccountInputSchema)
    .mutation(({ ctx, input }) => createAwsAccount(serviceContext(ctx), input)),
  update: roleProcedure('admin')
    .input(id.extend({ account: awsAccountInputSchema }))
    .mutation(({ ctx, input }) => updateAwsAccount(serviceContext(ctx), input.id, input.account)),
  rotateExternalId: roleProcedure('admin')
    .input(id)
    .mutation(({ ctx, input }) => rotateExternalId(serviceContext(ctx), input.id)),
  delete: roleProcedure('admin')
    .input(id)
    .mutation(({ ctx, input }) => deleteAwsAccount(serviceContext(ctx), input.id)),
});

import { completeSetup, createUser, listUsers, needsSetup, newUserSchema, setUserDisabled, setUserPassword, setUserRole, checkSetupToken, unlockUser } from '@fleet/core';
import { USER_ROLES } from '@fleet/db';
import { z } from 'zod';
import { publicProcedure, roleProcedure, router, serviceContext } from '../trpc.js';

/** Operators and first-run setup. */
export const usersRouter = router({
  me: roleProcedure('viewer').query(({ ctx }) => ctx.user),
  list: roleProcedure('admin')
    .input(z.object({ search: z.string().max(200).optional() }).optional())
    .query(({ ctx, input }) => listUsers({ db: ctx.database.db }, input?.search)),
  create: roleProcedure('admin')
    .input(newUserSchema)
    .mutation(({ ctx, input }) => createUser(serviceContext(ctx), input)),
  setRole: roleProcedure('admin')
    .input(z.object({ id: z.string().min(1), role: z.enum(USER_ROLES) }))
    .mutation(({ ctx, input }) => setUserRole(serviceContext(ctx), input.id, input.role)),
  setDisabled: roleProcedure('admin')
    .input(z.object({ id: z.string().min(1), disabled: z.boolean() }))
    .mutation(({ ctx, input }) => setUserDisabled(serviceContext(ctx), input.id, input.disabled)),
  setPassword: roleProcedure('admin')
    .input(z.object({ id: z.string().min(1), password: z.string().max(1024) }))
    .mutation(({ ctx, input }) => setUserPassword(serviceContext(ctx), input.id, input.password)),
  /** Lifts a sign-in lock set after repeated failed sign-ins. */
  unlock: roleProcedure('admin')
    .input(z.object({ id: z.string().min(1) }))
    .mutation(({ ctx, input }) => unlockUser(serviceContext(ctx), input.id)),
});

/** First run: is setup needed, is a link valid, create the first admin. */
export const setupRouter = router({
  status: publicProcedure
    .input(z.object({ token: z.string().max(200).optional() }).optional())
    .query(async ({ ctx, input }) => ({
      needed: await needsSetup(ctx.database.db),
      tokenValid: input?.token ? await checkSetupToken(ctx.database.db, input.token) : false,
    })),
  complete: publicProcedure
    .input(newUserSchema.omit({ role: true }).extend({ token: z.string().min(1).max(200) }))
    .mutation(({ ctx, input }) => {
      const { token, ...user } = input;
      return completeSetup({ db: ctx.database.db, sourceIp: ctx.sourceIp }, token, user);
    }),
});

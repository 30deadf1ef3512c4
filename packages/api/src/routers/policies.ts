import { listTemplates, policiesForPipeline, policyRequestSchema, resetTemplate, templateVersions, updateTemplate } from '@fleet/core';
import { z } from 'zod';
import { roleProcedure, router, serviceContext } from '../trpc.js';

const key = z.string().min(1).max(100);

/** Least-privilege IAM documents generated from pipelines, and their editable templates. */
export const policiesRouter = router({
  templates: roleProcedure('viewer').query(({ ctx }) => listTemplates({ db: ctx.database.db })),
  templateVersions: roleProcedure('viewer')
    .input(z.object({ key }))
    .query(({ ctx, input }) => templateVersions({ db: ctx.database.db }, input.key)),
  updateTemplate: roleProcedure('editor')
    .input(z.object({ key, body: z.string().min(1, 'required').max(20_000), note: z.string().max(2000).default('') }))
    .mutation(({ ctx, input }) => updateTemplate(serviceContext(ctx), input.key, input.body, input.note)),
  resetTemplate: roleProcedure('editor')
    .input(z.object({ key }))
    .mutation(({ ctx, input }) => resetTemplate(serviceContext(ctx), input.key)),
  forPipeline: roleProcedure('viewer')
    .input(policyRequestSchema)
    .query(({ ctx, input }) => policiesForPipeline({ db: ctx.database.db }, input)),
});

import {
  archivePipeline,
  createPipeline,
  diffVersions,
  draftSchema,
  getPipeline,
  listPipelines,
  MAX_SOURCE_BYTES,
  newPipelineSchema,
  parsePipelineSource,
  previewSelector,
  pipelineRollout,
  publishVersion,
  saveDraft,
  selectorSchema,
  validatePipelineDocument,
} from '@fleet/core';
import { z } from 'zod';
import { roleProcedure, router, serviceContext } from '../trpc.js';

const pipelineId = z.uuid('not a pipeline id');

/** Pipelines: versioned scrape + destination configs applied to agents by selector. */
export const pipelinesRouter = router({
  list: roleProcedure('viewer')
    .input(z.object({ search: z.string().max(200).optional() }).optional())
    .query(({ ctx, input }) => listPipelines({ db: ctx.database.db }, input?.search)),
  get: roleProcedure('viewer')
    .input(z.object({ id: pipelineId }))
    .query(({ ctx, input }) => getPipeline({ db: ctx.database.db }, input.id)),
  validate: roleProcedure('viewer')
    .input(z.object({ document: z.unknown().optional(), source: z.string().max(MAX_SOURCE_BYTES).optional() }))
    .query(async ({ ctx, input }) => {
      const document = input.source !== undefined ? parsePipelineSource(input.source) : input.document;
      const r = await validatePipelineDocument({ db: ctx.database.db }, document);
      return r.ok ? { ok: true as const, issues: [] } : { ok: false as const, issues: r.issues };
    }),
  rollout: roleProcedure('viewer')
    .input(z.object({ id: z.uuid('not a pipeline id') }))
    .query(({ ctx, input }) => pipelineRollout({ db: ctx.database.db }, input.id)),
  preview: roleProcedure('viewer')
    .input(z.object({ selector: selectorSchema }))
    .query(({ ctx, input }) => previewSelector({ db: ctx.database.db }, input.selector)),
  diff: roleProcedure('viewer')
    .input(z.object({ id: pipelineId, from: z.number().int().positive(), to: z.number().int().positive() }))
    .query(({ ctx, input }) => diffVersions({ db: ctx.database.db }, input.id, input.from, input.to)),
  create: roleProcedure('editor')
    .input(newPipelineSchema)
    .mutation(({ ctx, input }) => createPipeline(serviceContext(ctx), input)),
  saveDraft: roleProcedure('editor')
    .input(draftSchema.extend({ id: pipelineId }))
    .mutation(({ ctx, input }) => {
      const { id, ...draft } = input;
      return saveDraft(serviceContext(ctx), id, draft);
    }),
  publish: roleProcedure('editor')
    .input(z.object({ id: pipelineId, version: z.number().int().positive(), note: z.string().max(2000) }))
    .mutation(({ ctx, input }) => publishVersion(serviceContext(ctx), input.id, input.version, input.note)),
  archive: roleProcedure('editor')
    .input(z.object({ id: pipelineId }))
    .mutation(({ ctx, input }) => archivePipeline(serviceContext(ctx), input.id)),
});

import { AppError, type AppErrorCode } from '@fleet/core';
import type { DatabaseHandle } from '@fleet/db';
import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';

/** Everything a procedure may use; built per request by the server that mounts the router. */
export interface ApiContext {
  database: DatabaseHandle;
  /** Version of the running control plane. */
  version: string;
}

const TRPC_CODE: Record<AppErrorCode, TRPCError['code']> = {
  BAD_INPUT: 'BAD_REQUEST',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  UNAUTHENTICATED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

const t = initTRPC.context<ApiContext>().create({
  errorFormatter({ shape, error }) {
    const cause = error.cause;
    return {
      ...shape,
      data: {
        ...shape.data,
        // Field-level problems, e.g. [{ path: 'remoteWrite.0.url', message: 'Invalid URL' }]
        fieldErrors:
          cause instanceof ZodError
            ? cause.issues.map((i) => ({ path: i.path.join('.'), message: i.message }))
            : cause instanceof AppError && cause.details.field
              ? [{ path: cause.details.field, message: cause.message }]
              : null,
      },
    };
  },
});

/** Turns AppError thrown by core into the matching tRPC error; everything else passes. */
const mapAppErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && result.error.cause instanceof AppError) {
    const cause = result.error.cause;
    throw new TRPCError({ code: TRPC_CODE[cause.code], message: cause.message, cause });
  }
  return result;
});

export const router = t.router;
/** A procedure anyone may call (no session needed). */
export const publicProcedure = t.procedure.use(mapAppErrors);
export const createCallerFactory = t.createCallerFactory;

import { AppError, roleAtLeast, type AppErrorCode, type Auth, type SessionUser } from '@fleet/core';
import type { DatabaseHandle, UserRole } from '@fleet/db';
import { storableTextProblem } from '@fleet/protocol';
import { initTRPC, TRPCError } from '@trpc/server';
import { ZodError } from 'zod';

/** Everything a procedure may use; built per request by the server that mounts the router. */
export interface ApiContext {
  database: DatabaseHandle;
  /** Version of the running control plane. */
  version: string;
  /** The signed-in operator, or null. */
  user: SessionUser | null;
  /** Operators' authentication (for procedures that manage sessions). */
  auth: Auth | null;
  /** Address the request came from (audit log). */
  sourceIp: string | undefined;
}

/** What each procedure declares: the least role that may call it, or `public`. */
export interface ApiMeta {
  role: UserRole | 'public';
}

const TRPC_CODE: Record<AppErrorCode, TRPCError['code']> = {
  BAD_INPUT: 'BAD_REQUEST',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  UNAUTHENTICATED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  UNAVAILABLE: 'SERVICE_UNAVAILABLE',
};

const t = initTRPC
  .context<ApiContext>()
  .meta<ApiMeta>()
  .create({
    errorFormatter({ shape, error }) {
      const cause = error.cause;
      return {
        ...shape,
        data: {
          ...shape.data,
          // Field-level problems, e.g. [{ path: 'roleArn', message: 'the role is in account …' }]
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

/** Turns AppError and ZodError thrown by core into the matching tRPC error. */
const mapErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok) {
    const cause = result.error.cause;
    if (cause instanceof AppError) throw new TRPCError({ code: TRPC_CODE[cause.code], message: cause.message, cause });
    if (cause instanceof ZodError) {
      // Input validation (BAD_REQUEST) or a service's own parse (INTERNAL): either way, readable.
      throw new TRPCError({ code: 'BAD_REQUEST', message: cause.issues.map((i) => `${i.path.join('.') || 'input'}: ${i.message}`).join('; '), cause });
    }
  }
  return result;
});

/**
 * The first string in `input` (values and object keys, at any depth) that PostgreSQL would
 * refuse — a NUL character or a lone surrogate — with its dotted path (`labels.env`; `input` for
 * the input itself), or null. Walks with its own stack, so deeply nested input cannot exhaust
 * the call stack.
 */
export function unstorableText(input: unknown): { path: string; problem: string } | null {
  const stack: Array<{ value: unknown; path: string }> = [{ value: input, path: '' }];
  const at = (path: string, key: string) => (path ? `${path}.${key}` : key);
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value, path } = item;
    if (typeof value === 'string') {
      const problem = storableTextProblem(value);
      if (problem) return { path: path || 'input', problem };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: at(path, String(i)) });
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--) {
        const [key, child] = entries[i]!;
        const keyProblem = storableTextProblem(key);
        if (keyProblem) return { path: at(path, JSON.stringify(key)), problem: `the key ${keyProblem}` };
        stack.push({ value: child, path: at(path, key) });
      }
    }
  }
  return null;
}

/**
 * Refuses input with text PostgreSQL cannot store (NUL, lone surrogates) as BAD_REQUEST naming
 * where it is (`name: contains a NUL character`), before any procedure sees it — otherwise the
 * INSERT fails and the caller gets a 500.
 */
const storableInput = t.middleware(async ({ getRawInput, next }) => {
  let raw: unknown;
  try {
    raw = await getRawInput();
  } catch {
    // Unreadable (e.g. an empty POST body): a procedure without input never reads it, and one
    // with input reports the same error from its own parsing.
    return next();
  }
  const found = unstorableText(raw);
  if (found) {
    const cause = new AppError('BAD_INPUT', found.problem, { field: found.path });
    throw new TRPCError({ code: 'BAD_REQUEST', message: `${found.path}: ${found.problem}`, cause });
  }
  return next();
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;

/** A procedure anyone may call (no session needed). */
export const publicProcedure = t.procedure.meta({ role: 'public' }).use(storableInput).use(mapErrors);

/**
 * A procedure for operators with at least `role` (admin > editor > viewer). Unauthenticated
 * callers get UNAUTHORIZED, lower roles FORBIDDEN — checked before the input is parsed.
 */
export function roleProcedure(role: UserRole) {
  return t.procedure
    .meta({ role })
    .use(async ({ ctx, next }) => {
      if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
      if (!roleAtLeast(ctx.user.role, role)) {
        throw new TRPCError({ code: 'FORBIDDEN', message: `this needs the ${role} role; you are ${ctx.user.role}` });
      }
      return next({ ctx: { ...ctx, user: ctx.user } });
    })
    .use(storableInput)
    .use(mapErrors);
}

/** The service context of a signed-in operator's request. */
export function serviceContext(ctx: ApiContext & { user: SessionUser }) {
  return { db: ctx.database.db, actor: { type: 'user' as const, id: ctx.user.id, email: ctx.user.email, role: ctx.user.role }, sourceIp: ctx.sourceIp };
}

/**
 * @fleet/api — the tRPC API of the control plane. Routers only parse input, authorize and
 * call @fleet/core. Mount {@link appRouter} with a context built by the server.
 */
import { router, createCallerFactory } from './trpc.js';
import { systemRouter } from './routers/system.js';

export const appRouter = router({
  system: systemRouter,
});

/** Type of the whole API, imported (as a type only) by the browser client. */
export type AppRouter = typeof appRouter;
export type { ApiContext } from './trpc.js';
/** Calls procedures in-process (tests, server components). */
export const createCaller = createCallerFactory(appRouter);

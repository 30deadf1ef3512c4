/**
 * @fleet/api — the tRPC API of the control plane. Routers only parse input, authorize (each
 * procedure declares the least role it needs in its `meta`) and call @fleet/core. Mount
 * {@link appRouter} with a context built by the server.
 */
import { router, createCallerFactory } from './trpc.js';
import { accountsRouter } from './routers/accounts.js';
import { agentsRouter } from './routers/agents.js';
import { auditRouter } from './routers/audit.js';
import { enrollmentRouter } from './routers/enrollment.js';
import { fleetRouter } from './routers/fleet.js';
import { pipelinesRouter } from './routers/pipelines.js';
import { policiesRouter } from './routers/policies.js';
import { systemRouter } from './routers/system.js';
import { setupRouter, usersRouter } from './routers/users.js';

export const appRouter = router({
  system: systemRouter,
  setup: setupRouter,
  users: usersRouter,
  accounts: accountsRouter,
  pipelines: pipelinesRouter,
  audit: auditRouter,
  policies: policiesRouter,
  enrollment: enrollmentRouter,
  agents: agentsRouter,
  fleet: fleetRouter,
});

/** Type of the whole API, imported (as a type only) by the browser client. */
export type AppRouter = typeof appRouter;
export type { ApiContext, ApiMeta } from './trpc.js';
/** Calls procedures in-process (tests, server components). */
export const createCaller = createCallerFactory(appRouter);

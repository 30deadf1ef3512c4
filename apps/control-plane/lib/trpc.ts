'use client';
import type { AppRouter } from '@fleet/api';
import type { inferRouterOutputs } from '@trpc/server';
import { createTRPCContext } from '@trpc/tanstack-react-query';

/** React bindings of the control-plane API: `useTRPC()` gives typed query/mutation options. */
export const { TRPCProvider, useTRPC, useTRPCClient } = createTRPCContext<AppRouter>();

/** What each procedure returns (dates arrive as ISO strings: see `toDate` in format.ts). */
export type ApiOutputs = inferRouterOutputs<AppRouter>;

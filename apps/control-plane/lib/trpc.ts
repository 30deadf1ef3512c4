'use client';
import type { AppRouter } from '@fleet/api';
import { createTRPCContext } from '@trpc/tanstack-react-query';

/** React bindings of the control-plane API: `useTRPC()` gives typed query/mutation options. */
export const { TRPCProvider, useTRPC } = createTRPCContext<AppRouter>();

'use client';
import type { AppRouter } from '@fleet/api';
import { MutationCache, QueryCache, QueryClient, QueryClientProvider } from '@tanstack/react-query';
import { createTRPCClient, httpBatchLink } from '@trpc/client';
import { useState, type ReactNode } from 'react';
import { errorCode } from '@/lib/api-errors';
import { sessionEnding } from '@/lib/auth';
import { TRPCProvider } from '@/lib/trpc';
import { AnnouncerProvider } from '@/lib/ui/announcer';

/**
 * When the session ends (expired, signed out elsewhere, disabled), go to the sign-in page and come
 * back after — but not when the operator signed out here: that page goes to `/login` itself.
 */
function onApiError(error: unknown) {
  if (errorCode(error) !== 'UNAUTHORIZED' || typeof window === 'undefined' || sessionEnding()) return;
  const { pathname, search } = window.location;
  if (pathname.startsWith('/login') || pathname.startsWith('/setup')) return;
  window.location.assign(`/login?next=${encodeURIComponent(pathname + search)}`);
}

/** Query cache, API client and the live-region announcer shared by every page. */
export function Providers({ children }: { children: ReactNode }) {
  const [queryClient] = useState(
    () =>
      new QueryClient({
        queryCache: new QueryCache({ onError: onApiError }),
        mutationCache: new MutationCache({ onError: onApiError }),
        defaultOptions: {
          queries: {
            staleTime: 5_000,
            // An answer from the API (4xx) will not change by asking again; a network failure might.
            retry: (failures, error) => errorCode(error) === undefined && failures < 1,
            refetchOnWindowFocus: true,
          },
        },
      }),
  );
  const [trpcClient] = useState(() => createTRPCClient<AppRouter>({ links: [httpBatchLink({ url: '/api/trpc', methodOverride: 'POST', maxItems: 25 /* the server's MAX_BATCH_SIZE */ })] }));
  return (
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <AnnouncerProvider>{children}</AnnouncerProvider>
      </TRPCProvider>
    </QueryClientProvider>
  );
}

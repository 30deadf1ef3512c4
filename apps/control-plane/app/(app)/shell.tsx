'use client';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { useEffect, useState, type ReactNode } from 'react';
import { errorCode, errorText } from '@/lib/api-errors';
import { signOut } from '@/lib/auth';
import { roleAtLeast } from '@/lib/format';
import { MeContext } from '@/lib/session';
import { useTRPC } from '@/lib/trpc';
import { useAnnounce } from '@/lib/ui/announcer';
import { Loading } from '@/lib/ui/states';

const NAV: Array<{ href: string; label: string; admin?: boolean }> = [
  { href: '/', label: 'Fleet' },
  { href: '/pipelines', label: 'Pipelines' },
  { href: '/accounts', label: 'AWS accounts' },
  { href: '/policies', label: 'Policies' },
  { href: '/enrollment', label: 'Enrollment' },
  { href: '/audit', label: 'Audit' },
  { href: '/users', label: 'Users', admin: true },
];

function isActive(pathname: string, href: string): boolean {
  return href === '/' ? pathname === '/' : pathname === href || pathname.startsWith(`${href}/`);
}

function TopBar({ children }: { children?: ReactNode }) {
  return (
    <header className="topbar">
      <Link href="/" className="brand">
        <span className="brand-mark" aria-hidden="true" />
        Fleet control plane
      </Link>
      {children}
    </header>
  );
}

/** `/` focuses the page's search box (when focus is not in a field). */
function useSlashToSearch() {
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey) return;
      const t = e.target as HTMLElement | null;
      if (t && (t.isContentEditable || ['INPUT', 'TEXTAREA', 'SELECT'].includes(t.tagName))) return;
      const search = document.querySelector<HTMLInputElement>('[data-page-search]');
      if (!search) return;
      e.preventDefault();
      search.focus();
      search.select();
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, []);
}

/**
 * The signed-in frame: top bar (product, operator, role, sign out) and navigation. Visitors
 * without a session are sent to `/login?next=…` (by the API error handler in providers.tsx).
 */
export function AppShell({ children }: { children: ReactNode }) {
  const trpc = useTRPC();
  const pathname = usePathname();
  const router = useRouter();
  const queryClient = useQueryClient();
  const announce = useAnnounce();
  const me = useQuery({ ...trpc.users.me.queryOptions(), staleTime: 60_000 });
  const [signingOut, setSigningOut] = useState(false);
  useSlashToSearch();

  if (me.isPending || errorCode(me.error) === 'UNAUTHORIZED') {
    return (
      <>
        <TopBar />
        <main id="main" className="centered">
          <Loading>{me.isPending ? 'Loading…' : 'Your session has ended; opening the sign-in page…'}</Loading>
        </main>
      </>
    );
  }
  if (me.isError) {
    return (
      <>
        <TopBar />
        <main id="main" className="centered">
          <section aria-labelledby="api-down" className="card narrow">
            <h1 id="api-down">System status</h1>
            <div role="alert" className="problem">
              <p>
                <strong>The API did not answer:</strong> {me.error.message || errorText(me.error)}
              </p>
              <p>Check that the control-plane process is running and look at its log, then reload this page.</p>
            </div>
            <button type="button" className="button" onClick={() => void me.refetch()}>
              Try again
            </button>
          </section>
        </main>
      </>
    );
  }

  const user = me.data;
  return (
    <MeContext.Provider value={user}>
      <TopBar>
        <div className="topbar-user">
          <span className="user-name" title={user.email}>
            {user.name} <span className="muted-on-dark">{user.email}</span>
          </span>
          <span className={`role-badge ${user.role}`} aria-label={`Role: ${user.role}`}>
            {user.role}
          </span>
          <button
            type="button"
            className="button small on-dark"
            disabled={signingOut}
            onClick={() => {
              setSigningOut(true);
              signOut().then(
                () => {
                  queryClient.clear();
                  router.replace('/login');
                },
                (err: unknown) => {
                  setSigningOut(false);
                  announce(errorText(err), 'error');
                },
              );
            }}
          >
            {signingOut ? 'Signing out…' : 'Sign out'}
          </button>
        </div>
      </TopBar>
      <div className="frame">
        <nav className="sidenav" aria-label="Main">
          <ul>
            {NAV.filter((item) => !item.admin || roleAtLeast(user.role, 'admin')).map((item) => (
              <li key={item.href}>
                <Link href={item.href} aria-current={isActive(pathname, item.href) ? 'page' : undefined}>
                  {item.label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <main id="main" tabIndex={-1}>
          {children}
        </main>
      </div>
    </MeContext.Provider>
  );
}

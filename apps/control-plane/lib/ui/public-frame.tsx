import Link from 'next/link';
import type { ReactNode } from 'react';

/** The frame of the pages you see before signing in (sign-in, first-run setup). */
export function PublicFrame({ title, children }: { title: string; children: ReactNode }) {
  return (
    <>
      <header className="topbar">
        <Link href="/" className="brand">
          <span className="brand-mark" aria-hidden="true" />
          Fleet control plane
        </Link>
      </header>
      <main id="main" className="centered">
        <section className="card auth-card" aria-labelledby="auth-title">
          <h1 id="auth-title">{title}</h1>
          {children}
        </section>
      </main>
    </>
  );
}

import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import { Providers } from './providers';
import './globals.css';

export const metadata: Metadata = {
  title: 'Fleet control plane',
  description: 'Configure, enroll and watch signed telemetry agents',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <a className="skip-link" href="#main">
          Skip to content
        </a>
        <header className="topbar">
          <span className="brand">Fleet control plane</span>
        </header>
        <main id="main">
          <Providers>{children}</Providers>
        </main>
      </body>
    </html>
  );
}

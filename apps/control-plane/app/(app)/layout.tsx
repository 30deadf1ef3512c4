import type { ReactNode } from 'react';
import { AppShell } from './shell';

/** Every signed-in page: top bar, navigation, and the sign-in check. */
export default function SignedInLayout({ children }: { children: ReactNode }) {
  return <AppShell>{children}</AppShell>;
}

import type { Metadata } from 'next';
import { Suspense } from 'react';
import { Loading } from '@/lib/ui/states';
import { LoginView } from './view';

export const metadata: Metadata = { title: 'Sign in' };

export default function LoginPage() {
  return (
    <Suspense fallback={<Loading />}>
      <LoginView />
    </Suspense>
  );
}

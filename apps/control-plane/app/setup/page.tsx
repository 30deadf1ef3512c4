import type { Metadata } from 'next';
import { Suspense } from 'react';
import { Loading } from '@/lib/ui/states';
import { SetupView } from './view';

export const metadata: Metadata = { title: 'First-run setup' };

export default function SetupPage() {
  return (
    <Suspense fallback={<Loading />}>
      <SetupView />
    </Suspense>
  );
}

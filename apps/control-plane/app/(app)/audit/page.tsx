import type { Metadata } from 'next';
import { Suspense } from 'react';
import { Loading } from '@/lib/ui/states';
import { AuditView } from './view';

export const metadata: Metadata = { title: 'Audit' };

export default function AuditPage() {
  return (
    <Suspense fallback={<Loading />}>
      <AuditView />
    </Suspense>
  );
}

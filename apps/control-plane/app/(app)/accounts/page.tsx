import type { Metadata } from 'next';
import { AccountsView } from './view';

export const metadata: Metadata = { title: 'AWS accounts' };

export default function AccountsPage() {
  return <AccountsView />;
}

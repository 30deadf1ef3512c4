import type { Metadata } from 'next';
import { AgentView } from './view';

export const metadata: Metadata = { title: 'Agent' };

export default function AgentPage() {
  return <AgentView />;
}

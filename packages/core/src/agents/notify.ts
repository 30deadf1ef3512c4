import { notify, type Db } from '@fleet/db';

/** PostgreSQL NOTIFY channel on which every control-plane replica learns what agents must be told. */
export const AGENT_CHANNEL = 'fleet_agent_changes';

/**
 * What changed, for the gateways holding agent sockets:
 * - `config`: published pipelines (or the AWS accounts they reference) changed — recompute
 *   every connected agent's effective config;
 * - `agent`: one agent's labels changed or it was removed (`removed: true` closes its socket).
 */
export type AgentChange = { kind: 'config' } | { kind: 'agent'; id: string; removed?: boolean };

/** Announces a change; inside a transaction it is delivered only on commit. */
export async function announceAgentChange(db: Db, change: AgentChange): Promise<void> {
  await notify(db, AGENT_CHANNEL, JSON.stringify(change));
}

/** Parses a notification payload; undefined for anything unexpected (logged by the caller). */
export function parseAgentChange(payload: string): AgentChange | undefined {
  try {
    const v = JSON.parse(payload) as Partial<{ kind: string; id: string; removed: boolean }>;
    if (v.kind === 'config') return { kind: 'config' };
    if (v.kind === 'agent' && typeof v.id === 'string') return { kind: 'agent', id: v.id, ...(v.removed ? { removed: true } : {}) };
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * A signed-in API client for whole-system tests of the fleet (control plane + enrolled agents).
 */
import path from 'node:path';
import { runAgentToExit, startAgent, type RunningAgent } from './agent.js';

/** Calls tRPC procedures as a signed-in operator. */
export interface Operator {
  /** Mutation (POST); resolves to `result.data`, rejects with the server's message. */
  call<T = Record<string, unknown>>(procedure: string, input?: unknown): Promise<T>;
  /** Query (GET with the input in the URL). */
  query<T = Record<string, unknown>>(procedure: string, input?: unknown): Promise<T>;
}

/** Signs in with e-mail and password at `baseUrl` (`baseUrl()` may change when a server restarts). */
export async function signIn(baseUrl: () => string, email: string, password: string): Promise<Operator> {
  const res = await fetch(`${baseUrl()}/api/auth/sign-in/email`, { method: 'POST', headers: { 'content-type': 'application/json', origin: baseUrl() }, body: JSON.stringify({ email, password }) });
  if (!res.ok) throw new Error(`sign-in failed: HTTP ${res.status} ${await res.text()}`);
  const cookie = res.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
  const unwrap = async <T>(procedure: string, r: Response): Promise<T> => {
    const body = (await r.json()) as { result?: { data: T }; error?: { message: string } };
    if (!r.ok || !body.result) throw new Error(`${procedure}: HTTP ${r.status}: ${body.error?.message ?? JSON.stringify(body)}`);
    return body.result.data;
  };
  return {
    async call(procedure, input) {
      const r = await fetch(`${baseUrl()}/api/trpc/${procedure}`, { method: 'POST', headers: { 'content-type': 'application/json', cookie, origin: baseUrl() }, body: JSON.stringify(input ?? null) });
      return unwrap(procedure, r);
    },
    async query(procedure, input) {
      const q = input === undefined ? '' : `?input=${encodeURIComponent(JSON.stringify(input))}`;
      const r = await fetch(`${baseUrl()}/api/trpc/${procedure}${q}`, { headers: { cookie } });
      return unwrap(procedure, r);
    },
  };
}

/** An agent as `agents.list` returns it (the fields tests look at). */
export interface ListedAgent {
  id: string;
  name: string;
  state: 'online' | 'offline' | 'never_connected';
  labels: Record<string, string>;
  configStatus: string;
  configError: string | null;
  desiredConfigHash: string | null;
  appliedConfigHash: string | null;
  appliedPipelines: { id: string; name: string; version: number }[];
  counters: Record<string, number> | null;
  connectedAt: string | null;
  offlineSince: string | null;
  /** From the latest heartbeat (`healthy` until one was judged). */
  health?: 'healthy' | 'degraded' | 'failing';
  /** The latest heartbeat's findings, in short. */
  findings?: Array<{ kind: string; severity: 'warning' | 'critical'; title: string }>;
}

/** Every agent, by id (agents on one test machine share a hostname, hence a name). */
export async function agentsById(op: Operator): Promise<Map<string, ListedAgent>> {
  const out = await op.query<{ agents: ListedAgent[] }>('agents.list', { limit: 500 });
  return new Map(out.agents.map((a) => [a.id, a]));
}

/** Enrolls a managed agent with `token` in `stateDir` and starts `fleet-agent run --server`. */
export async function enrollAndRun(options: { server: string; token: string; stateDir: string; env: Record<string, string | undefined> }): Promise<{ agent: RunningAgent; agentId: string }> {
  const enrolled = await runAgentToExit(['enroll', '--server', options.server, '--token', options.token, '--state-dir', options.stateDir], options.env);
  if (enrolled.code !== 0) throw new Error(`enroll failed (${enrolled.code}): ${enrolled.stderr}`);
  const agentId = /as agent ([0-9a-f-]{36})/.exec(enrolled.stdout)?.[1];
  if (!agentId) throw new Error(`no agent id in: ${enrolled.stdout}`);
  const agent = await startAgent(['run', '--server', options.server, '--state-dir', options.stateDir, '--listen', '127.0.0.1:0'], options.env);
  return { agent, agentId };
}

/** The state directory of agent `n` under `dir`. */
export const stateDirOf = (dir: string, n: number) => path.join(dir, `agent-${n}`);

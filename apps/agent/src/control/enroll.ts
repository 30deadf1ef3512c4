import { enrollResponseSchema, type AgentDescription } from '@fleet/protocol';
import { readAgentState, writeAgentState, type AgentState } from './state.js';

/** Outcome of `fleet-agent enroll`. */
export type EnrollOutcome = { status: 'enrolled'; state: AgentState } | { status: 'already'; state: AgentState };

/**
 * Enrolls with the control plane at `server` using `token`, keeping the id and secret in
 * `stateDir`. Idempotent: with a state for the same server it does nothing.
 * @throws Error with the server's reason (e.g. `the enrollment token is used up`).
 */
export async function enroll(options: { server: string; token: string; stateDir: string; description: AgentDescription }): Promise<EnrollOutcome> {
  const server = options.server.replace(/\/+$/, '');
  const existing = await readAgentState(options.stateDir);
  if (existing) {
    if (existing.server === server) return { status: 'already', state: existing };
    throw new Error(`${options.stateDir} holds an enrollment with ${existing.server}; use another --state-dir or remove agent.json to move this agent`);
  }
  let res: Response;
  try {
    res = await fetch(`${server}/agent/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: options.token, description: options.description }),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`cannot reach ${server}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, { cause: err });
  }
  const body = (await res.json().catch(() => ({}))) as { error?: string };
  if (!res.ok) throw new Error(`the control plane refused the enrollment (HTTP ${res.status}): ${body.error ?? 'no reason given'}`);
  const parsed = enrollResponseSchema.safeParse(body);
  if (!parsed.success) throw new Error(`unexpected enrollment response from ${server}: ${parsed.error.issues[0]!.message}`);
  const state: AgentState = { server, agentId: parsed.data.agentId, agentSecret: parsed.data.agentSecret, enrolledAt: new Date().toISOString() };
  await writeAgentState(options.stateDir, state);
  return { status: 'enrolled', state };
}

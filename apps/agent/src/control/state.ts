import { chmod, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';

/** What enrollment leaves in the state directory (`agent.json`, mode 0600). */
export const agentStateSchema = z
  .object({
    server: z.url(),
    agentId: z.uuid(),
    agentSecret: z.string().min(32),
    enrolledAt: z.iso.datetime(),
  })
  .strict();
export type AgentState = z.infer<typeof agentStateSchema>;

const FILE = 'agent.json';

/** Reads the state, or undefined when not enrolled. @throws Error naming the file when it is corrupt. */
export async function readAgentState(dir: string): Promise<AgentState | undefined> {
  const file = path.join(dir, FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code === 'ENOENT') return undefined;
    throw new Error(`${file}: ${(err as { code?: string }).code ?? 'cannot read'}`, { cause: err });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error(`${file}: not JSON; remove it and enroll again`);
  }
  const parsed = agentStateSchema.safeParse(json);
  if (!parsed.success) throw new Error(`${file}: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}; remove it and enroll again`);
  return parsed.data;
}

/** Writes the state atomically with mode 0600 (it holds the agent's secret). */
export async function writeAgentState(dir: string, state: AgentState): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `${FILE}.tmp`);
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, path.join(dir, FILE));
}

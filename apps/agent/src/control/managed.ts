import { chmod, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseAgentConfig, type AgentConfig } from '@fleet/pipeline';
import { z } from 'zod';
import { Agent, type AgentLog } from '../agent.js';
import { ControlChannel, type ChannelAgent, type ReceivedConfig } from './channel.js';
import { buildHeartbeat } from './heartbeat.js';
import { describeAgent } from './platform.js';
import type { AgentState } from './state.js';
import type { ServerTrust } from './tls.js';

const CONFIG_FILE = 'config.json';

/** The last config applied successfully, kept in the state directory (mode 0600). */
const persistedSchema = z
  .object({
    configHash: z.string().regex(/^[0-9a-f]{64}$/),
    document: z.record(z.string(), z.unknown()),
    pipelines: z.array(z.object({ id: z.string(), name: z.string(), version: z.number() })),
    appliedAt: z.iso.datetime(),
  })
  .strict();
type Persisted = z.infer<typeof persistedSchema>;

/** An agent that no pipeline selects yet: only the telemetry server runs. */
export const EMPTY_CONFIG: AgentConfig = { global: { scrapeIntervalMs: 60_000, scrapeTimeoutMs: 10_000, externalLabels: {} }, instances: [], warnings: [] };

/**
 * Reads the last good config; undefined when there is none. A corrupt or invalid file is
 * reported through `log` and ignored (the control plane sends the config again on connect).
 */
export async function readPersistedConfig(stateDir: string, log: AgentLog, defaultRegion?: string): Promise<{ persisted: Persisted; config: AgentConfig } | undefined> {
  const file = path.join(stateDir, CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as { code?: string }).code !== 'ENOENT') log('warn', 'cannot read the last config; starting without it', { file, error: (err as Error).message });
    return undefined;
  }
  try {
    const persisted = persistedSchema.parse(JSON.parse(text));
    return { persisted, config: parseAgentConfig(persisted.document, { source: file, defaultRegion }) };
  } catch (err) {
    log('warn', 'ignoring an unusable last config; waiting for the control plane to send one', { file, error: (err as Error).message.slice(0, 500) });
    return undefined;
  }
}

async function writePersistedConfig(stateDir: string, p: Persisted): Promise<void> {
  const file = path.join(stateDir, CONFIG_FILE);
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `${JSON.stringify(p)}\n`, { mode: 0o600 });
  await chmod(tmp, 0o600);
  await rename(tmp, file);
}

/** Options of {@link ManagedAgent.start}. */
export interface ManagedAgentOptions {
  state: AgentState;
  stateDir: string;
  listen: string;
  log: AgentLog;
  walMaxBytes?: number | undefined;
  walMaxAgeMs?: number | undefined;
  /** CAs trusted for the control plane besides the public ones (`--ca-file`). */
  trust?: ServerTrust | undefined;
  /** Reconnect backoff (tests shorten it). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** The region `sigv4` blocks without one use (the SDK's resolution on this host). */
  defaultRegion?: string | undefined;
}

/**
 * `fleet-agent run --server`: the agent runs the last good config from its state directory at
 * once (so it keeps delivering while the control plane is away), connects to the control plane,
 * and applies every config it is sent, persisting each one that applies.
 */
export class ManagedAgent {
  private constructor(
    readonly agent: Agent,
    readonly channel: ControlChannel,
  ) {}

  static async start(options: ManagedAgentOptions): Promise<ManagedAgent> {
    const { log, stateDir } = options;
    const last = await readPersistedConfig(stateDir, log, options.defaultRegion);
    if (last) log('info', 'running the last config from the control plane until it answers', { configHash: last.persisted.configHash, pipelines: last.persisted.pipelines.map((p) => `${p.name}@v${p.version}`) });
    const agent = await Agent.start({
      config: last?.config ?? EMPTY_CONFIG,
      dataDir: stateDir,
      listen: options.listen,
      log,
      walMaxBytes: options.walMaxBytes,
      walMaxAgeMs: options.walMaxAgeMs,
    });
    let running: string | null = last?.persisted.configHash ?? null;
    const bridge: ChannelAgent = {
      runningConfigHash: () => running,
      apply: async (received: ReceivedConfig) => {
        await agent.applyConfig(received.config);
        running = received.configHash;
        await writePersistedConfig(stateDir, { configHash: received.configHash, document: received.document, pipelines: received.pipelines, appliedAt: new Date().toISOString() }).catch((err: unknown) =>
          log('warn', 'applied the config but cannot persist it; a restart will wait for the control plane', { error: (err as Error).message }),
        );
      },
      heartbeat: () => buildHeartbeat(agent),
    };
    const channel = new ControlChannel({
      state: options.state,
      description: () => describeAgent({}),
      agent: bridge,
      log,
      trust: options.trust,
      defaultRegion: options.defaultRegion,
      ...(options.minBackoffMs !== undefined ? { minBackoffMs: options.minBackoffMs } : {}),
      ...(options.maxBackoffMs !== undefined ? { maxBackoffMs: options.maxBackoffMs } : {}),
    });
    channel.start();
    return new ManagedAgent(agent, channel);
  }

  /** Says goodbye to the control plane, then stops the agent (WAL progress persisted). */
  async stop(): Promise<void> {
    await this.channel.stop();
    await this.agent.stop();
  }
}

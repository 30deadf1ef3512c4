import { resolveDefaultRegion } from '@fleet/aws';
import { loadAgentConfigFile, parseDuration, PipelineConfigError, type AgentConfig } from '@fleet/pipeline';
import pino from 'pino';
import { Agent, type AgentLog } from '../agent.js';
import { ManagedAgent } from '../control/managed.js';
import { readAgentState } from '../control/state.js';
import { readCaFile } from './ca-file.js';
import type { CommandOptions } from './main.js';

/**
 * Reconnect backoff of the control channel: FLEET_RECONNECT_MIN_MS / FLEET_RECONNECT_MAX_MS
 * (defaults 1 s / 60 s). Whole milliseconds; anything else is ignored with the default kept.
 */
function backoffFromEnv(): { minBackoffMs?: number; maxBackoffMs?: number } {
  const read = (name: string) => {
    const v = process.env[name];
    return v && /^\d{1,7}$/.test(v) ? Number(v) : undefined;
  };
  const min = read('FLEET_RECONNECT_MIN_MS');
  const max = read('FLEET_RECONNECT_MAX_MS');
  return { ...(min !== undefined ? { minBackoffMs: min } : {}), ...(max !== undefined ? { maxBackoffMs: max } : {}) };
}

/** Creates the agent's JSON logger (stdout) and the log function stages use. */
export function createAgentLog(): { logger: pino.Logger; log: AgentLog } {
  const logger = pino({ base: { service: 'fleet-agent' }, timestamp: pino.stdTimeFunctions.isoTime, level: process.env.LOG_LEVEL ?? 'info' });
  return { logger, log: (level, message, fields) => logger[level](fields ?? {}, message) };
}

/** Settings the config has that the agent accepts but does not act on: one warning each. */
export function logConfigWarnings(config: AgentConfig, log: AgentLog): void {
  for (const w of config.warnings) log('warn', `config: ${w.path}: ${w.message}`, { path: w.path });
}

/**
 * `fleet-agent run`: from a config file, or managed by a control plane (`--server`); runs until
 * SIGTERM/SIGINT, then stops cleanly (WAL progress persisted).
 */
export async function runAgentCommand(options: CommandOptions): Promise<number> {
  const { logger, log } = createAgentLog();
  let walMaxAgeMs: number | undefined;
  if (options.walMaxAge !== undefined) {
    walMaxAgeMs = parseDuration(options.walMaxAge);
    if (walMaxAgeMs === undefined) {
      console.error(`fleet-agent: --wal-max-age ${JSON.stringify(options.walMaxAge)}: expected a duration such as 4h`);
      return 2;
    }
  }
  const trust = await readCaFile(options.caFile);
  if (trust === null) return 2;
  let agent: { stop(): Promise<void> };
  // `sigv4: {}` on a URL that names no region signs for the region the SDK would use here.
  const defaultRegion = await resolveDefaultRegion(process.env);
  try {
    if (options.server) {
      const server = options.server.replace(/\/+$/, '');
      const state = await readAgentState(options.dataDir);
      if (!state) {
        console.error(`fleet-agent: not enrolled: ${options.dataDir}/agent.json is missing; run \`fleet-agent enroll --server ${server} --token TOKEN --state-dir ${options.dataDir}\` first`);
        return 1;
      }
      if (state.server !== server) {
        console.error(`fleet-agent: ${options.dataDir}/agent.json is enrolled with ${state.server}, not ${server}; use that server or enroll again in another state directory`);
        return 1;
      }
      agent = await ManagedAgent.start({ state, stateDir: options.dataDir, listen: options.listen, log, walMaxBytes: options.walMaxBytes, walMaxAgeMs, trust, defaultRegion, ...backoffFromEnv() });
    } else {
      const config = await loadAgentConfigFile(options.config, { expandEnv: options.expandEnv, defaultRegion });
      logConfigWarnings(config, log);
      agent = await Agent.start({ config, dataDir: options.dataDir, listen: options.listen, log, walMaxBytes: options.walMaxBytes, walMaxAgeMs });
    }
  } catch (err) {
    console.error(err instanceof PipelineConfigError ? `fleet-agent: ${err.message}` : `fleet-agent: cannot start: ${(err as Error).message}`);
    return 1;
  }
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, 'stopping');
      agent.stop().then(
        () => {
          logger.info('stopped');
          resolve(0);
        },
        (err: unknown) => {
          logger.error({ err }, 'stop failed');
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

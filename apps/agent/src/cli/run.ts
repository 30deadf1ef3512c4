import { loadAgentConfigFile, parseDuration, PipelineConfigError } from '@fleet/pipeline';
import pino from 'pino';
import { Agent, type AgentLog } from '../agent.js';
import type { CommandOptions } from './main.js';

/** Creates the agent's JSON logger (stdout) and the log function stages use. */
export function createAgentLog(): { logger: pino.Logger; log: AgentLog } {
  const logger = pino({ base: { service: 'fleet-agent' }, timestamp: pino.stdTimeFunctions.isoTime, level: process.env.LOG_LEVEL ?? 'info' });
  return { logger, log: (level, message, fields) => logger[level](fields ?? {}, message) };
}

/** `fleet-agent run`: runs until SIGTERM/SIGINT, then stops cleanly (WAL progress persisted). */
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
  let agent: Agent;
  try {
    const config = await loadAgentConfigFile(options.config);
    agent = await Agent.start({ config, dataDir: options.dataDir, listen: options.listen, log, walMaxBytes: options.walMaxBytes, walMaxAgeMs });
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

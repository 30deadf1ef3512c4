import { parseArgs } from 'node:util';
import { AGENT_VERSION } from '../version.js';
import { runAgentCommand } from './run.js';
import { doctorCommand } from './doctor.js';
import { snappyImplementation } from '../remote-write/snappy.js';

const USAGE = `usage: fleet-agent <command> [options]

commands:
  run      --config FILE [--data-dir DIR] [--listen HOST:PORT]
           scrape the config's targets and ship samples to its remote_write destinations
           (a Prometheus or Grafana Agent static-mode YAML file)
  doctor   --config FILE
           check credentials, clock skew and a signed test write for every destination
  version  print the agent version
  help     print this help

run options:
  --config FILE          configuration file (required)
  --data-dir DIR         state directory for the write-ahead log (default ./data-agent)
  --listen HOST:PORT     self-metrics endpoint: /metrics, /-/ready, /-/healthy (default 127.0.0.1:12345)
  --wal-max-bytes N      size bound of each destination's WAL (default 1073741824)
  --wal-max-age DURATION age bound of undelivered samples (default 4h)
`;

/** Thrown for bad command-line input; printed as one line with the usage hint. */
export class UsageError extends Error {}

/**
 * Runs the fleet-agent command line and resolves to the process exit code
 * (0 ok, 1 failure, 2 bad usage).
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'version':
      case '--version':
        console.log(`fleet-agent ${AGENT_VERSION} (node ${process.version}, snappy ${snappyImplementation})`);
        return 0;
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        console.log(USAGE.trimEnd());
        return 0;
      case 'run':
        return await runAgentCommand(parse(rest, true));
      case 'doctor':
        return await doctorCommand(parse(rest, false));
      default:
        throw new UsageError(`unknown command ${JSON.stringify(command)}`);
    }
  } catch (err) {
    if (err instanceof UsageError) {
      console.error(`fleet-agent: ${err.message}\n\n${USAGE}`);
      return 2;
    }
    throw err;
  }
}

/** Parsed options of `run` and `doctor`. */
export interface CommandOptions {
  config: string;
  dataDir: string;
  listen: string;
  walMaxBytes: number | undefined;
  walMaxAge: string | undefined;
}

function parse(args: string[], run: boolean): CommandOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        config: { type: 'string' },
        'data-dir': { type: 'string' },
        listen: { type: 'string' },
        ...(run ? { 'wal-max-bytes': { type: 'string' as const }, 'wal-max-age': { type: 'string' as const } } : {}),
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  const config = values.config ?? process.env.FLEET_AGENT_CONFIG;
  if (!config) throw new UsageError('--config FILE is required');
  const maxBytes = values['wal-max-bytes'] as string | undefined;
  if (maxBytes !== undefined && !/^\d+$/.test(maxBytes)) throw new UsageError(`--wal-max-bytes ${JSON.stringify(maxBytes)}: expected a number of bytes`);
  return {
    config,
    dataDir: (values['data-dir'] as string | undefined) ?? process.env.FLEET_AGENT_DATA_DIR ?? 'data-agent',
    listen: (values.listen as string | undefined) ?? '127.0.0.1:12345',
    walMaxBytes: maxBytes === undefined ? undefined : Number(maxBytes),
    walMaxAge: values['wal-max-age'] as string | undefined,
  };
}

import { parseArgs } from 'node:util';
import { AGENT_VERSION } from '../version.js';
import { runAgentCommand } from './run.js';
import { doctorCommand } from './doctor.js';
import { enrollCommand, type EnrollOptions } from './enroll.js';
import { snappyImplementation } from '../remote-write/snappy.js';

const USAGE = `usage: fleet-agent <command> [options]

commands:
  run      --config FILE [--data-dir DIR] [--listen HOST:PORT]
           scrape the config's targets and ship samples to its remote_write destinations
           (a Prometheus or Grafana Agent static-mode YAML file)
  run      --server URL [--state-dir DIR] [--listen HOST:PORT] [--ca-file PEM]
           managed by a control plane (after \`enroll\`; or set FLEET_SERVER): runs the last
           config it was sent, receives new ones live, reports health
  doctor   --config FILE [--config.expand-env]
           check credentials, clock skew and a signed test write for every destination
  enroll   --server URL --token TOKEN [--state-dir DIR] [--label k=v ...] [--aws-identity] [--ca-file PEM]
           join a control plane once (or set FLEET_SERVER / FLEET_ENROLLMENT_TOKEN); the agent id
           and secret are kept in DIR/agent.json (mode 0600); running it again changes nothing.
           Tokens bound to AWS identities get a signed sts:GetCallerIdentity proof from this
           host's AWS credentials (sent always with --aws-identity)
  version  print the agent version
  help     print this help

run options:
  --config FILE          configuration file (or --server); --config.file works too
  --config.expand-env    expand \${VAR} and \${VAR:-default} in the file from the environment
                         ($$ is a literal $; a bare $1 stays as written)
  --server URL           control plane to take the config from (or --config)
  --data-dir DIR         state directory: write-ahead log, and agent.json with --server
  --state-dir DIR        the same as --data-dir (default ./data-agent; --storage.agent.path too);
                         a Grafana Agent file's metrics.wal_directory holds the WALs instead
  --ca-file PEM          also trust these CA certificates for an https --server (or FLEET_CA_FILE);
                         enroll takes it too
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
      case 'enroll':
        return await enrollCommand(parseEnroll(rest));
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
  /** A config file, or the control plane's URL (`run --server`); exactly one is set. */
  config: string;
  server: string | undefined;
  dataDir: string;
  listen: string;
  walMaxBytes: number | undefined;
  walMaxAge: string | undefined;
  /** `--config.expand-env`: expand `${VAR}` / `${VAR:-default}` in the config file (as Grafana Agent). */
  expandEnv: boolean;
  /** CA certificates to trust for the control plane (`--ca-file` or `FLEET_CA_FILE`), with `--server` only. */
  caFile: CaFileOption | undefined;
}

/** A CA file to trust for the control-plane connection, and the option or variable that named it. */
export interface CaFileOption {
  path: string;
  option: '--ca-file' | 'FLEET_CA_FILE';
}

/** `--ca-file`, else `FLEET_CA_FILE`; an empty value is bad usage. */
function caFileOption(value: string | undefined): CaFileOption | undefined {
  if (value !== undefined) {
    if (value.trim() === '') throw new UsageError('--ca-file: expected the path of a PEM file');
    return { path: value, option: '--ca-file' };
  }
  const env = process.env.FLEET_CA_FILE;
  return env ? { path: env, option: 'FLEET_CA_FILE' } : undefined;
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
        'config.file': { type: 'string' },
        'config.expand-env': { type: 'boolean' },
        'data-dir': { type: 'string' },
        'storage.agent.path': { type: 'string' },
        listen: { type: 'string' },
        ...(run ? { server: { type: 'string' as const }, 'state-dir': { type: 'string' as const }, 'ca-file': { type: 'string' as const } } : {}),
        ...(run ? { 'wal-max-bytes': { type: 'string' as const }, 'wal-max-age': { type: 'string' as const } } : {}),
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  // Prometheus's and Grafana Agent's spellings work too.
  if (values['config.file'] !== undefined) {
    if (values.config !== undefined && values.config !== values['config.file']) throw new UsageError('--config and --config.file name the same file; give one');
    values.config = values['config.file'];
  }
  if (values['storage.agent.path'] !== undefined) {
    if (values['data-dir'] !== undefined && values['data-dir'] !== values['storage.agent.path']) throw new UsageError('--data-dir and --storage.agent.path name the same directory; give one');
    values['data-dir'] = values['storage.agent.path'];
  }
  if (values['config.expand-env'] && !values.config && !process.env.FLEET_AGENT_CONFIG) throw new UsageError('--config.expand-env applies to a --config file');
  let server = values.server as string | undefined;
  if (values.config && server) throw new UsageError('--config and --server exclude each other: a managed agent takes its config from the control plane');
  const config = values.config ?? (server ? undefined : process.env.FLEET_AGENT_CONFIG);
  if (run && !config) server ??= process.env.FLEET_SERVER;
  if (server !== undefined && (!URL.canParse(server) || !['http:', 'https:'].includes(new URL(server).protocol))) throw new UsageError(`--server ${JSON.stringify(server)}: expected an http(s) URL`);
  if (!config && !server) throw new UsageError(run ? '--config FILE or --server URL is required' : '--config FILE is required');
  const caFile = config ? undefined : caFileOption(values['ca-file'] as string | undefined);
  if (config && values['ca-file'] !== undefined) throw new UsageError('--ca-file is for the control-plane connection: use it with --server, not --config');
  if (values['data-dir'] && values['state-dir'] && values['data-dir'] !== values['state-dir']) throw new UsageError('--data-dir and --state-dir name the same directory; give one');
  const maxBytes = values['wal-max-bytes'] as string | undefined;
  if (maxBytes !== undefined && !/^\d+$/.test(maxBytes)) throw new UsageError(`--wal-max-bytes ${JSON.stringify(maxBytes)}: expected a number of bytes`);
  return {
    config: config ?? '',
    server: config ? undefined : server,
    dataDir: (values['data-dir'] as string | undefined) ?? (values['state-dir'] as string | undefined) ?? process.env.FLEET_AGENT_DATA_DIR ?? process.env.FLEET_AGENT_STATE_DIR ?? 'data-agent',
    listen: (values.listen as string | undefined) ?? '127.0.0.1:12345',
    walMaxBytes: maxBytes === undefined ? undefined : Number(maxBytes),
    walMaxAge: values['wal-max-age'] as string | undefined,
    caFile,
    expandEnv: values['config.expand-env'] === true,
  };
}

function parseEnroll(args: string[]): EnrollOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        server: { type: 'string' },
        token: { type: 'string' },
        'state-dir': { type: 'string' },
        label: { type: 'string', multiple: true },
        'aws-identity': { type: 'boolean' },
        'ca-file': { type: 'string' },
      },
    }));
  } catch (err) {
    throw new UsageError((err as Error).message.split('\n')[0]!);
  }
  const server = values.server ?? process.env.FLEET_SERVER;
  const token = values.token ?? process.env.FLEET_ENROLLMENT_TOKEN;
  if (!server) throw new UsageError('--server URL (or FLEET_SERVER) is required');
  if (!URL.canParse(server) || !['http:', 'https:'].includes(new URL(server).protocol)) throw new UsageError(`--server ${JSON.stringify(server)}: expected an http(s) URL`);
  if (!token) throw new UsageError('--token TOKEN (or FLEET_ENROLLMENT_TOKEN) is required');
  const labels: Record<string, string> = {};
  for (const l of values.label ?? []) {
    const m = /^([a-zA-Z_][a-zA-Z0-9_]*)=(.*)$/.exec(l);
    if (!m) throw new UsageError(`--label ${JSON.stringify(l)}: expected name=value with a valid label name`);
    labels[m[1]!] = m[2]!;
  }
  return {
    server,
    token,
    stateDir: values['state-dir'] ?? process.env.FLEET_AGENT_STATE_DIR ?? 'data-agent',
    labels,
    awsIdentity: values['aws-identity'] === true,
    caFile: caFileOption(values['ca-file']),
  };
}

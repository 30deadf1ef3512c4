import { AGENT_VERSION } from '../version.js';

const USAGE = `usage: fleet-agent <command>

commands:
  version    print the agent version
  help       print this help
`;

/**
 * Runs the fleet-agent command line and resolves to the process exit code.
 * Unknown commands print the usage to stderr and exit 2.
 */
export async function runCli(argv: readonly string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'version':
    case '--version':
      console.log(`fleet-agent ${AGENT_VERSION}`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(USAGE.trimEnd());
      return 0;
    default:
      console.error(`fleet-agent: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}

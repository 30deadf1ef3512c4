/** @fleet/agent — the fleet-agent process. The CLI entry is `bin/fleet-agent.js`. */
export { AGENT_VERSION } from './version.js';
export { runCli } from './cli/main.js';

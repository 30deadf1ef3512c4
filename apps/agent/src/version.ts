import { readFileSync } from 'node:fs';

/** Version of this fleet-agent build (from its package.json); sent as `User-Agent: fleet-agent/<version>`. */
export const AGENT_VERSION: string = (
  JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
).version;

import { describeAgent } from '../control/platform.js';
import { enroll } from '../control/enroll.js';

/** Options of `fleet-agent enroll`. */
export interface EnrollOptions {
  server: string;
  token: string;
  stateDir: string;
  labels: Record<string, string>;
}

/** `fleet-agent enroll`: exit 0 when enrolled (or already), 1 with the reason otherwise. */
export async function enrollCommand(options: EnrollOptions): Promise<number> {
  try {
    const description = await describeAgent(options.labels);
    const out = await enroll({ ...options, description });
    console.log(
      out.status === 'enrolled'
        ? `enrolled with ${out.state.server} as agent ${out.state.agentId} (${description.platform}); state in ${options.stateDir}/agent.json`
        : `already enrolled with ${out.state.server} as agent ${out.state.agentId}; nothing to do`,
    );
    return 0;
  } catch (err) {
    console.error(`fleet-agent: ${(err as Error).message}`);
    return 1;
  }
}

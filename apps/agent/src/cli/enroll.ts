import { describeAgent } from '../control/platform.js';
import { enroll } from '../control/enroll.js';
import { readCaFile } from './ca-file.js';
import type { CaFileOption } from './main.js';

/** Options of `fleet-agent enroll`. */
export interface EnrollOptions {
  server: string;
  token: string;
  stateDir: string;
  labels: Record<string, string>;
  /**
   * Always send an AWS identity proof (`--aws-identity`). Without it, a proof is sent only when
   * the control plane answers that the token requires one.
   */
  awsIdentity?: boolean | undefined;
  /** CA certificates to trust for an https server (`--ca-file` / `FLEET_CA_FILE`). */
  caFile?: CaFileOption | undefined;
}

/** `fleet-agent enroll`: exit 0 when enrolled (or already), 1 with the reason otherwise (2 for an unusable --ca-file). */
export async function enrollCommand(options: EnrollOptions): Promise<number> {
  const trust = await readCaFile(options.caFile);
  if (trust === null) return 2;
  try {
    const description = await describeAgent(options.labels);
    const out = await enroll({ server: options.server, token: options.token, stateDir: options.stateDir, awsIdentity: options.awsIdentity, description, trust });
    const proof = out.status === 'enrolled' && out.identityProof ? ` with an AWS identity proof (signed for ${out.identityProof.endpoint}, ${out.identityProof.region})` : '';
    console.log(
      out.status === 'enrolled'
        ? `enrolled with ${out.state.server} as agent ${out.state.agentId} (${description.platform})${proof}; state in ${options.stateDir}/agent.json`
        : `already enrolled with ${out.state.server} as agent ${out.state.agentId}; nothing to do`,
    );
    return 0;
  } catch (err) {
    console.error(`fleet-agent: ${(err as Error).message}`);
    return 1;
  }
}

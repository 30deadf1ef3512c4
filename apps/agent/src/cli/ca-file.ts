import { CaFileError, loadServerTrust, type ServerTrust } from '../control/tls.js';
import type { CaFileOption } from './main.js';

/**
 * The trust `--ca-file` / `FLEET_CA_FILE` names: undefined without one, null after printing (one
 * line naming the option) why the file cannot be used — the command then exits 2.
 */
export async function readCaFile(caFile: CaFileOption | undefined): Promise<ServerTrust | undefined | null> {
  if (!caFile) return undefined;
  try {
    return await loadServerTrust(caFile.path, caFile.option);
  } catch (err) {
    if (!(err instanceof CaFileError)) throw err;
    console.error(`fleet-agent: ${err.message}`);
    return null;
  }
}

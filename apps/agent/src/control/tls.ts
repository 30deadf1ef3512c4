import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { rootCertificates } from 'node:tls';

/**
 * Certificate authorities the agent trusts for its control-plane connection (the HTTPS
 * enrollment and the wss channel): Node's bundled public roots plus those of `--ca-file`.
 */
export interface ServerTrust {
  /** PEM certificates to pass as TLS `ca` (public roots first, then the file's). */
  readonly ca: readonly string[];
  /** The file they came from, for messages. */
  readonly file: string;
}

/** A `--ca-file` / `FLEET_CA_FILE` that cannot be used; `message` is one line naming the option. */
export class CaFileError extends Error {
  override readonly name = 'CaFileError';
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/**
 * Reads a PEM file of one or more CA certificates. `option` names where the path came from
 * (`--ca-file` or `FLEET_CA_FILE`) in the error.
 * @throws CaFileError e.g. `--ca-file /etc/fleet/ca.pem: cannot read it (ENOENT)`, or when it
 *   holds no certificate or one that does not parse.
 */
export async function loadServerTrust(file: string, option = '--ca-file'): Promise<ServerTrust> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new CaFileError(`${option} ${file}: cannot read it (${code ?? (err as Error).message})`, { cause: err });
  }
  const pems = text.match(PEM_CERTIFICATE) ?? [];
  if (pems.length === 0) throw new CaFileError(`${option} ${file}: holds no PEM certificate (expected -----BEGIN CERTIFICATE----- blocks)`);
  pems.forEach((pem, i) => {
    try {
      new X509Certificate(pem);
    } catch (err) {
      throw new CaFileError(`${option} ${file}: certificate ${i + 1} of ${pems.length} is not a valid X.509 certificate (${(err as Error).message})`, { cause: err });
    }
  });
  return { ca: [...rootCertificates, ...pems], file };
}

/** Node's codes for a server certificate the agent does not trust. */
const UNTRUSTED = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
]);

/** A hint to append to a connection error whose code says the server's certificate is not trusted. */
export function untrustedHint(code: string | undefined, trust: ServerTrust | undefined): string {
  if (!code || !UNTRUSTED.has(code)) return '';
  return trust
    ? ` (the server's certificate is not signed by a CA in ${trust.file} nor by a public one)`
    : " (the server's certificate is not signed by a public CA: give its CA with --ca-file PATH or FLEET_CA_FILE)";
}

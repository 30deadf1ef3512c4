import { readFileSync } from 'node:fs';
import type { HttpClientConfig, TlsConfig } from '@fleet/pipeline';
import { Agent } from 'undici';

/**
 * An undici dispatcher honouring a `tls_config` (CA, client certificate, server name,
 * insecure_skip_verify, min_version). Files are read when the dispatcher is created, so a
 * missing file is reported at config-apply time, naming the file.
 */
export function createDispatcher(tls: TlsConfig | undefined, options: { connections?: number } = {}): Agent {
  const read = (what: string, file: string | undefined) => {
    if (!file) return undefined;
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`tls_config.${what} ${file}: ${(err as { code?: string }).code ?? 'cannot read'}`, { cause: err });
    }
  };
  const minVersion = tls?.minVersion ? (`TLSv1${tls.minVersion === 'TLS10' ? '' : `.${tls.minVersion.slice(4)}`}` as 'TLSv1.2') : undefined;
  return new Agent({
    connections: options.connections ?? 16,
    keepAliveTimeout: 30_000,
    connect: {
      ca: read('ca_file', tls?.caFile),
      cert: read('cert_file', tls?.certFile),
      key: read('key_file', tls?.keyFile),
      servername: tls?.serverName,
      rejectUnauthorized: !(tls?.insecureSkipVerify ?? false),
      ...(minVersion ? { minVersion } : {}),
    },
  });
}

/**
 * The `Authorization` header value of a basic_auth / authorization block (secrets read from
 * files on every call, so rotated files are picked up), or undefined.
 */
export function authorizationHeader(config: HttpClientConfig): string | undefined {
  if (config.basicAuth) {
    const password = config.basicAuth.passwordFile ? readFileSync(config.basicAuth.passwordFile, 'utf8').trim() : (config.basicAuth.password ?? '');
    return `Basic ${Buffer.from(`${config.basicAuth.username}:${password}`).toString('base64')}`;
  }
  if (config.authorization) {
    const credentials = config.authorization.credentialsFile
      ? readFileSync(config.authorization.credentialsFile, 'utf8').trim()
      : (config.authorization.credentials ?? '');
    return `${config.authorization.type} ${credentials}`;
  }
  return undefined;
}

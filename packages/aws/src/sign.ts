import { Hash } from '@smithy/hash-node';
import { HttpRequest } from '@smithy/protocol-http';
import { SignatureV4 } from '@smithy/signature-v4';
import type { ClockOffset } from './clock.js';
import type { ManagedCredentials } from './credentials.js';

/** A request about to be sent, with every header final except the signature's own. */
export interface RequestToSign {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: Uint8Array;
}

/** Signs requests for one service and region with one destination's credentials. */
export interface RequestSigner {
  readonly service: string;
  readonly region: string;
  /**
   * Returns the headers to send: the given ones plus `host`, `x-amz-date`,
   * `x-amz-security-token` (temporary credentials) and `authorization`. Empty header values
   * are dropped before signing (AWS rejects them).
   */
  sign(request: RequestToSign): Promise<Record<string, string>>;
}

/**
 * A SigV4 signer backed by `@smithy/signature-v4` with Node's crypto SHA-256. The signing date
 * comes from `clock` (corrected for skew learnt from response `Date` headers).
 */
export function createRequestSigner(options: {
  service: string;
  region: string;
  credentials: ManagedCredentials;
  clock: ClockOffset;
}): RequestSigner {
  const { service, region, credentials, clock } = options;
  const signer = new SignatureV4({
    service,
    region,
    credentials: () => credentials.get(),
    sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: true,
    applyChecksum: false,
  });
  return {
    service,
    region,
    async sign(request) {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(request.headers)) if (v !== '') headers[k.toLowerCase()] = v;
      headers.host = request.url.host;
      const query: Record<string, string | string[]> = {};
      for (const [k, v] of request.url.searchParams) {
        const prev = query[k];
        query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
      }
      const signed = await signer.sign(
        new HttpRequest({
          method: request.method,
          protocol: request.url.protocol,
          hostname: request.url.hostname,
          port: request.url.port ? Number(request.url.port) : undefined,
          path: request.url.pathname,
          query,
          headers,
          body: request.body,
        }),
        { signingDate: clock.signingDate() },
      );
      return signed.headers as Record<string, string>;
    },
  };
}

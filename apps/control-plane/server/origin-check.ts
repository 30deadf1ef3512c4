import type { IncomingHttpHeaders } from 'node:http';

/** Methods that never change state (a tRPC mutation is always a POST). */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The origin of a `Referer` value, or null when it is not a URL. */
function refererOrigin(referer: string): string | null {
  try {
    return new URL(referer).origin;
  } catch {
    return null;
  }
}

/**
 * Cross-site request forgery check of a state-changing API request, as better-auth applies to
 * its own routes: a POST that carries cookies (a browser acting for a signed-in operator) must
 * come from one of `trusted` (the control plane's own origins and `TRUSTED_ORIGINS`), judged by
 * `Origin` or, when a browser left it out, `Referer`. Requests without cookies are not checked:
 * a cross-site page cannot make a browser send our session without its cookie, and API clients
 * (scripts, curl) that send no cookie have nothing to forge.
 *
 * Returns the refusal (a sentence for the 403 answer) or null when the request may go on.
 */
export function originProblem(method: string | undefined, headers: IncomingHttpHeaders, trusted: readonly string[]): string | null {
  if (SAFE_METHODS.has((method ?? 'GET').toUpperCase())) return null;
  if (!headers.cookie) return null;
  const origin = headers.origin ?? (headers.referer ? refererOrigin(headers.referer) : null);
  if (!origin || origin === 'null') {
    return 'refused: a signed-in request that changes something must say where it comes from (Origin or Referer header)';
  }
  if (trusted.includes(origin)) return null;
  return `refused: requests from ${origin} may not act for a signed-in operator (this control plane is ${trusted[0] ?? 'its own origin'}; add an origin to TRUSTED_ORIGINS to allow it)`;
}

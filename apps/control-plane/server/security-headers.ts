import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long browsers remember to use HTTPS only (`Strict-Transport-Security`, one year). */
export const HSTS_MAX_AGE_S = 365 * 24 * 60 * 60;

/** API answers and health probes: nothing in them is ever run, framed or cached. */
export const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The policy of the UI's pages: scripts only from this origin or inline with this request's
 * `nonce` (Next.js stamps it on its inline scripts when it finds the policy in the request's
 * `content-security-policy` header); no plug-ins, no `<base>`, forms and fetches to this origin
 * only, never framed. Inline `style` attributes are allowed (React renders them; a nonce cannot
 * cover attributes). `dev` adds what Next.js's development mode needs (eval for React's stacks).
 */
export function pageCsp(nonce: string, dev = false): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}'${dev ? " 'unsafe-eval'" : ''}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/** A fresh nonce: 128 random bits, base64. */
export function newNonce(): string {
  return randomBytes(16).toString('base64');
}

/** Paths whose answers are API data (never cached: `Cache-Control: no-store`). */
export function isApiPath(pathname: string): boolean {
  return pathname.startsWith('/api/') || pathname === '/api' || pathname.startsWith('/agent/') || pathname === '/healthz' || pathname === '/readyz';
}

/**
 * Sets the security headers every answer carries, before the route writes its own:
 * `X-Content-Type-Options: nosniff`, `Referrer-Policy: strict-origin-when-cross-origin`,
 * `X-Frame-Options: DENY` (with CSP `frame-ancestors 'none'`), `Cross-Origin-Opener-Policy`,
 * `Strict-Transport-Security` when served over TLS, and a Content-Security-Policy: API answers
 * get {@link API_CSP} and `Cache-Control: no-store`; pages get {@link pageCsp} with a per-request
 * nonce, which is also written into the request's `content-security-policy` header for Next.js
 * to find (any client-sent value is replaced).
 */
export function applySecurityHeaders(req: IncomingMessage, res: ServerResponse, options: { pathname: string; tls: boolean; dev: boolean }): void {
  res.setHeader('x-content-type-options', 'nosniff');
  res.setHeader('referrer-policy', 'strict-origin-when-cross-origin');
  res.setHeader('x-frame-options', 'DENY');
  res.setHeader('cross-origin-opener-policy', 'same-origin');
  if (options.tls) res.setHeader('strict-transport-security', `max-age=${HSTS_MAX_AGE_S}; includeSubDomains`);
  delete req.headers['content-security-policy-report-only'];
  if (isApiPath(options.pathname)) {
    delete req.headers['content-security-policy'];
    res.setHeader('content-security-policy', API_CSP);
    res.setHeader('cache-control', 'no-store');
    return;
  }
  const policy = pageCsp(newNonce(), options.dev);
  req.headers['content-security-policy'] = policy;
  res.setHeader('content-security-policy', policy);
}

import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, enrollAgent, IdentityProofError, issueIdentityChallenge } from '@fleet/core';
import { describeDatabaseError, type DatabaseHandle } from '@fleet/db';
import { enrollRequestSchema, type EnrollChallengeResponse, type EnrollResponse } from '@fleet/protocol';
import { perMinute, TokenBucket } from './rate-limit.js';

/** What the gateway needs from the server that mounts it. */
export interface GatewayOptions {
  database: DatabaseHandle;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /**
   * Failed enrollment requests (unknown, expired or used-up token, bad request) per source
   * address per minute (default 20); past it that address's failures are answered 429. A valid
   * token is never refused for what others sent from the same address (NAT, load balancer).
   */
  failedEnrollPerMinute?: number;
  /** Enrollment attempts with one token per minute (default 60), whatever the address. */
  enrollPerTokenPerMinute?: number;
  /** Identity challenges per source address per minute (default 120). */
  challengesPerMinute?: number;
  /** Enrollment and challenge requests this process admits per second, whoever sends them (default 20, bursts of 10 s worth); more get 503. */
  admissionsPerSecond?: number;
  /**
   * Origins of the STS endpoints identity proofs are sent to (default: the real AWS STS
   * endpoints, core's DEFAULT_STS_ENDPOINTS); from the control plane's `FLEET_STS_ENDPOINTS`.
   */
  stsEndpoints?: readonly string[] | undefined;
}

const MAX_BODY = 64 * 1024;
const STATUS: Record<string, number> = { BAD_INPUT: 400, UNAUTHENTICATED: 401, FORBIDDEN: 403, NOT_FOUND: 404, CONFLICT: 409, UNAVAILABLE: 503 };

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers });
  res.end(text);
}

/** A body over MAX_BODY: answered 413. */
class BodyTooLarge extends Error {}

async function readBody(req: IncomingMessage): Promise<string> {
  if (Number(req.headers['content-length'] ?? 0) > MAX_BODY) throw new BodyTooLarge();
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new BodyTooLarge();
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

const ENROLL = '/agent/v1/enroll';
const CHALLENGE = '/agent/v1/enroll/challenge';

/**
 * The HTTP side of the agent gateway, for requests under `/agent/v1/`:
 * `POST /agent/v1/enroll` (JSON `EnrollRequest` → `EnrollResponse`) and
 * `POST /agent/v1/enroll/challenge` (→ `EnrollChallengeResponse`: a single-use challenge for an
 * AWS identity proof). Limits: a global admission rate (503), attempts per token, failed
 * attempts per source address, challenges per source address (429 + Retry-After). Refusals answer
 * `{error, field?, code?}`; `code` is set for identity-proof refusals
 * (`identity_proof_required` when a bound token came without a proof).
 * Answers `false` for paths it does not serve, so the caller can 404.
 */
export function createGatewayHttpHandler(options: GatewayOptions) {
  const failures = perMinute(options.failedEnrollPerMinute ?? 20);
  const perToken = perMinute(options.enrollPerTokenPerMinute ?? 60);
  const challenges = perMinute(options.challengesPerMinute ?? 120);
  const admissions = options.admissionsPerSecond ?? 20;
  const admission = new TokenBucket(admissions * 10, admissions);
  const identityProof = { stsEndpoints: options.stsEndpoints };
  const retryAfter = (ms: number) => ({ 'retry-after': String(Math.ceil(ms / 1000)) });
  /** A failed request: its answer, or 429 once the address has failed more than its limit (and then no log line). */
  const fail = (res: ServerResponse, sourceIp: string, status: number, body: Record<string, unknown>, log?: () => void) => {
    const wait = failures.take(sourceIp);
    if (wait > 0) return send(res, 429, { error: 'too many failed enrollment attempts from this address; retry later' }, retryAfter(wait));
    log?.();
    send(res, status, body);
  };
  return async (req: IncomingMessage, res: ServerResponse, pathname: string, sourceIp: string): Promise<boolean> => {
    if (pathname !== ENROLL && pathname !== CHALLENGE) return false;
    if (req.method !== 'POST') {
      send(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return true;
    }
    if (admission.take() > 0) {
      req.resume();
      send(res, 503, { error: 'the control plane is handling too many enrollments at once; retry later' }, { 'retry-after': String(1 + Math.floor(Math.random() * 10)) });
      return true;
    }
    if (pathname === CHALLENGE) {
      req.resume();
      const wait = challenges.take(sourceIp);
      if (wait > 0) {
        send(res, 429, { error: 'too many identity challenges requested from this address; retry later' }, retryAfter(wait));
        return true;
      }
      try {
        const { challenge, expiresAt } = await issueIdentityChallenge(options.database.db);
        send(res, 201, { challenge, expiresAt: expiresAt.toISOString() } satisfies EnrollChallengeResponse);
      } catch (err) {
        options.log('error', 'issuing an identity challenge failed', { err: describeDatabaseError(err) });
        send(res, 500, { error: 'internal error' });
      }
      return true;
    }
    try {
      const raw = await readBody(req);
      let json: unknown;
      try {
        json = JSON.parse(raw);
      } catch {
        throw new AppError('BAD_INPUT', 'the body is not JSON');
      }
      const parsed = enrollRequestSchema.safeParse(json);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        const path = issue.path.map((p) => String(p).slice(0, 64)).join('.');
        throw new AppError('BAD_INPUT', `${path || 'body'}: ${issue.message}`, { field: path });
      }
      // Keyed by the token's hash (the token itself is never kept, even in memory).
      const wait = perToken.take(createHash('sha256').update(parsed.data.token).digest('base64url'));
      if (wait > 0) {
        send(res, 429, { error: 'too many enrollment attempts with this token; retry later' }, retryAfter(wait));
        return true;
      }
      const out = await enrollAgent({ db: options.database.db, sourceIp, identityProof }, parsed.data.token, parsed.data.description, parsed.data.identityProof);
      options.log('info', 'agent enrolled', { agentId: out.agentId, hostname: parsed.data.description.hostname, sourceIp, ...(out.awsIdentityArn ? { awsIdentityArn: out.awsIdentityArn } : {}) });
      send(res, 201, { agentId: out.agentId, agentSecret: out.agentSecret, heartbeatIntervalMs: out.heartbeatIntervalMs } satisfies EnrollResponse);
    } catch (err) {
      if (err instanceof BodyTooLarge) {
        // Not read further: the connection closes after the answer.
        res.once('finish', () => req.destroy());
        send(res, 413, { error: `the request body is larger than the ${MAX_BODY}-byte limit of enrollment requests` }, { connection: 'close' });
      } else if (err instanceof AppError) {
        const code = err instanceof IdentityProofError ? err.reason : undefined;
        const status = STATUS[err.code] ?? 400;
        const body = { error: err.message, ...(err.details.field ? { field: err.details.field } : {}), ...(code ? { code } : {}) };
        const log = () => options.log('warn', 'enrollment refused', { reason: err.message, ...(code ? { code } : {}), sourceIp });
        // Wrong tokens and bad requests count against the address; refusals of a valid token
        // (platform, identity proof, STS down) are the token's business and were counted for it.
        const wrongToken = err.code === 'UNAUTHENTICATED' && !code;
        if (wrongToken || err.code === 'BAD_INPUT') fail(res, sourceIp, status, body, wrongToken ? log : undefined);
        else {
          if (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN' || err.code === 'UNAVAILABLE') log();
          send(res, status, body);
        }
      } else {
        // Never the error's text as such: a failed query's carries its parameters (the secret hash).
        options.log('error', 'enrollment failed', { err: describeDatabaseError(err) });
        send(res, 500, { error: 'internal error' });
      }
    }
    return true;
  };
}

import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, enrollAgent, IdentityProofError, issueIdentityChallenge } from '@fleet/core';
import type { DatabaseHandle } from '@fleet/db';
import { enrollRequestSchema, type EnrollChallengeResponse, type EnrollResponse } from '@fleet/protocol';
import { RateLimiter } from './rate-limit.js';

/** What the gateway needs from the server that mounts it. */
export interface GatewayOptions {
  database: DatabaseHandle;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Enrollment requests (enroll and challenge together) per source address per minute (default 20). */
  enrollPerMinute?: number;
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

async function readBody(req: IncomingMessage): Promise<string> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY) throw new AppError('BAD_INPUT', `request body larger than ${MAX_BODY} bytes`);
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
 * AWS identity proof), sharing one rate limit per source. Refusals answer
 * `{error, field?, code?}`; `code` is set for identity-proof refusals
 * (`identity_proof_required` when a bound token came without a proof).
 * Answers `false` for paths it does not serve, so the caller can 404.
 */
export function createGatewayHttpHandler(options: GatewayOptions) {
  const limiter = new RateLimiter(options.enrollPerMinute ?? 20, 60_000);
  const identityProof = { stsEndpoints: options.stsEndpoints };
  return async (req: IncomingMessage, res: ServerResponse, pathname: string, sourceIp: string): Promise<boolean> => {
    if (pathname !== ENROLL && pathname !== CHALLENGE) return false;
    if (req.method !== 'POST') {
      send(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return true;
    }
    const wait = limiter.take(sourceIp);
    if (wait > 0) {
      send(res, 429, { error: 'too many enrollment attempts from this address; retry later' }, { 'retry-after': String(Math.ceil(wait / 1000)) });
      return true;
    }
    if (pathname === CHALLENGE) {
      req.resume();
      try {
        const { challenge, expiresAt } = await issueIdentityChallenge(options.database.db);
        send(res, 201, { challenge, expiresAt: expiresAt.toISOString() } satisfies EnrollChallengeResponse);
      } catch (err) {
        options.log('error', 'issuing an identity challenge failed', { err: String(err) });
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
        throw new AppError('BAD_INPUT', `${issue.path.join('.') || 'body'}: ${issue.message}`, { field: issue.path.join('.') });
      }
      const out = await enrollAgent({ db: options.database.db, sourceIp, identityProof }, parsed.data.token, parsed.data.description, parsed.data.identityProof);
      options.log('info', 'agent enrolled', { agentId: out.agentId, hostname: parsed.data.description.hostname, sourceIp, ...(out.awsIdentityArn ? { awsIdentityArn: out.awsIdentityArn } : {}) });
      send(res, 201, { agentId: out.agentId, agentSecret: out.agentSecret, heartbeatIntervalMs: out.heartbeatIntervalMs } satisfies EnrollResponse);
    } catch (err) {
      if (err instanceof AppError) {
        const code = err instanceof IdentityProofError ? err.reason : undefined;
        if (err.code === 'UNAUTHENTICATED' || err.code === 'FORBIDDEN' || err.code === 'UNAVAILABLE') {
          options.log('warn', 'enrollment refused', { reason: err.message, ...(code ? { code } : {}), sourceIp });
        }
        send(res, STATUS[err.code] ?? 400, { error: err.message, ...(err.details.field ? { field: err.details.field } : {}), ...(code ? { code } : {}) });
      } else {
        options.log('error', 'enrollment failed', { err: String(err) });
        send(res, 500, { error: 'internal error' });
      }
    }
    return true;
  };
}

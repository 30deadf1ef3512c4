import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppError, enrollAgent } from '@fleet/core';
import type { DatabaseHandle } from '@fleet/db';
import { enrollRequestSchema } from '@fleet/protocol';
import { RateLimiter } from './rate-limit.js';

/** What the gateway needs from the server that mounts it. */
export interface GatewayOptions {
  database: DatabaseHandle;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Enrollment requests per source address per minute (default 20). */
  enrollPerMinute?: number;
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

/**
 * The HTTP side of the agent gateway, for requests under `/agent/v1/`:
 * `POST /agent/v1/enroll` (JSON `EnrollRequest` → `EnrollResponse`), rate-limited per source.
 * Answers `null` for paths it does not serve, so the caller can 404.
 */
export function createGatewayHttpHandler(options: GatewayOptions) {
  const limiter = new RateLimiter(options.enrollPerMinute ?? 20, 60_000);
  return async (req: IncomingMessage, res: ServerResponse, pathname: string, sourceIp: string): Promise<boolean> => {
    if (pathname !== '/agent/v1/enroll') return false;
    if (req.method !== 'POST') {
      send(res, 405, { error: 'use POST' }, { allow: 'POST' });
      return true;
    }
    const wait = limiter.take(sourceIp);
    if (wait > 0) {
      send(res, 429, { error: 'too many enrollment attempts from this address; retry later' }, { 'retry-after': String(Math.ceil(wait / 1000)) });
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
      const out = await enrollAgent({ db: options.database.db, sourceIp }, parsed.data.token, parsed.data.description);
      options.log('info', 'agent enrolled', { agentId: out.agentId, hostname: parsed.data.description.hostname, sourceIp });
      send(res, 201, out);
    } catch (err) {
      if (err instanceof AppError) {
        if (err.code === 'UNAUTHENTICATED') options.log('warn', 'enrollment refused', { reason: err.message, sourceIp });
        send(res, STATUS[err.code] ?? 400, { error: err.message, ...(err.details.field ? { field: err.details.field } : {}) });
      } else {
        options.log('error', 'enrollment failed', { err: String(err) });
        send(res, 500, { error: 'internal error' });
      }
    }
    return true;
  };
}

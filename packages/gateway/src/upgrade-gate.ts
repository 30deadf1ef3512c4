import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { AppError, authenticateAgent, type SessionAgent } from '@fleet/core';
import { describeDatabaseError, type Db } from '@fleet/db';
import { perMinute, TokenBucket, type KeyedTokenBuckets } from './rate-limit.js';

/** Header carrying the agent id; the secret goes in `Authorization: Bearer <secret>`. */
export const AGENT_ID_HEADER = 'x-fleet-agent-id';

/** What the upgrade gate needs: the database to check credentials in, a log, its limits. */
export interface UpgradeGateOptions {
  db: Db;
  log: (level: 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Failed upgrades per source address per minute before that address is answered 429 (default 60). */
  failedUpgradesPerMinute?: number | undefined;
  /** Connections of one authenticated agent per minute (default 30); more are answered 429. */
  reconnectsPerMinute?: number | undefined;
  /** Upgrades admitted per second, whoever sends them (default 200, bursts of 10 s worth); more get 503. */
  admissionsPerSecond?: number | undefined;
}

/** A random Retry-After in seconds, so a crowd refused at once does not come back at once. */
export const spreadRetryAfter = (min: number, spread: number) => ({ 'retry-after': String(min + Math.floor(Math.random() * spread)) });

/** Answers an HTTP upgrade request with a JSON error and closes the socket. */
export function rejectUpgrade(socket: Duplex, status: number, reason: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ error: reason });
  const lines = [
    `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : status === 429 ? 'Too Many Requests' : status === 503 ? 'Service Unavailable' : 'Bad Request'}`,
    'content-type: application/json; charset=utf-8',
    `content-length: ${Buffer.byteLength(body)}`,
    'connection: close',
    ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

function bearer(req: IncomingMessage): string | undefined {
  return /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
}

/**
 * Who may open the agent WebSocket: a global admission rate (503 + Retry-After), the agent id +
 * secret (401), failures limited per source address (429 once over; then no log line, so one
 * source cannot flood the log) and an authenticated agent's reconnects limited per agent id
 * (429). Keyed so that no one else's failures lock an agent out: failures by address, successes
 * by agent id (NAT, load balancers).
 */
export class UpgradeGate {
  private readonly failures: KeyedTokenBuckets;
  private readonly reconnects: KeyedTokenBuckets;
  private readonly admission: TokenBucket;

  constructor(private readonly options: UpgradeGateOptions) {
    this.failures = perMinute(options.failedUpgradesPerMinute ?? 60);
    this.reconnects = perMinute(options.reconnectsPerMinute ?? 30);
    const admissions = options.admissionsPerSecond ?? 200;
    this.admission = new TokenBucket(admissions * 10, admissions);
  }

  /** The authenticated agent, or null when the upgrade was refused (the answer is already written to `socket`). */
  async admit(req: IncomingMessage, socket: Duplex, sourceIp: string): Promise<SessionAgent | null> {
    if (this.admission.take() > 0) {
      rejectUpgrade(socket, 503, 'this control-plane replica is admitting too many connections at once', spreadRetryAfter(1, 10));
      return null;
    }
    const agentId = String(req.headers[AGENT_ID_HEADER] ?? '');
    const secret = bearer(req);
    if (!agentId || !secret) {
      this.refuseFailed(socket, sourceIp, `send the agent id in ${AGENT_ID_HEADER} and the secret as Authorization: Bearer`);
      return null;
    }
    let agent: SessionAgent;
    try {
      agent = await authenticateAgent(this.options.db, agentId, secret);
    } catch (err) {
      if (err instanceof AppError && err.code === 'UNAUTHENTICATED') {
        this.refuseFailed(socket, sourceIp, err.message, agentId.slice(0, 36));
      } else {
        this.options.log('error', 'agent authentication failed', { err: describeDatabaseError(err) });
        rejectUpgrade(socket, 503, 'the control plane cannot check credentials now', spreadRetryAfter(5, 25));
      }
      return null;
    }
    const wait = this.reconnects.take(agent.id);
    if (wait > 0) {
      rejectUpgrade(socket, 429, 'this agent connects too often; retry later', { 'retry-after': String(Math.ceil(wait / 1000)) });
      return null;
    }
    return agent;
  }

  /** A failed upgrade: 401 with the reason while the address is within its failure limit, then 429 + Retry-After. */
  private refuseFailed(socket: Duplex, sourceIp: string, reason: string, agentId?: string): void {
    const wait = this.failures.take(sourceIp);
    if (wait > 0) {
      rejectUpgrade(socket, 429, 'too many failed connection attempts from this address', { 'retry-after': String(Math.ceil(wait / 1000)) });
      return;
    }
    if (agentId !== undefined) this.options.log('warn', 'agent connection refused', { agentId, sourceIp, reason });
    rejectUpgrade(socket, 401, reason);
  }
}

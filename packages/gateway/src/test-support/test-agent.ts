/** Test support for the channel's tests: an agent on the WebSocket that keeps what the server sends. */
import { parseServerMessage, PROTOCOL_VERSION, type ServerMessage } from '@fleet/protocol';
import type WebSocket from 'ws';

/** How long a test waits for something the channel does before it fails (a deadline, never a pause). */
export const DEADLINE_MS = 5_000;

type Message<T extends ServerMessage['type']> = Extract<ServerMessage, { type: T }>;

/**
 * A test agent on the channel: every frame the server sends is kept in order and validated
 * against the protocol (`invalid` collects the ones that do not parse).
 */
export class TestAgent {
  readonly messages: ServerMessage[] = [];
  readonly invalid: string[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private seq = 0;
  private readonly waiters = new Set<() => void>();

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const parsed = parseServerMessage(data as Buffer);
      if (parsed.ok) this.messages.push(parsed.message);
      else this.invalid.push(parsed.error);
      for (const w of this.waiters) w();
    });
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    ws.on('error', () => undefined);
  }

  /** Resolves with the first message (from the start of the session) that has `type` and passes `match`. */
  next<T extends ServerMessage['type']>(type: T, match: (m: Message<T>) => boolean = () => true): Promise<Message<T>> {
    const find = () => this.messages.find((m): m is Message<T> => m.type === type && match(m as Message<T>));
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`no ${type} message within ${DEADLINE_MS} ms; got ${JSON.stringify(this.messages.map((m) => m.type))}`));
      }, DEADLINE_MS);
      const check = () => {
        const m = find();
        if (!m) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(m);
      };
      this.waiters.add(check);
    });
  }

  /** Messages of one type received so far. */
  all<T extends ServerMessage['type']>(type: T): Message<T>[] {
    return this.messages.filter((m): m is Message<T> => m.type === type);
  }

  sendRaw(text: string): void {
    this.ws.send(text);
  }

  /** Sends an agent message with `v` and the next sequence number filled in. */
  send(message: Record<string, unknown>): void {
    this.ws.send(JSON.stringify({ v: PROTOCOL_VERSION, seq: this.seq++, ...message }));
  }

  hello(configHash: string | null = null, hostname = 'host-1'): void {
    this.send({ type: 'hello', description: { hostname, version: 'test', platform: 'generic', labels: {} }, capabilities: ['config.live-apply'], configHash });
  }

  heartbeat(samplesScraped = 10): void {
    this.send({ type: 'heartbeat', ...heartbeatBody(samplesScraped) });
  }

  /**
   * Resolves once the server has answered a frame sent now: a deliberately malformed frame is
   * answered at once with an `error`, and frames arrive in order, so everything the server sent
   * before that answer has been received.
   */
  async flush(): Promise<void> {
    const marker = `flush-${Math.random().toString(36).slice(2)}`;
    this.sendRaw(JSON.stringify({ type: marker, v: PROTOCOL_VERSION }));
    await this.next('error', (m) => m.message.includes(marker));
  }
}

export function heartbeatBody(samplesScraped: number) {
  return {
    at: new Date().toISOString(),
    counters: { samplesScraped, samplesSent: samplesScraped, samplesDropped: 0, samplesRetried: 0, pendingSamples: 0, walBytes: 0 },
    destinations: [],
    targets: [],
  };
}


import { parseAgentConfig, PipelineConfigError, type AgentConfig } from '@fleet/pipeline';
import { parseServerMessage, PROTOCOL_VERSION, type AgentDescription, type AgentMessage, type ServerMessage } from '@fleet/protocol';
import WebSocket from 'ws';
import type { AgentLog } from '../agent.js';
import type { AgentState } from './state.js';
import { untrustedHint, type ServerTrust } from './tls.js';

/** Distributive Omit, so each message type keeps its own fields. */
type Outgoing = AgentMessage extends infer M ? (M extends AgentMessage ? Omit<M, 'v' | 'seq'> : never) : never;

/** A config the control plane sent, validated. */
export interface ReceivedConfig {
  configHash: string;
  document: Record<string, unknown>;
  config: AgentConfig;
  pipelines: { id: string; name: string; version: number }[];
}

/** What the channel needs from the running agent: small and explicit, so tests can fake it. */
export interface ChannelAgent {
  /** Hash of the config running now (null before the first one). */
  runningConfigHash(): string | null;
  /** Applies a validated config live; rejects with a message naming what failed (the old one keeps running). */
  apply(config: ReceivedConfig): Promise<void>;
  /** The heartbeat body (counters, destinations, targets). */
  heartbeat(): Promise<Omit<Extract<AgentMessage, { type: 'heartbeat' }>, 'type' | 'v' | 'seq' | 'at'>>;
}

/** Options of {@link ControlChannel}. */
export interface ControlChannelOptions {
  state: AgentState;
  description: () => Promise<AgentDescription>;
  agent: ChannelAgent;
  log: AgentLog;
  /** CAs trusted for a wss:// server besides the public ones (`--ca-file`). */
  trust?: ServerTrust | undefined;
  /** The region `sigv4` blocks without one use (the SDK's resolution on this host). */
  defaultRegion?: string | undefined;
  /** Reconnect backoff: base and cap of the exponential (full jitter). Defaults 1 s and 60 s. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** Source of the backoff jitter, a number in [0, 1] (default Math.random; tests make it deterministic). */
  random?: () => number;
  /**
   * Schedules the reconnect (setTimeout) and the heartbeats (setInterval). Defaults to the global
   * timers; tests wrap them to observe the delays the channel asks for. They must return Node
   * timers (the channel clears them with clearTimeout/clearInterval and unrefs the heartbeat).
   */
  timers?: { setTimeout(fn: () => void, ms: number): NodeJS.Timeout; setInterval(fn: () => void, ms: number): NodeJS.Timeout };
}

/** Where the channel is, for logs, `/-/ready` and tests. */
export type ChannelStatus = 'connecting' | 'connected' | 'waiting' | 'stopped';

const CHANNEL_PATH = '/agent/v1/ws';

/**
 * The agent's side of the control channel: keeps one WebSocket to the control plane, says
 * `hello`, applies every `config` it receives (reporting applying → applied | failed), sends
 * heartbeats at the interval the server sets, and reconnects with exponential backoff and full
 * jitter — honouring `Retry-After` and the server's `disconnect.retryAfterMs` — while the agent
 * keeps running its last good config.
 */
export class ControlChannel {
  private socket: WebSocket | null = null;
  private seq = 0;
  private failures = 0;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private retryAfterMs: number | null = null;
  private applying: Promise<void> = Promise.resolve();
  private stopped = false;
  private _status: ChannelStatus = 'connecting';
  private readonly random: () => number;
  private readonly timers: NonNullable<ControlChannelOptions['timers']>;

  constructor(private readonly options: ControlChannelOptions) {
    this.random = options.random ?? Math.random;
    this.timers = options.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), setInterval: (fn, ms) => setInterval(fn, ms) };
  }

  get status(): ChannelStatus {
    return this._status;
  }

  /** Connects (and keeps reconnecting until {@link stop}). */
  start(): void {
    this.connect();
  }

  private url(): string {
    const u = new URL(CHANNEL_PATH, this.options.state.server);
    u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
    return u.toString();
  }

  private connect(): void {
    if (this.stopped) return;
    this._status = 'connecting';
    this.retryAfterMs = null;
    const { state, log } = this.options;
    const ws = new WebSocket(this.url(), {
      headers: { authorization: `Bearer ${state.agentSecret}`, 'x-fleet-agent-id': state.agentId },
      handshakeTimeout: 15_000,
      maxPayload: 8 << 20,
      ...(this.options.trust ? { ca: [...this.options.trust.ca] } : {}),
    });
    this.socket = ws;
    ws.on('unexpected-response', (_req, res) => {
      const retryAfter = Number(res.headers['retry-after']);
      if (Number.isFinite(retryAfter) && retryAfter >= 0) this.retryAfterMs = retryAfter * 1000;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c.slice(0, 2000)));
      res.on('end', () => {
        let reason = body;
        try {
          reason = (JSON.parse(body) as { error?: string }).error ?? body;
        } catch {
          // plain text
        }
        const level = res.statusCode === 401 ? 'error' : 'warn';
        log(level, res.statusCode === 401 ? 'the control plane refused this agent; it keeps running its last config (enroll again if it was removed)' : 'the control plane refused the connection', {
          status: res.statusCode,
          reason: reason.slice(0, 300),
          retryAfterMs: this.retryAfterMs,
        });
        ws.terminate();
        this.scheduleReconnect();
      });
    });
    ws.on('open', () => {
      this._status = 'connected';
      this.failures = 0;
      log('info', 'connected to the control plane', { server: state.server });
      void this.sendHello();
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return log('warn', 'ignoring a binary frame from the control plane');
      const parsed = parseServerMessage(data as Buffer);
      if (!parsed.ok) {
        log('warn', 'ignoring a malformed message from the control plane', { code: parsed.code, error: parsed.error });
        return;
      }
      this.onMessage(parsed.message);
    });
    ws.on('error', (err) => {
      const code = (err as Error & { code?: string }).code;
      if (this._status === 'connecting') log('warn', `cannot reach the control plane; keeps running the last config${untrustedHint(code, this.options.trust)}`, { server: state.server, error: code ?? err.message });
    });
    ws.on('close', (code, reason) => {
      clearInterval(this.heartbeatTimer);
      if (this.socket !== ws) return;
      this.socket = null;
      if (this.stopped) return;
      if (this._status === 'connected') log('warn', 'lost the control plane connection; reconnecting', { code, reason: reason.toString().slice(0, 200) });
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.reconnectTimer) return;
    this._status = 'waiting';
    const min = this.options.minBackoffMs ?? 1000;
    const max = this.options.maxBackoffMs ?? 60_000;
    // Full jitter: uniform in [0, min(cap, base·2^n)], so a fleet does not come back in step.
    let delay = this.random() * Math.min(max, min * 2 ** Math.min(this.failures++, 16));
    // The server's Retry-After is a floor, with jitter on top of it for the same reason.
    if (this.retryAfterMs !== null) delay = this.retryAfterMs + this.random() * Math.min(this.retryAfterMs, 10_000);
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      this.connect();
    }, delay);
  }

  private send(message: Outgoing): void {
    if (this.socket?.readyState !== WebSocket.OPEN) return;
    this.socket.send(JSON.stringify({ ...message, v: PROTOCOL_VERSION, seq: this.seq++ }));
  }

  private async sendHello(): Promise<void> {
    const description = await this.options.description();
    this.send({ type: 'hello', description, capabilities: ['config.live-apply', 'heartbeat.v1', 'sigv4'], configHash: this.options.agent.runningConfigHash() });
  }

  private onMessage(msg: ServerMessage): void {
    const { log } = this.options;
    switch (msg.type) {
      case 'welcome':
        clearInterval(this.heartbeatTimer);
        this.heartbeatTimer = this.timers.setInterval(() => void this.sendHeartbeat(), msg.heartbeatIntervalMs);
        this.heartbeatTimer.unref();
        return;
      case 'config':
        this.applying = this.applying.then(() => this.applyConfig(msg));
        return;
      case 'requestFullState':
        log('info', 'the control plane asked for the full state', { reason: msg.reason });
        void this.sendHello();
        return;
      case 'error':
        log('warn', 'the control plane reported a protocol error', { code: msg.code, message: msg.message });
        return;
      case 'disconnect':
        log('info', 'the control plane closes the connection', { reason: msg.reason, retryAfterMs: msg.retryAfterMs });
        if (msg.retryAfterMs !== undefined) this.retryAfterMs = msg.retryAfterMs;
        return;
    }
  }

  private async applyConfig(msg: Extract<ServerMessage, { type: 'config' }>): Promise<void> {
    const { log, agent } = this.options;
    if (msg.configHash === agent.runningConfigHash()) {
      this.send({ type: 'configStatus', configHash: msg.configHash, status: 'applied' });
      return;
    }
    this.send({ type: 'configStatus', configHash: msg.configHash, status: 'applying' });
    try {
      let config: AgentConfig;
      try {
        config = parseAgentConfig(msg.config, { source: 'the config from the control plane', defaultRegion: this.options.defaultRegion });
      } catch (err) {
        if (err instanceof PipelineConfigError) throw new Error(err.issues.map((i) => `${i.path}: ${i.message}`).join('; '), { cause: err });
        throw err;
      }
      await agent.apply({ configHash: msg.configHash, document: msg.config, config, pipelines: msg.pipelines });
      log('info', 'applied the config from the control plane', { configHash: msg.configHash, pipelines: msg.pipelines.map((p) => `${p.name}@v${p.version}`) });
      this.send({ type: 'configStatus', configHash: msg.configHash, status: 'applied' });
    } catch (err) {
      const error = ((err as Error).message || String(err)).slice(0, 4000);
      log('error', 'cannot apply the config from the control plane; the previous config keeps running', { configHash: msg.configHash, error });
      this.send({ type: 'configStatus', configHash: msg.configHash, status: 'failed', error });
    }
  }

  private async sendHeartbeat(): Promise<void> {
    try {
      const body = await this.options.agent.heartbeat();
      this.send({ type: 'heartbeat', at: new Date().toISOString(), ...body });
    } catch (err) {
      this.options.log('warn', 'cannot build a heartbeat', { error: (err as Error).message });
    }
  }

  /** Says goodbye, closes the socket and stops reconnecting; waits for a config apply in flight. */
  async stop(reason = 'agent stopping'): Promise<void> {
    this.stopped = true;
    this._status = 'stopped';
    clearTimeout(this.reconnectTimer);
    clearInterval(this.heartbeatTimer);
    const ws = this.socket;
    if (ws?.readyState === WebSocket.OPEN) {
      this.send({ type: 'disconnect', reason });
      await new Promise<void>((resolve) => {
        const t = setTimeout(() => {
          ws.terminate();
          resolve();
        }, 2000);
        ws.once('close', () => {
          clearTimeout(t);
          resolve();
        });
        ws.close(1000, 'bye');
      });
    } else {
      ws?.terminate();
    }
    await this.applying;
  }
}

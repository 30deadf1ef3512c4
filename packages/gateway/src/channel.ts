import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import os from 'node:os';
import type { Duplex } from 'node:stream';
import {
  AGENT_CHANNEL,
  closeConnection,
  openConnection,
  buildAgentConfig,
  currentAgentLabels,
  HEARTBEAT_INTERVAL_MS,
  loadPublishedPipelines,
  markSilentAgentsOffline,
  parseAgentChange,
  recordAgentConnected,
  recordAgentDisconnected,
  recordConfigBuildFailure,
  recordConfigStatus,
  recordDesiredConfig,
  recordHeartbeat,
  releaseReplicaAgents,
  type AgentChange,
  type AgentConfigBuild,
  type PublishedSet,
} from '@fleet/core';
import { describeDatabaseError, type DatabaseHandle } from '@fleet/db';
import { parseAgentMessage, PROTOCOL_VERSION, type AgentMessage, type ServerMessage } from '@fleet/protocol';
import { WebSocket, WebSocketServer, type RawData } from 'ws';
import { DEFAULT_SESSION_LIMITS, SessionGuard, type SessionLimits } from './session-guard.js';
import { rejectUpgrade, spreadRetryAfter, UpgradeGate } from './upgrade-gate.js';
import { WorkQueue } from './work-queue.js';

/** Path of the agent WebSocket. */
export const CHANNEL_PATH = '/agent/v1/ws';
export { AGENT_ID_HEADER } from './upgrade-gate.js';

/** Close codes the gateway uses (4000–4999 are the application's range). */
export const CLOSE = { normal: 1000, goingAway: 1001, policy: 1008, replaced: 4000, removed: 4001, silent: 4002, tooManyErrors: 4003 } as const;

/** What the agent channel needs from the server that mounts it. */
export interface AgentChannelOptions {
  database: DatabaseHandle;
  log: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
  /** Interval agents are told to send heartbeats at (default 15 s). */
  heartbeatIntervalMs?: number;
  /** An agent silent for this many intervals is disconnected and marked offline (default 3). */
  missedHeartbeats?: number;
  /**
   * Failed upgrades (no or wrong credentials) per source address per minute before that address
   * is answered 429 (default 60). Only failures count: an agent that authenticates is never
   * refused for what others sent from its address (NAT, load balancer).
   */
  failedUpgradesPerMinute?: number;
  /** Connections of one authenticated agent per minute (default 30); more are answered 429. */
  reconnectsPerMinute?: number;
  /** Upgrades this replica admits per second, whoever sends them (default 200, bursts of 10 s worth); more get 503 + Retry-After. */
  admissionsPerSecond?: number;
  /**
   * Messages one session may send per second (default 5; an agent sends a heartbeat per interval,
   * at least 1 s, and a few config statuses per config) and in a burst (default 200). Frames
   * beyond are dropped unread; the agent is told once (`error` code `rate_limited`) and a
   * session that keeps going ({@link AgentChannelOptions.maxDroppedPerMinute}) is closed (1008).
   */
  messagesPerSecond?: number;
  messageBurst?: number;
  /** Frames dropped for the rate in a minute before the session is closed with 1008 (default 100). */
  maxDroppedPerMinute?: number;
  /** Reports of one session waiting for the database (default 32); a heartbeat waiting is replaced by a newer one, not queued. */
  maxPendingPerSession?: number;
  /** Sessions this replica accepts before it sheds load with 503 + Retry-After (default 20,000). */
  maxSessions?: number;
  /** Names this replica in the agents table (default host:pid:random). */
  replicaId?: string;
}

interface Session {
  agentId: string;
  name: string;
  socket: WebSocket;
  /** Its row in the connection history, once written. */
  connectionId: number | null;
  labels: Record<string, string>;
  /** Hash of the config last sent to (or confirmed by) the agent. */
  configHash: string | null;
  helloSeen: boolean;
  lastSeq: number;
  lastMessageAt: number;
  /** Once the gateway decides to close the session: every later frame is dropped unread. */
  closing: boolean;
  /** Why the gateway closed it (`<code> <reason>`), when it did. */
  closedFor: string | null;
  /** This session's database writes, in order and bounded (heartbeats coalesced). */
  work: WorkQueue;
  /** Its message rate, protocol errors and log lines. */
  guard: SessionGuard;
}

/**
 * The agent WebSocket channel at `/agent/v1/ws`: authenticates agents by id + secret, keeps a
 * registry of this replica's sessions, sends each agent its effective config (on connect when
 * its hash differs, and at once when a pipeline is published or its labels change — learned
 * from PostgreSQL NOTIFY, so a publish on any replica reaches agents on every replica), records
 * config status and heartbeats, and marks silent agents offline.
 */
export class AgentChannel {
  readonly replicaId: string;
  private readonly sessions = new Map<string, Session>();
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 1 << 20 });
  /** Who may connect (credentials and the upgrade limits). */
  private readonly gate: UpgradeGate;
  private readonly limits: SessionLimits;
  private readonly heartbeatMs: number;
  private readonly silentMs: number;
  private published: Promise<PublishedSet> | null = null;
  private refreshing: Promise<void> = Promise.resolve();
  private unlisten: (() => Promise<void>) | null = null;
  private timer: NodeJS.Timeout | undefined;
  private draining = false;

  private constructor(private readonly options: AgentChannelOptions) {
    this.replicaId = options.replicaId ?? `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.gate = new UpgradeGate({
      db: options.database.db,
      log: options.log,
      failedUpgradesPerMinute: options.failedUpgradesPerMinute,
      reconnectsPerMinute: options.reconnectsPerMinute,
      admissionsPerSecond: options.admissionsPerSecond,
    });
    this.limits = {
      ...DEFAULT_SESSION_LIMITS,
      ...(options.messagesPerSecond !== undefined ? { messagesPerSecond: options.messagesPerSecond } : {}),
      ...(options.messageBurst !== undefined ? { messageBurst: options.messageBurst } : {}),
      ...(options.maxDroppedPerMinute !== undefined ? { maxDroppedPerMinute: options.maxDroppedPerMinute } : {}),
    };
    this.heartbeatMs = options.heartbeatIntervalMs ?? HEARTBEAT_INTERVAL_MS;
    this.silentMs = this.heartbeatMs * (options.missedHeartbeats ?? 3);
  }

  /** Starts listening for changes and the watchdog that marks silent agents offline. */
  static async start(options: AgentChannelOptions): Promise<AgentChannel> {
    const channel = new AgentChannel(options);
    channel.unlisten = await options.database.listen(
      AGENT_CHANNEL,
      (payload) => channel.onChange(payload),
      () => channel.resync(),
    );
    channel.timer = setInterval(() => channel.watchdog(), Math.min(channel.heartbeatMs, 15_000));
    channel.timer.unref();
    return channel;
  }

  /** Agents connected to this replica. */
  get size(): number {
    return this.sessions.size;
  }

  /** Ids of the agents connected to this replica. */
  connectedAgentIds(): string[] {
    return [...this.sessions.keys()];
  }

  /**
   * Handles an HTTP upgrade for `/agent/v1/ws`; returns false for other paths (the caller
   * destroys the socket). Before upgrading it refuses with 503 + Retry-After (draining, full, or
   * more upgrades per second than the replica admits), 401 (credentials; 429 once the source
   * address has failed more than its limit), 429 (an authenticated agent reconnecting more than
   * its limit). Limits are keyed so that no one else's failures lock an agent out: failures by
   * address, successes by agent id.
   */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, pathname: string, sourceIp: string): boolean {
    if (pathname !== CHANNEL_PATH) return false;
    socket.on('error', () => undefined);
    if (this.draining || this.sessions.size >= (this.options.maxSessions ?? 20_000)) {
      // Spread the retries so a crowd of agents does not come back in the same second.
      rejectUpgrade(socket, 503, this.draining ? 'this control-plane replica is shutting down' : 'this control-plane replica is at capacity', spreadRetryAfter(5, 25));
      return true;
    }
    this.gate.admit(req, socket, sourceIp).then((agent) => {
      if (!agent) return;
      if (this.draining) rejectUpgrade(socket, 503, 'this control-plane replica is shutting down', spreadRetryAfter(5, 25));
      else this.wss.handleUpgrade(req, socket, head, (ws) => this.open(ws, agent, sourceIp));
    }, (err: unknown) => {
      this.options.log('error', 'agent upgrade failed', { err: describeDatabaseError(err) });
      socket.destroy();
    });
    return true;
  }

  private open(socket: WebSocket, agent: { id: string; name: string; labels: Record<string, string> }, sourceIp: string): void {
    const previous = this.sessions.get(agent.id);
    if (previous) {
      this.send(previous, { type: 'disconnect', v: PROTOCOL_VERSION, reason: 'replaced by a newer connection of the same agent' });
      this.closeSession(previous, CLOSE.replaced, 'replaced');
    }
    const o = this.options;
    const session: Session = {
      agentId: agent.id,
      name: agent.name,
      socket,
      connectionId: null,
      labels: agent.labels,
      configHash: null,
      helloSeen: false,
      lastSeq: -1,
      lastMessageAt: Date.now(),
      closing: false,
      closedFor: null,
      work: new WorkQueue(o.maxPendingPerSession ?? 32, (err) => this.logFor(session, 'error', 'recording agent state failed', { err: describeDatabaseError(err) })),
      guard: new SessionGuard(this.limits),
    };
    this.sessions.set(agent.id, session);
    o.log('info', 'agent connected', { agentId: agent.id, name: agent.name, sourceIp, sessions: this.sessions.size });
    this.serverWork(session, async () => {
      session.connectionId = await openConnection(o.database.db, agent.id, this.replicaId, sourceIp);
    });
    // O(1) per frame before parsing: a closing session's frames and frames beyond the rate are dropped unread.
    socket.on('message', (data: RawData, isBinary: boolean) => {
      if (session.closing) return;
      session.lastMessageAt = Date.now();
      const verdict = session.guard.frame();
      if (verdict !== 'accept') return this.overRate(session, verdict);
      if (isBinary) return this.protocolError(session, 'malformed', 'binary frames are not part of the protocol');
      this.onMessage(session, data as Buffer);
    });
    socket.on('error', (err) => this.logFor(session, 'warn', 'agent socket error', { agentId: agent.id, err: err.message }));
    socket.on('close', (code, reason) => {
      session.closing = true;
      // A replaced session may end with any code (a dead peer never echoes 4000): only the
      // agent's current session on this replica may mark it offline.
      const current = this.sessions.get(agent.id) === session;
      if (current) this.sessions.delete(agent.id);
      o.log('info', 'agent disconnected', {
        agentId: agent.id,
        name: session.name,
        code,
        reason: reason.toString().slice(0, 200),
        ...(session.closedFor ? { closedFor: session.closedFor } : {}),
        ...(session.guard.suppressedLogLines ? { suppressedLogLines: session.guard.suppressedLogLines } : {}),
      });
      if (current && !this.draining) this.serverWork(session, () => recordAgentDisconnected(o.database.db, agent.id, this.replicaId));
      const why = session.closedFor ?? `${code}${reason.length ? ` ${reason.toString().slice(0, 200)}` : ''}`;
      // While draining, releaseReplicaAgents closes the history rows (the database closes next).
      if (!this.draining) {
        this.serverWork(session, async () => {
          if (session.connectionId !== null) await closeConnection(o.database.db, session.connectionId, why);
        });
      }
    });
    this.send(session, { type: 'welcome', v: PROTOCOL_VERSION, agentId: agent.id, heartbeatIntervalMs: this.heartbeatMs, serverTime: new Date().toISOString() });
  }

  private send(session: Session, message: ServerMessage): void {
    if (session.socket.readyState === WebSocket.OPEN) session.socket.send(JSON.stringify(message));
  }

  /** Queues the server's own work for a session (connection history, config pushes): never refused. */
  private serverWork(session: Session, work: () => Promise<unknown>): void {
    session.work.push(work, { bounded: false });
  }

  /**
   * Queues work an agent's message asked for; when the session already has its limit of reports
   * waiting, the agent is told and the session closed (1008): honest agents never get there.
   */
  private agentWork(session: Session, queued: 'queued' | 'coalesced' | 'full'): void {
    if (queued !== 'full') return;
    this.logFor(session, 'warn', 'agent sends reports faster than they can be recorded; closing its connection', { agentId: session.agentId, pending: session.work.pending });
    this.send(session, { type: 'error', v: PROTOCOL_VERSION, code: 'rate_limited', message: 'too many reports waiting to be recorded; the connection is closed (reconnect and send less often)' });
    this.closeSession(session, CLOSE.policy, 'too many pending reports', true);
  }

  /**
   * Decides to close a session: from now on its frames are dropped unread. An abusive session
   * (rate, protocol errors) is also no longer read at all — its close frame is sent, and the
   * connection is cut after a second if the agent does not finish the handshake — so a flood
   * already on its way costs nothing more to decode.
   */
  private closeSession(session: Session, code: number, reason: string, abusive = false): void {
    if (session.closing) return;
    session.closing = true;
    session.closedFor = `${code} ${reason}`;
    session.socket.close(code, reason);
    if (!abusive) return;
    session.socket.pause();
    setTimeout(() => session.socket.readyState !== WebSocket.CLOSED && session.socket.terminate(), 1000).unref();
  }

  /** A warning or error about one session, within its log budget (see SessionGuard.logLine). */
  private logFor(session: Session, level: 'warn' | 'error', message: string, fields: Record<string, unknown>): void {
    const allowed = session.guard.logLine({ agentId: session.agentId, ...fields });
    if (allowed) this.options.log(level, message, allowed);
  }

  /** A frame beyond the session's message rate: dropped; the agent is told once a minute, and closed (1008) when it keeps on. */
  private overRate(session: Session, verdict: 'drop' | 'drop-and-warn' | 'close'): void {
    const { messagesPerSecond, messageBurst } = this.limits;
    if (verdict === 'drop-and-warn') {
      this.logFor(session, 'warn', 'agent exceeds its message rate; dropping its messages', { limitPerSecond: messagesPerSecond, burst: messageBurst });
      this.send(session, { type: 'error', v: PROTOCOL_VERSION, code: 'rate_limited', message: `more than ${messagesPerSecond} messages a second (bursts of ${messageBurst}): messages are dropped; keep sending and the connection is closed` });
    } else if (verdict === 'close') {
      this.logFor(session, 'warn', 'agent kept exceeding its message rate; closing its connection', { dropped: session.guard.droppedThisMinute });
      this.closeSession(session, CLOSE.policy, 'message rate limit exceeded', true);
    }
  }

  private protocolError(session: Session, code: 'malformed' | 'unknown_type' | 'unsupported_version', message: string): void {
    this.logFor(session, 'warn', 'protocol error from agent', { code, error: message });
    this.send(session, { type: 'error', v: PROTOCOL_VERSION, code, message });
    if (session.guard.protocolError()) this.closeSession(session, CLOSE.tooManyErrors, 'too many protocol errors', true);
  }

  private onMessage(session: Session, raw: Buffer): void {
    const parsed = parseAgentMessage(raw);
    if (!parsed.ok) return this.protocolError(session, parsed.code, parsed.error);
    const msg = parsed.message;
    if (msg.type !== 'hello' && !session.helloSeen) {
      return this.protocolError(session, 'malformed', `${msg.type} before hello: send hello first`);
    }
    // Sequence numbers: a gap means messages were lost; ask for the full state (a new hello).
    if (msg.type !== 'hello' && msg.seq !== session.lastSeq + 1) {
      this.send(session, { type: 'requestFullState', v: PROTOCOL_VERSION, reason: `expected message ${session.lastSeq + 1}, got ${msg.seq}` });
    }
    session.lastSeq = msg.seq;
    this.handle(session, msg);
  }

  private handle(session: Session, msg: AgentMessage): void {
    const db = this.options.database.db;
    switch (msg.type) {
      case 'hello':
        session.helloSeen = true;
        session.name = msg.description.hostname;
        return this.agentWork(
          session,
          session.work.push(async () => {
            await recordAgentConnected(db, session.agentId, { replica: this.replicaId, description: msg.description, runningConfigHash: msg.configHash });
            session.configHash = msg.configHash;
            await this.pushConfig(session, await this.effectiveFor(session));
          }),
        );
      case 'configStatus':
        if (msg.status === 'applied') session.configHash = msg.configHash;
        if (msg.status === 'failed') this.logFor(session, 'warn', 'agent failed to apply its config', { configHash: msg.configHash, error: msg.error });
        return this.agentWork(
          session,
          session.work.push(() => recordConfigStatus(db, session.agentId, msg)),
        );
      case 'heartbeat': {
        // Counters are cumulative: a heartbeat still waiting is replaced by this one, losing nothing.
        const report = { msg, clockOffsetMs: Date.now() - Date.parse(msg.at) };
        return this.agentWork(
          session,
          session.work.pushLatest('heartbeat', report, (r) => recordHeartbeat(db, session.agentId, r.msg, r.clockOffsetMs)),
        );
      }
      case 'disconnect':
        this.options.log('info', 'agent says goodbye', { agentId: session.agentId, reason: msg.reason });
        this.closeSession(session, CLOSE.normal, 'bye');
        return;
    }
  }

  private publishedPipelines(): Promise<PublishedSet> {
    this.published ??= loadPublishedPipelines(this.options.database.db).then(
      (set) => {
        for (const b of set.broken) this.options.log('warn', 'published pipeline cannot be built; agents it selects keep their last good config', { pipeline: b.name, version: b.version, problem: b.problem });
        return set;
      },
      (err: unknown) => {
        this.published = null;
        throw err;
      },
    );
    return this.published;
  }

  private async effectiveFor(session: Session): Promise<AgentConfigBuild> {
    return buildAgentConfig(await this.publishedPipelines(), session.labels);
  }

  /**
   * Records the desired config and sends it unless the agent already runs it. When the config
   * cannot be built, nothing is sent: the agent keeps its last good config (and its WALs) and
   * the reason is recorded for the operator.
   */
  private async pushConfig(session: Session, build: AgentConfigBuild): Promise<void> {
    if (!build.ok) {
      await recordConfigBuildFailure(this.options.database.db, session.agentId, build.message);
      return;
    }
    const desired = build.effective;
    const status = await recordDesiredConfig(this.options.database.db, session.agentId, desired);
    if (session.configHash === desired.configHash) return;
    session.configHash = desired.configHash;
    this.options.log('info', 'sending config to agent', { agentId: session.agentId, configHash: desired.configHash, pipelines: desired.pipelines.map((p) => `${p.name}@v${p.version}`), status });
    this.send(session, { type: 'config', v: PROTOCOL_VERSION, configHash: desired.configHash, config: desired.config, pipelines: desired.pipelines });
  }

  private onChange(payload: string): void {
    const change = parseAgentChange(payload);
    if (!change) {
      this.options.log('warn', 'ignoring an unexpected change notification', { payload: payload.slice(0, 200) });
      return;
    }
    this.refreshing = this.refreshing.then(() => this.apply(change)).catch((err: unknown) => this.options.log('error', 'applying a change to agents failed', { err: describeDatabaseError(err) }));
  }

  private async apply(change: AgentChange): Promise<void> {
    if (change.kind === 'config') {
      this.published = null;
      // One push waiting per session however many changes come in: it builds from the latest set.
      for (const s of this.sessions.values()) if (s.helloSeen) s.work.pushLatest('push', null, async () => this.pushConfig(s, await this.effectiveFor(s)), { bounded: false });
      return;
    }
    const session = this.sessions.get(change.id);
    if (!session) return;
    if (change.removed) {
      this.send(session, { type: 'disconnect', v: PROTOCOL_VERSION, reason: 'this agent was removed from the fleet; enroll it again to bring it back' });
      this.closeSession(session, CLOSE.removed, 'removed');
      return;
    }
    this.serverWork(session, async () => {
      const labels = await currentAgentLabels(this.options.database.db, session.agentId);
      if (!labels) return;
      session.labels = labels;
      if (session.helloSeen) await this.pushConfig(session, await this.effectiveFor(session));
    });
  }

  /** After the LISTEN connection was lost: re-read everything a missed notification could have changed. */
  private resync(): void {
    this.options.log('info', 'change notifications resumed; resynchronising connected agents', { sessions: this.sessions.size });
    this.refreshing = this.refreshing
      .then(async () => {
        for (const s of this.sessions.values()) {
          const labels = await currentAgentLabels(this.options.database.db, s.agentId);
          if (!labels) await this.apply({ kind: 'agent', id: s.agentId, removed: true });
          else s.labels = labels;
        }
        await this.apply({ kind: 'config' });
      })
      .catch((err: unknown) => this.options.log('error', 'resynchronising agents failed', { err: describeDatabaseError(err) }));
  }

  private watchdog(): void {
    const now = Date.now();
    for (const s of this.sessions.values()) {
      if (now - s.lastMessageAt > this.silentMs) {
        this.options.log('warn', 'agent missed its heartbeats; closing its connection', { agentId: s.agentId, silentMs: now - s.lastMessageAt });
        s.closing = true;
        s.socket.terminate();
      } else if (s.socket.readyState === WebSocket.OPEN) {
        s.socket.ping();
      }
    }
    // Agents whose replica died without closing their sessions.
    markSilentAgentsOffline(this.options.database.db, this.silentMs).then(
      (ids) => ids.length && this.options.log('info', 'marked silent agents offline', { agents: ids.length }),
      (err: unknown) => this.options.log('warn', 'marking silent agents offline failed', { err: describeDatabaseError(err) }),
    );
  }

  /**
   * Stops accepting agents and closes every session with a `disconnect` that tells each agent
   * to come back after a random delay (so a restart is not met by the whole fleet at once).
   */
  async close(): Promise<void> {
    this.draining = true;
    clearInterval(this.timer);
    await this.unlisten?.().catch(() => undefined);
    const sessions = [...this.sessions.values()];
    for (const s of sessions) {
      this.send(s, { type: 'disconnect', v: PROTOCOL_VERSION, reason: 'the control plane is restarting', retryAfterMs: 1000 + Math.floor(Math.random() * 9000) });
      this.closeSession(s, CLOSE.goingAway, 'server shutting down');
    }
    await Promise.all(sessions.map((s) => s.work.idle()));
    await releaseReplicaAgents(this.options.database.db, this.replicaId, sessions.map((s) => s.agentId)).catch(() => undefined);
    this.sessions.clear();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
  }
}

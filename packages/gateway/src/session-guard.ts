import { TokenBucket } from './rate-limit.js';

/** The limits one agent session is held to (see AgentChannelOptions). */
export interface SessionLimits {
  /** Sustained messages per second. */
  messagesPerSecond: number;
  /** Messages at once. */
  messageBurst: number;
  /** Frames dropped for the rate within a minute before the session is closed. */
  maxDroppedPerMinute: number;
  /** Protocol errors within a minute before the session is closed. */
  maxErrorsPerMinute: number;
  /** Warning and error log lines at once, and their sustained rate per minute. */
  logBurst: number;
  logLinesPerMinute: number;
}

/** The default limits: generous for an agent sending a heartbeat every 1–15 s and a few config statuses per config. */
export const DEFAULT_SESSION_LIMITS: SessionLimits = { messagesPerSecond: 5, messageBurst: 200, maxDroppedPerMinute: 100, maxErrorsPerMinute: 20, logBurst: 10, logLinesPerMinute: 10 };

/** What to do with a frame: handle it, drop it, drop it and tell the agent (first drop of the minute), or close the session. */
export type FrameVerdict = 'accept' | 'drop' | 'drop-and-warn' | 'close';

/** A one-minute window counter. */
class MinuteCount {
  private start = Number.NEGATIVE_INFINITY;
  count = 0;

  constructor(private readonly now: () => number) {}

  /** Counts one; true when it is the first of its window. */
  add(): boolean {
    const now = this.now();
    const fresh = now - this.start > 60_000;
    if (fresh) {
      this.start = now;
      this.count = 0;
    }
    this.count++;
    return fresh;
  }
}

/**
 * Keeps one session within its limits, in O(1) per frame: a token bucket for its message rate
 * (frames beyond are dropped unread; the agent is told once a minute; past
 * `maxDroppedPerMinute` the session is closed), a count of its protocol errors, and a budget
 * for its log lines so that one agent cannot flood the log (lines beyond the budget are
 * counted, and the count goes with the next line that is written).
 */
export class SessionGuard {
  private readonly rate: TokenBucket;
  private readonly logBudget: TokenBucket;
  private readonly dropped: MinuteCount;
  private readonly errors: MinuteCount;
  /** Log lines left out since the last one written. */
  suppressedLogLines = 0;

  constructor(
    readonly limits: SessionLimits,
    now: () => number = Date.now,
  ) {
    this.rate = new TokenBucket(limits.messageBurst, limits.messagesPerSecond, now);
    this.logBudget = new TokenBucket(limits.logBurst, limits.logLinesPerMinute / 60, now);
    this.dropped = new MinuteCount(now);
    this.errors = new MinuteCount(now);
  }

  /** Counts a frame against the rate and says what to do with it. */
  frame(): FrameVerdict {
    if (this.rate.take() === 0) return 'accept';
    const first = this.dropped.add();
    if (this.dropped.count >= this.limits.maxDroppedPerMinute) return 'close';
    return first ? 'drop-and-warn' : 'drop';
  }

  /** Frames dropped for the rate in the current minute. */
  get droppedThisMinute(): number {
    return this.dropped.count;
  }

  /** Counts a protocol error; true when the session has had too many this minute and must be closed. */
  protocolError(): boolean {
    this.errors.add();
    return this.errors.count > this.limits.maxErrorsPerMinute;
  }

  /**
   * Whether a log line may be written now; when it may, `fields` gain `suppressedLogLines`
   * (the lines left out before it), else the line is counted as left out.
   */
  logLine(fields: Record<string, unknown>): Record<string, unknown> | undefined {
    if (this.logBudget.take() > 0) {
      this.suppressedLogLines++;
      return undefined;
    }
    const suppressed = this.suppressedLogLines;
    this.suppressedLogLines = 0;
    return suppressed ? { ...fields, suppressedLogLines: suppressed } : fields;
  }
}

import { describe, expect, it } from 'vitest';
import { KeyedTokenBuckets, TokenBucket } from './rate-limit.js';
import { SessionGuard, DEFAULT_SESSION_LIMITS } from './session-guard.js';

describe('TokenBucket', () => {
  it('passes a burst of `capacity`, then the sustained rate, and says how long to wait', () => {
    let now = 0;
    const bucket = new TokenBucket(3, 2, () => now);
    expect([bucket.take(), bucket.take(), bucket.take()]).toEqual([0, 0, 0]);
    expect(bucket.take()).toBe(500);
    now = 500;
    expect(bucket.take()).toBe(0);
    expect(bucket.take()).toBe(500);
    now = 100_000;
    expect(bucket.full).toBe(true);
  });

  it('keyed buckets are independent and their memory is bounded', () => {
    const now = 0;
    const buckets = new KeyedTokenBuckets(1, 1, () => now, 100);
    expect([buckets.take('a'), buckets.take('a'), buckets.take('b')]).toEqual([0, 1000, 0]);
    for (let i = 0; i < 1000; i++) buckets.take(`k${i}`);
    expect(buckets.size).toBeLessThanOrEqual(100);
  });
});

describe('SessionGuard', () => {
  it('drops frames beyond the rate, warns once a minute, closes past the limit', () => {
    let now = 0;
    const guard = new SessionGuard({ ...DEFAULT_SESSION_LIMITS, messageBurst: 2, messagesPerSecond: 1, maxDroppedPerMinute: 4 }, () => now);
    expect([guard.frame(), guard.frame(), guard.frame(), guard.frame(), guard.frame(), guard.frame()]).toEqual(['accept', 'accept', 'drop-and-warn', 'drop', 'drop', 'close']);
    now = 61_000;
    expect([guard.frame(), guard.frame(), guard.frame()]).toEqual(['accept', 'accept', 'drop-and-warn']);
  });

  it('writes 10 log lines at once, then counts the ones left out and reports them with the next', () => {
    let now = 0;
    const guard = new SessionGuard(DEFAULT_SESSION_LIMITS, () => now);
    const written = Array.from({ length: 15 }, () => guard.logLine({ n: 1 })).filter(Boolean);
    expect(written).toHaveLength(10);
    now = 6_000;
    expect(guard.logLine({ n: 2 })).toEqual({ n: 2, suppressedLogLines: 5 });
  });
});

import { describe, expect, it } from 'vitest';
import { LOCKOUT, lockDurationMs, lockedMessage } from './lockout.js';

describe('lockout numbers', () => {
  it('locks after 10 failures for 15 minutes, then 30, then an hour at most', () => {
    expect(LOCKOUT.failures).toBe(10);
    expect([1, 2, 3, 4, 10].map((n) => lockDurationMs(n) / 60_000)).toEqual([15, 30, 60, 60, 60]);
  });

  it('says when to retry, rounding up to whole minutes', () => {
    const now = new Date('2026-01-01T10:00:00Z');
    expect(lockedMessage(new Date('2026-01-01T10:14:01Z'), now)).toBe('This account is locked after 10 failed sign-ins. Try again after 2026-01-01 10:15 UTC (in 15 minutes), or ask an admin to unlock it.');
    expect(lockedMessage(new Date('2026-01-01T10:00:20Z'), now)).toContain('(in 1 minute)');
  });
});

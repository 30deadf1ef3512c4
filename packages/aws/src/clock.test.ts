import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { CLOCK_CORRECTION_THRESHOLD_MS, ClockOffset } from './clock.js';

/** A local clock the test moves by hand (ms since epoch). */
function manualClock(start: number): { now: () => number; set(ms: number): void; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    set: (ms) => (t = ms),
    advance: (ms) => (t += ms),
  };
}

/** What a server whose clock reads `ms` puts in its `Date` header (RFC 7231, whole seconds). */
const dateHeader = (ms: number): string => new Date(ms).toUTCString();

const T0 = Date.parse('2026-03-01T12:00:00.000Z');
const MIN = 60_000;

describe('ClockOffset', () => {
  it('starts with no offset and signs with the local clock', () => {
    const clock = manualClock(T0 + 123);
    const offset = new ClockOffset(clock.now);
    expect(offset.offsetMs).toBe(0);
    expect(offset.appliedOffsetMs).toBe(0);
    expect(offset.signingDate().getTime()).toBe(T0 + 123);
    clock.advance(5_000);
    expect(offset.signingDate().getTime()).toBe(T0 + 5_123);
  });

  it('measures server − local from a Date header, against the middle of the header’s second', () => {
    const clock = manualClock(T0);
    const offset = new ClockOffset(clock.now);
    // Server is 10 s ahead; its header truncates to the second, so the estimate is +10.5 s.
    offset.observe(dateHeader(T0 + 10_000));
    expect(offset.offsetMs).toBe(10_500);
    // Server 10 s behind.
    offset.observe(dateHeader(T0 - 10_000));
    expect(offset.offsetMs).toBe(-9_500);
    // Any form Date.parse understands is accepted (here ISO 8601 with whole seconds).
    offset.observe(new Date(T0 + 3_000).toISOString());
    expect(offset.offsetMs).toBe(3_500);
  });

  it('measures but does not apply offsets below the threshold', () => {
    const clock = manualClock(T0);
    const offset = new ClockOffset(clock.now);
    offset.observe(dateHeader(T0 + 30_000));
    expect(offset.offsetMs).toBe(30_500);
    expect(offset.appliedOffsetMs).toBe(0);
    expect(offset.signingDate().getTime()).toBe(T0);
    offset.observe(dateHeader(T0 - 45_000));
    expect(offset.offsetMs).toBe(-44_500);
    expect(offset.appliedOffsetMs).toBe(0);
    expect(offset.signingDate().getTime()).toBe(T0);
  });

  it('applies offsets of at least 60 s (both signs), exactly from the threshold on', () => {
    expect(CLOCK_CORRECTION_THRESHOLD_MS).toBe(60_000);
    const clock = manualClock(T0);
    const offset = new ClockOffset(clock.now);

    // Just below: 59 999 ms measured (local = server + 500 − 59 999).
    clock.set(T0 - 59_499);
    offset.observe(dateHeader(T0));
    expect(offset.offsetMs).toBe(59_999);
    expect(offset.appliedOffsetMs).toBe(0);

    // Exactly the threshold.
    clock.set(T0 - 59_500);
    offset.observe(dateHeader(T0));
    expect(offset.offsetMs).toBe(60_000);
    expect(offset.appliedOffsetMs).toBe(60_000);
    expect(offset.signingDate().getTime()).toBe(T0 - 59_500 + 60_000);

    // Server 10 minutes ahead.
    clock.set(T0);
    offset.observe(dateHeader(T0 + 10 * MIN));
    expect(offset.appliedOffsetMs).toBe(10 * MIN + 500);
    expect(offset.signingDate().getTime()).toBe(T0 + 10 * MIN + 500);
    // The correction follows the local clock.
    clock.advance(1_234);
    expect(offset.signingDate().getTime()).toBe(T0 + 1_234 + 10 * MIN + 500);

    // Server 7 minutes behind (local clock fast).
    clock.set(T0);
    offset.observe(dateHeader(T0 - 7 * MIN));
    expect(offset.appliedOffsetMs).toBe(-7 * MIN + 500);
    expect(offset.signingDate().getTime()).toBe(T0 - 7 * MIN + 500);
  });

  it('applyMeasured() applies whatever was measured, however small', () => {
    const clock = manualClock(T0);
    const offset = new ClockOffset(clock.now);
    offset.observe(dateHeader(T0 + 4_000));
    expect(offset.appliedOffsetMs).toBe(0);
    offset.applyMeasured();
    expect(offset.appliedOffsetMs).toBe(4_500);
    expect(offset.signingDate().getTime()).toBe(T0 + 4_500);
    // Without any measurement it applies 0.
    const fresh = new ClockOffset(clock.now);
    fresh.applyMeasured();
    expect(fresh.appliedOffsetMs).toBe(0);
  });

  it('drops an applied correction once the clocks agree again (within 2 s)', () => {
    const clock = manualClock(T0);
    const offset = new ClockOffset(clock.now);
    offset.observe(dateHeader(T0 + 10 * MIN));
    expect(offset.appliedOffsetMs).toBe(10 * MIN + 500);
    // NTP fixed the host clock: the next response shows ~0.5 s.
    clock.set(T0 + 10 * MIN + 20_000);
    offset.observe(dateHeader(T0 + 10 * MIN + 20_000));
    expect(offset.offsetMs).toBe(500);
    expect(offset.appliedOffsetMs).toBe(0);
    expect(offset.signingDate().getTime()).toBe(T0 + 10 * MIN + 20_000);
  });

  it('applies a small offset only until the next measurement (applyMeasured is for rejections, which need > 5 min)', () => {
    const clock = manualClock(T0);
    const offset = new ClockOffset(clock.now);
    offset.observe(dateHeader(T0 + 20_000));
    offset.applyMeasured();
    expect(offset.appliedOffsetMs).toBe(20_500);
    offset.observe(dateHeader(T0 + 25_000));
    expect(offset.offsetMs).toBe(25_500);
    expect(offset.appliedOffsetMs).toBe(0);
  });

  // Regression test for a fixed bug (packages/aws/src/clock.ts, observe(), the `else if` branch): once a large offset is applied,
  // a later measurement between 2 s and 60 s leaves the stale large offset applied. E.g. applied
  // +600.5 s, then the host clock is stepped by NTP so the next Date header shows +30.5 s: signing
  // dates stay +600.5 s off local time, i.e. +570 s off AWS's clock, and every request is rejected
  // ("Signature not yet current") until a rejection triggers applyMeasured(). The clock knows the
  // server time to within a second and still signs 9.5 minutes off.
  it('never signs with a correction that the latest measurement shows to be > 5 min off AWS (stale applied offset)', () => {
    const clock = manualClock(T0);
    const offset = new ClockOffset(clock.now);
    offset.observe(dateHeader(T0 + 10 * MIN));
    expect(offset.appliedOffsetMs).toBe(10 * MIN + 500);
    // The host clock is stepped forward by 9.5 min; the server is now only ~30 s ahead.
    const local = T0 + 9.5 * MIN;
    clock.set(local);
    const server = local + 30_000;
    offset.observe(dateHeader(server));
    expect(offset.offsetMs).toBe(30_500);
    // AWS accepts signatures within 5 minutes of its clock.
    expect(Math.abs(offset.signingDate().getTime() - server)).toBeLessThanOrEqual(5 * MIN);
  });

  it('uses the midpoint between sentAt and the response when sentAt is given', () => {
    const clock = manualClock(T0 + 2_000);
    const offset = new ClockOffset(clock.now);
    // Sent at T0, answered at T0+2 s; the server stamped T0+1 s (its clock equals ours): the
    // midpoint T0+1 s against the middle of the header second (T0+1.5 s) gives +0.5 s.
    offset.observe(dateHeader(T0 + 1_000), T0);
    expect(offset.offsetMs).toBe(500);
    // Without sentAt the response time (T0+2 s) is compared: T0+1.5 s − T0+2 s = −0.5 s.
    offset.observe(dateHeader(T0 + 1_000));
    expect(offset.offsetMs).toBe(-500);
    // A slow round trip (20 s) to a server 10 minutes ahead: the midpoint keeps the estimate centred.
    clock.set(T0 + 20_000);
    offset.observe(dateHeader(T0 + 10_000 + 10 * MIN), T0);
    expect(offset.offsetMs).toBe(10 * MIN + 500);
    expect(offset.appliedOffsetMs).toBe(10 * MIN + 500);
  });

  it('rounds the midpoint to whole milliseconds', () => {
    const clock = manualClock(T0 + 1);
    const offset = new ClockOffset(clock.now);
    offset.observe(dateHeader(T0), T0); // midpoint T0 + 0.5 ms → 499.5 → 500
    expect(Number.isInteger(offset.offsetMs)).toBe(true);
    expect(offset.offsetMs).toBe(500);
  });

  it('ignores missing and unparseable Date headers', () => {
    const clock = manualClock(T0);
    const offset = new ClockOffset(clock.now);
    offset.observe(dateHeader(T0 + 10 * MIN));
    const measured = offset.offsetMs;
    const applied = offset.appliedOffsetMs;
    for (const garbage of [null, undefined, '', 'not a date', 'Thu, 99 Foo 2026 99:99:99 GMT', '   ']) {
      offset.observe(garbage, T0 - 1_000);
      expect(offset.offsetMs, String(garbage)).toBe(measured);
      expect(offset.appliedOffsetMs, String(garbage)).toBe(applied);
    }
    expect(offset.signingDate().getTime()).toBe(T0 + 10 * MIN + 500);
  });

  it('learns the offset from a real HTTP response Date header', async () => {
    // A server whose clock is 10 minutes ahead of ours.
    const server = createServer((_req, res) => {
      res.setHeader('date', dateHeader(Date.now() + 10 * MIN));
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const offset = new ClockOffset();
      const sentAt = Date.now();
      const res = await fetch(`http://127.0.0.1:${port}/`);
      await res.text();
      offset.observe(res.headers.get('date'), sentAt);
      // Whole-second header: the estimate is within ±0.5 s (+ the round trip) of 10 minutes.
      expect(Math.abs(offset.offsetMs - 10 * MIN)).toBeLessThanOrEqual(1_500);
      expect(offset.appliedOffsetMs).toBe(offset.offsetMs);
      expect(Math.abs(offset.signingDate().getTime() - (Date.now() + 10 * MIN))).toBeLessThanOrEqual(1_500);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

/** Above this the local clock is corrected before signing (AWS rejects signatures off by > 5 min). */
export const CLOCK_CORRECTION_THRESHOLD_MS = 60_000;

/**
 * The offset between AWS's clock and ours, learnt from response `Date` headers like the AWS
 * SDK's `systemClockOffset`. `offsetMs` is always the latest measurement (for the gauge);
 * signatures use it once it exceeds {@link CLOCK_CORRECTION_THRESHOLD_MS}, or after a request
 * was rejected for skew.
 */
export class ClockOffset {
  /** server time − local time, as last measured (ms; the Date header has 1 s resolution). */
  offsetMs = 0;
  private applied = 0;

  constructor(private readonly localNow: () => number = Date.now) {}

  /** The date to sign with. */
  signingDate(): Date {
    return new Date(this.localNow() + this.applied);
  }

  /** The offset signatures currently use. */
  get appliedOffsetMs(): number {
    return this.applied;
  }

  /**
   * Records a response's `Date` header. `sentAtMs` is the local time the request was sent;
   * the midpoint between send and now is compared with the server's time.
   */
  observe(dateHeader: string | null | undefined, sentAtMs?: number): void {
    if (!dateHeader) return;
    const server = Date.parse(dateHeader);
    if (Number.isNaN(server)) return;
    const now = this.localNow();
    const local = sentAtMs === undefined ? now : (sentAtMs + now) / 2;
    // The header truncates to whole seconds: compare with the middle of that second.
    this.offsetMs = Math.round(server + 500 - local);
    // The measurement is against the uncorrected local clock, so it is stable: follow it (a
    // stepped host clock must not leave an old correction in place), ignoring small offsets.
    this.applied = Math.abs(this.offsetMs) >= CLOCK_CORRECTION_THRESHOLD_MS ? this.offsetMs : 0;
  }

  /** After a skew rejection: use the measured offset now, whatever its size. */
  applyMeasured(): void {
    this.applied = this.offsetMs;
  }
}

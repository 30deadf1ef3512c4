/**
 * A token bucket: holds up to `capacity` tokens (the burst), refilled continuously at
 * `perSecond`; each event spends one. Bursts up to the capacity pass at once, the sustained rate
 * is `perSecond`.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  private refill(): void {
    const now = this.now();
    if (now > this.last) this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
  }

  /** Spends a token: 0 when there was one, else the ms until there is one (nothing spent). */
  take(): number {
    this.refill();
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil(((1 - this.tokens) / this.perSecond) * 1000));
  }

  /** True when the bucket is full again (nothing spent that has not been refilled). */
  get full(): boolean {
    this.refill();
    return this.tokens >= this.capacity;
  }
}

/**
 * Token buckets by key (source address, token hash, agent id), each `capacity` tokens refilled
 * at `perSecond`. Memory is bounded: past `maxKeys`, full buckets are forgotten (they hold no
 * state), then the oldest.
 */
export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    readonly capacity: number,
    readonly perSecond: number,
    private readonly now: () => number = Date.now,
    private readonly maxKeys = 10_000,
  ) {}

  /** Spends a token of `key`'s bucket: 0, or the ms to wait when it is empty (nothing spent). */
  take(key: string): number {
    let bucket = this.buckets.get(key);
    if (!bucket) {
      if (this.buckets.size >= this.maxKeys) this.prune();
      bucket = new TokenBucket(this.capacity, this.perSecond, this.now);
      this.buckets.set(key, bucket);
    }
    return bucket.take();
  }

  /** Keys tracked now (for tests and metrics). */
  get size(): number {
    return this.buckets.size;
  }

  private prune(): void {
    for (const [k, b] of this.buckets) if (b.full) this.buckets.delete(k);
    const excess = this.buckets.size - Math.floor(this.maxKeys * 0.9);
    if (excess <= 0) return;
    let n = 0;
    for (const k of this.buckets.keys()) {
      if (n++ >= excess) break;
      this.buckets.delete(k);
    }
  }
}

/** A per-minute limit as a token bucket: bursts of `perMinute`, refilled at `perMinute` a minute. */
export function perMinute(perMinute: number, now: () => number = Date.now): KeyedTokenBuckets {
  return new KeyedTokenBuckets(perMinute, perMinute / 60, now);
}

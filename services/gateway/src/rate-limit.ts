/**
 * Token bucket per key (a device): `rate` tokens per second up to `burst`. In memory on each gateway:
 * a device holds one socket at a time (a second connection replaces the first), so its sends go
 * through one gateway and a local bucket is an exact per-device limit.
 */
export class TokenBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token; returns 0 when allowed, else the seconds to wait (rounded up, at least 1). */
  take(key: string, cost = 1): number {
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= cost) {
      b.tokens -= cost;
      return 0;
    }
    if (this.rate <= 0) return 60;
    return Math.max(1, Math.ceil((cost - b.tokens) / this.rate));
  }

  /** Drops full buckets (they carry no state worth keeping) so the map does not grow forever. */
  sweep(): void {
    const t = this.now();
    for (const [k, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(k);
    }
  }
}

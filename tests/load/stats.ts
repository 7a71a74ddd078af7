/**
 * Bookkeeping shared by both paths of the load test (gateway and raw JetStream), so the two are
 * counted by the same code: one ledger entry per message id from send to first delivery.
 */

/** Latency samples kept for percentiles; beyond this the recorder keeps every k-th sample. */
export const MAX_LATENCY_SAMPLES = 2_000_000;

/** Exact percentiles over the recorded samples (sorted once, at the end of a phase). */
export class LatencyRecorder {
  private samples: number[] = [];
  private sorted = true;
  private maxMs = 0;
  private stride = 1;
  private seen = 0;
  count = 0;

  add(ms: number): void {
    this.count++;
    if (ms > this.maxMs) this.maxMs = ms;
    this.seen++;
    if (this.seen % this.stride !== 0) return;
    if (this.samples.length >= MAX_LATENCY_SAMPLES) {
      // Halve the sample set and the sampling rate: percentiles stay unbiased, memory bounded.
      this.samples = this.samples.filter((_, i) => i % 2 === 0);
      this.stride *= 2;
    }
    this.samples.push(ms);
    this.sorted = false;
  }

  /** p in [0, 100]; nearest-rank method. NaN when there are no samples. */
  percentile(p: number): number {
    if (this.samples.length === 0) return Number.NaN;
    if (!this.sorted) {
      this.samples.sort((a, b) => a - b);
      this.sorted = true;
    }
    const rank = Math.ceil((p / 100) * this.samples.length);
    return this.samples[Math.min(this.samples.length - 1, Math.max(0, rank - 1))]!;
  }

  get max(): number {
    return this.samples.length === 0 ? Number.NaN : this.maxMs;
  }

  summary(): { p50: number; p95: number; p99: number; max: number } {
    return { p50: this.percentile(50), p95: this.percentile(95), p99: this.percentile(99), max: this.max };
  }
}

interface Entry {
  sentAt: number;
  accepted: boolean;
  rejected: boolean;
  delivered: boolean;
}

/**
 * Every message by id: sent -> accepted (stored, acked to the sender) -> delivered (first time the
 * receiving client sees it). A second delivery of the same id is a wire-level redelivery; the user
 * would see it only if the client did not dedupe by id, so both are counted.
 */
export class DeliveryLedger {
  private readonly entries = new Map<string, Entry>();
  readonly latency = new LatencyRecorder();
  sent = 0;
  accepted = 0;
  rejected = 0;
  delivered = 0;
  /** Deliveries of an id already delivered (wire redeliveries, removed by client-side dedupe). */
  redelivered = 0;
  /** Deliveries of an id this ledger never sent (would be a bug or another run's leftovers). */
  unknown = 0;
  readonly rejectCodes = new Map<string, number>();

  constructor(private readonly now: () => number = () => performance.now()) {}

  /** Messages sent and neither delivered nor rejected: what the in-flight window counts. */
  get inFlight(): number {
    return this.sent - this.delivered - this.rejected;
  }

  markSent(id: string): void {
    this.entries.set(id, { sentAt: this.now(), accepted: false, rejected: false, delivered: false });
    this.sent++;
  }

  markAccepted(id: string): void {
    const e = this.entries.get(id);
    if (!e || e.accepted) return;
    e.accepted = true;
    this.accepted++;
  }

  /** The server refused it (never stored): not lost, but not delivered either. */
  markRejected(id: string, code: string): void {
    const e = this.entries.get(id);
    this.rejectCodes.set(code, (this.rejectCodes.get(code) ?? 0) + 1);
    if (!e || e.rejected || e.delivered || e.accepted) return;
    e.rejected = true;
    this.rejected++;
  }

  /** Returns true for the first delivery of this id (the one the user sees). */
  markDelivered(id: string): boolean {
    const e = this.entries.get(id);
    if (!e) {
      this.unknown++;
      return false;
    }
    if (e.delivered) {
      this.redelivered++;
      return false;
    }
    e.delivered = true;
    // A delivery can arrive before the sender's ack frame; it was stored all the same.
    if (e.rejected) {
      e.rejected = false;
      this.rejected--;
    }
    this.delivered++;
    this.latency.add(this.now() - e.sentAt);
    return true;
  }

  /** Accepted (acked to the sender) and never delivered. Must be 0. */
  lostIds(): string[] {
    const out: string[] = [];
    for (const [id, e] of this.entries) if (e.accepted && !e.delivered) out.push(id);
    return out;
  }

  /** Sent, neither accepted nor rejected nor delivered (no answer at all, e.g. the socket died). */
  unansweredIds(): string[] {
    const out: string[] = [];
    for (const [id, e] of this.entries) if (!e.accepted && !e.rejected && !e.delivered) out.push(id);
    return out;
  }
}

/** Compact unique message ids that match MESSAGE_ID_PATTERN (8-64 of [A-Za-z0-9_-]). */
export function messageIdFactory(runTag: string): () => string {
  let n = 0;
  const tag = runTag.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 16);
  return () => `${tag}-${(n++).toString(36).padStart(7, '0')}`;
}

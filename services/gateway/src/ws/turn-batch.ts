/**
 * Work queued during one turn of the event loop and done together at its end (`setImmediate`,
 * after every socket that was readable in this turn was read).
 *
 * Why: nats.js writes its outbound buffer to the broker's socket in a microtask after the first
 * command, and Node drains microtasks after every socket read. At full load the gateway reads a
 * client frame per read, so each envelope publish and each JetStream ack became a write syscall of
 * its own (~16 % of the gateway's CPU in a profile; docs/BENCHMARKS.md). Issued together, the
 * commands of a turn leave in one write. The delay is at most one turn of the loop.
 */
export class TurnBatch<T> {
  private items: T[] = [];
  private scheduled = false;

  constructor(
    private readonly run: (item: T) => void,
    /** One item failed (the others still run). */
    private readonly onError: (e: unknown) => void = () => undefined,
  ) {}

  add(item: T): void {
    this.items.push(item);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.flush);
    }
  }

  get size(): number {
    return this.items.length;
  }

  /** Does everything queued now (the end of the turn, or a shutdown that must not lose it). */
  readonly flush = (): void => {
    this.scheduled = false;
    const items = this.items;
    if (items.length === 0) return;
    this.items = [];
    for (const item of items) {
      try {
        this.run(item);
      } catch (e) {
        this.onError(e);
      }
    }
  };
}

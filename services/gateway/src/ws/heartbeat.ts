/** Something pinged on every sweep (a `Connection`). */
export interface Beating {
  beat(): void;
}

const sweeps = new WeakMap<object, HeartbeatSweep>();

/**
 * One interval timer pings every socket of a gateway, instead of one interval per socket: tens of
 * thousands of idle sockets then cost no timer each (docs/SCALING.md). A socket that joins between
 * two sweeps is first pinged at the next one, so "two intervals without a pong" closes it after
 * between two and three intervals. The sweep runs only while it has members.
 */
export class HeartbeatSweep {
  private readonly members = new Set<Beating>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs: number) {}

  /** The sweep shared by every connection built with this (gateway's) config object. */
  static for(config: { heartbeatMs: number }): HeartbeatSweep {
    let s = sweeps.get(config);
    if (!s) {
      s = new HeartbeatSweep(config.heartbeatMs);
      sweeps.set(config, s);
    }
    return s;
  }

  get size(): number {
    return this.members.size;
  }

  add(c: Beating): void {
    this.members.add(c);
    if (!this.timer) {
      this.timer = setInterval(() => {
        for (const m of this.members) m.beat();
      }, this.intervalMs);
      this.timer.unref?.();
    }
  }

  delete(c: Beating): void {
    this.members.delete(c);
    if (this.members.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }
}

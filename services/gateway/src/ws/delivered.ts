import type { JsMsg } from '@nats-io/jetstream';
import type { MailboxMessage } from './context.js';

/** What a delivery reports to the mailbox it came from (a `LazyMailbox`). */
export interface DeliveredOwner {
  /** A delivery of consumer generation `gen` was acked, nak'd or termed. */
  settled(gen: number): void;
  /** Queues the JetStream ack of `m` with the turn's other NATS commands. */
  ackLater(m: JsMsg): void;
}

/**
 * One delivery handed to the connection, settled at most once. A class rather than an object of
 * closures: this runs once per message, and under tsx's keepNames every closure also gets a `name`
 * property (the profile showed `__name` and the garbage collector on this path).
 */
export class Delivered implements MailboxMessage {
  readonly seq: number;
  readonly data: Uint8Array;
  private done = false;

  constructor(
    private readonly box: DeliveredOwner,
    private readonly m: JsMsg,
    private readonly gen: number,
  ) {
    this.seq = m.seq;
    this.data = m.data;
  }

  json<T>(): T {
    return this.m.json<T>();
  }

  ack(): void {
    if (this.settle()) this.box.ackLater(this.m);
  }

  nak(): void {
    if (this.settle()) this.m.nak();
  }

  term(): void {
    if (this.settle()) this.m.term();
  }

  private settle(): boolean {
    if (this.done) return false;
    this.done = true;
    this.box.settled(this.gen);
    return true;
  }
}

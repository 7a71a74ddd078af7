import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type Subscription } from '@nats-io/transport-node';
import { MAILBOX_MAX_FAILURES, MAX_ACK_PENDING, PULL_BATCH, PULL_EXPIRES_MS, STALE_CONSUMER_MS } from '../constants.js';
import type { MailboxMessage, MailboxStream } from './context.js';
import { Delivered } from './delivered.js';
import type { MailboxPool } from './mailbox-pool.js';
import { StatusQueue } from './status-queue.js';

type Waiter = (v: IteratorResult<MailboxMessage>) => void;

/**
 * A device's mailbox as a `MailboxStream`, holding a JetStream consumer only while the device has
 * something to read (docs/SCALING.md, "An idle device costs a subscription").
 *
 * - **Idle** (the usual state of a connected device): no consumer, no pull requests. A core NATS
 *   subscription on the device's own subject `mbox.<user>.<device>` hears every envelope
 *   published to it (core NATS delivers to subscribers and to the stream alike); a few hundred
 *   bytes in the broker instead of a durable consumer's tens of kB.
 * - **Active**: a durable pull consumer (work-queue stream, one filter subject, as before:
 *   docs/ARCHITECTURE.md 8, 13) streams the backlog and live traffic; the subscription is dropped
 *   meanwhile so each envelope crosses the wire to the gateway once.
 * - **Back to idle** after MAILBOX_IDLE_MS with nothing delivered, acked or outstanding:
 *   subscribe first (and flush, so the server knows), then delete the consumer, then look for
 *   any envelope still stored on the subject. An envelope stored before the subscription existed
 *   is found by that look; one stored after is heard. Either reactivates. Nothing stored is ever
 *   skipped, because the stream (work queue) keeps every envelope until a consumer acks it.
 *
 * At-least-once is unchanged: an envelope leaves the stream only when the client acked it; a
 * delivery whose ack raced the consumer's deletion comes again (the client dedupes by id).
 */
export class LazyMailbox implements MailboxStream {
  private sub: Subscription | undefined;
  private inner: ConsumerMessages | undefined;
  private it: AsyncIterator<JsMsg> | undefined;
  /** Heard a publish (or a failover) while a transition was running: look again after it. */
  private dirty = false;
  /** A delete of this mailbox's consumer failed: the next activation must delete it first. */
  private mustDelete = false;
  /** JetStream calls that failed in a row (retryOrFail). */
  private failures = 0;
  private transition: Promise<void> | undefined;
  private closed = false;
  /** Deliveries handed out by the current consumer and not yet acked, nak'ed or term'ed. */
  private outstanding = 0;
  /** Bumped with every consumer: handles of an older one no longer count as outstanding. */
  private generation = 0;
  /** The iterator a `next()` is pending on (at most one at a time). */
  private pulling: AsyncIterator<JsMsg> | undefined;
  private lastActivity = performance.now();
  private waiter: Waiter | undefined;
  private readonly statuses = new StatusQueue();

  private constructor(
    private readonly pool: MailboxPool,
    readonly subject: string,
    private readonly consumerName: string,
  ) {}

  static async open(pool: MailboxPool, subject: string, consumerName: string): Promise<LazyMailbox> {
    const m = new LazyMailbox(pool, subject, consumerName);
    m.listen();
    await pool.d.nc.flush();
    try {
      if (await m.hasBacklog()) await m.activate(true);
      else pool.recheckLater(m);
    } catch (e) {
      // JetStream unavailable for a moment (an election after a node died): the subscription is in
      // place, so the socket can open and the mailbox looks again shortly (retryOrFail).
      m.retryOrFail(e);
    }
    return m;
  }

  /** The pool's delayed look (see MailboxPool.recheckLater). */
  recheckNow(): void {
    if (this.closed || this.transition || this.inner) return;
    void this.run(() => (this.dirty ? this.activate(false) : this.recheck()));
  }

  get isActive(): boolean {
    return this.inner !== undefined;
  }

  private listen(): void {
    if (this.sub) return;
    // A bound method, not an arrow function: one fewer closure and context per idle mailbox (and
    // under tsx's keepNames, no property store for its name; docs/BENCHMARKS.md, "Where an idle
    // socket's heap goes").
    this.sub = this.pool.d.nc.subscribe(this.subject, { callback: this.onNotice.bind(this) });
  }

  /** Something was published on this device's mailbox subject. */
  private onNotice(err: Error | null): void {
    if (!err) this.poke();
  }

  private unlisten(): void {
    this.sub?.unsubscribe();
    this.sub = undefined;
  }

  /** Something may have been stored: make sure a consumer reads it. */
  poke(): void {
    if (this.closed) return;
    this.dirty = true;
    if (!this.transition && !this.inner) void this.run(() => this.activate(false));
  }

  /**
   * After a NATS reconnect: an active consumer is recreated (an envelope lost in transit in the
   * failover comes back at once, not after the ack wait: docs/ARCHITECTURE.md 25); an idle
   * mailbox looks for what was stored while the subscription was down.
   */
  refresh(): void {
    if (this.closed) return;
    this.dirty = true;
    if (!this.transition) void this.run(() => (this.inner ? this.activate(true) : this.recheck()));
  }

  private async run(step: () => Promise<void>): Promise<void> {
    let failed = false;
    const t = (async () => {
      try {
        await step();
        this.failures = 0;
      } catch (e) {
        failed = true;
        this.retryOrFail(e);
      }
    })();
    this.transition = t;
    await t;
    this.transition = undefined;
    // A publish was heard during the transition and no consumer is running: make one. Not a look
    // for a stored envelope: the notification can precede the store (by a whole leader election:
    // the fault suite lost envelopes stored after such a look), while a consumer sees it whenever
    // it is stored. After a failure the pool's delayed retry does it, not a tight loop.
    if (this.dirty && !failed && !this.closed && !this.inner) void this.run(() => this.activate(false));
  }

  private async recheck(): Promise<void> {
    this.dirty = false;
    if (await this.hasBacklog()) await this.activate(false);
  }

  /**
   * Is any envelope stored on this device's subject? Asked as "the first message at or after
   * sequence 0" (`next_by_subj`), not `last_by_subj`: nats-server 2.9.10 answers "no message" to
   * `last_by_subj` once the subject's newest message was deleted (acked) even while older ones
   * remain, which is the normal state of a work-queue mailbox after a failover (checked on this
   * machine; the fault suite lost messages with it). `next_by_subj` is a server field the nats.js
   * types do not list for this request, hence the cast.
   */
  private async hasBacklog(): Promise<boolean> {
    const query = { seq: 0, next_by_subj: this.subject } as unknown as { seq: number };
    const m = await this.pool.d.jsm.streams.getMessage(this.pool.d.streamName, query);
    return m !== null;
  }

  /**
   * A fresh consumer: with work-queue retention deleting and recreating it loses nothing, and
   * every unacked envelope comes again at once, in stream order (docs/ARCHITECTURE.md 13).
   */
  private async activate(recreate: boolean): Promise<void> {
    this.dirty = false;
    try {
      await this.openConsumer(recreate);
    } catch (e) {
      // Still owed a consumer: the retry (retryOrFail → recheckNow) activates again.
      this.dirty = true;
      throw e;
    }
  }

  private async openConsumer(recreate: boolean): Promise<void> {
    const { jsm, js, streamName, ackWaitMs } = this.pool.d;
    const old = this.inner;
    this.inner = undefined;
    // Not awaited: close() resolves only once its iterator is read to the end.
    if (old) void old.close().catch(() => undefined);
    if (recreate || old || this.mustDelete) await this.deleteConsumer();
    const info = await jsm.consumers.add(streamName, {
      durable_name: this.consumerName,
      filter_subject: this.subject,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: nanos(ackWaitMs),
      max_ack_pending: MAX_ACK_PENDING,
      // A consumer left behind by a gateway that died is removed by the server once nobody has
      // pulled from it for this long (a live one pulls every PULL_EXPIRES_MS).
      inactive_threshold: nanos(STALE_CONSUMER_MS),
      // Consumer state in memory: it is recreated whenever needed, and with work-queue retention
      // an acked envelope is deleted from the stream itself, so losing consumer state in a broker
      // restart only means redelivery of unacked envelopes (clients dedupe; docs/BENCHMARKS.md).
      mem_storage: true,
    });
    // Closed meanwhile (the socket went, or a reconnect reopened the mailbox): leave the consumer;
    // the device's next mailbox recreates it, and deleting it here could hit that newer one.
    if (this.closed) return;
    // From the create's answer: no second JetStream API call (consumer info) per activation.
    const consumer = js.consumers.getConsumerFromInfo(info);
    // Pull requests live PULL_EXPIRES_MS: nats.js notices a dead pull after two missed idle
    // heartbeats (half the expiry each), so a consumer resumes within seconds after the broker
    // node holding its leader dies (docs/ARCHITECTURE.md 16).
    const inner = await consumer.consume({ max_messages: PULL_BATCH, expires: PULL_EXPIRES_MS });
    this.inner = inner;
    this.generation++;
    this.outstanding = 0;
    this.it = inner[Symbol.asyncIterator]();
    this.lastActivity = performance.now();
    this.unlisten();
    this.pool.activated(this);
    void this.watch(inner);
    if (this.waiter) this.pull();
  }

  /** Idle long enough, and nothing in flight: back to a bare subscription. */
  maybeIdle(now: number): void {
    if (this.closed || this.transition || !this.inner || this.outstanding > 0) return;
    if (now - this.lastActivity < this.pool.idleMs) return;
    void this.run(() => this.deactivate());
  }

  private async deactivate(): Promise<void> {
    const { nc } = this.pool.d;
    // Subscribe before the consumer goes: from here on every publish is heard.
    this.dirty = false;
    this.listen();
    await nc.flush();
    if (this.closed) return;
    const inner = this.inner;
    this.inner = undefined;
    this.it = undefined;
    this.generation++;
    this.outstanding = 0;
    this.pool.deactivated(this);
    if (inner) void inner.close().catch(() => undefined);
    await this.deleteConsumer();
    // Stored before the subscription existed (or a delivery whose ack the deletion overtook).
    if (!this.closed && (await this.hasBacklog())) await this.activate(false);
    else this.pool.recheckLater(this);
  }

  /**
   * Deletes this mailbox's durable consumer; "not found" is fine. Any other failure (a timeout while
   * the broker fails over) may leave the old consumer delivering into a pull nobody reads, where an
   * envelope would wait out the ack wait, and `consumers.add` with the same configuration would hand
   * that consumer back: so it throws (the caller retries), and the next activation deletes first
   * (docs/RELIABILITY.md, the failover loss of 2026-12-02).
   */
  private async deleteConsumer(): Promise<void> {
    const { jsm, streamName } = this.pool.d;
    try {
      await jsm.consumers.delete(streamName, this.consumerName);
      this.mustDelete = false;
    } catch (e) {
      if (e instanceof JetStreamApiError && e.code === JetStreamApiCodes.ConsumerNotFound) {
        this.mustDelete = false;
        return;
      }
      this.mustDelete = true;
      throw e;
    }
  }

  /**
   * A JetStream call failed (typically an election after a broker node died): look again after
   * MAILBOX_RECHECK_MS, and give up (the socket closes with 4003 and the client reconnects) only
   * after MAILBOX_MAX_FAILURES in a row, so a failover does not make every client reconnect.
   */
  retryOrFail(e: unknown): void {
    if (this.closed) return;
    this.failures++;
    if (this.failures >= MAILBOX_MAX_FAILURES) {
      this.fail(e);
      return;
    }
    this.pool.recheckLater(this);
  }

  private fail(e: unknown): void {
    if (this.closed) return;
    this.pool.d.log.warn({ err: e instanceof Error ? e.message : String(e), subject: this.subject }, 'mailbox failed');
    this.emit({ type: 'mailbox_failed' });
  }

  private async watch(inner: ConsumerMessages): Promise<void> {
    for await (const s of inner.status()) {
      if (inner !== this.inner) return;
      if (s.type === 'consumer_deleted' || s.type === 'consumer_not_found') {
        this.emit({ type: s.type });
        return;
      }
    }
  }

  private emit(s: { type: string }): void {
    this.statuses.push(s);
  }

  status(): AsyncIterable<{ type: string }> {
    return this.statuses;
  }

  /** One reader (the connection's pump); `next` waits while the mailbox is idle. */
  [Symbol.asyncIterator](): AsyncIterator<MailboxMessage> {
    return this;
  }

  next(): Promise<IteratorResult<MailboxMessage>> {
    return new Promise<IteratorResult<MailboxMessage>>((r) => {
      if (this.closed) return r({ value: undefined, done: true });
      this.waiter = r;
      if (this.it) this.pull();
    });
  }

  private pull(): void {
    const it = this.it;
    if (!it || this.pulling === it) return;
    this.pulling = it;
    it.next().then(
      (res) => {
        if (this.pulling === it) this.pulling = undefined;
        if (it !== this.it) {
          // The consumer was replaced while this pull waited: the new one delivers it again.
          if (this.it && this.waiter) this.pull();
          return;
        }
        if (res.done) {
          // The consumer's iterator ended without us closing it: treat as a failure (reconnect).
          if (this.inner && !this.closed) this.emit({ type: 'consumer_not_found' });
          return;
        }
        const w = this.waiter;
        this.waiter = undefined;
        this.lastActivity = performance.now();
        this.outstanding++;
        w?.({ value: this.wrap(res.value), done: false });
      },
      (e) => {
        if (this.pulling === it) this.pulling = undefined;
        if (it === this.it) this.fail(e);
      },
    );
  }

  private wrap(m: JsMsg): MailboxMessage {
    return new Delivered(this, m, this.generation);
  }

  /** A delivery of consumer generation `gen` was acked, nak'd or termed. */
  settled(gen: number): void {
    if (gen === this.generation) this.outstanding--;
    this.lastActivity = performance.now();
  }

  /** Acks go out with the turn's other NATS commands (ws/turn-batch.ts). */
  ackLater(m: JsMsg): void {
    this.pool.acks.add(m);
  }

  /**
   * The socket is gone: drop the subscription and the iterator. The consumer stays (it holds the
   * unacked deliveries until the device comes back, which recreates it); the server removes it
   * after STALE_CONSUMER_MS without pulls.
   */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.unlisten();
    const inner = this.inner;
    this.inner = undefined;
    this.it = undefined;
    this.pool.deactivated(this);
    this.waiter?.({ value: undefined, done: true });
    this.waiter = undefined;
    this.statuses.end();
    if (inner) void inner.close().catch(() => undefined);
  }
}

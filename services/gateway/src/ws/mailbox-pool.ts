import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { FastifyBaseLogger } from 'fastify';
import { MAILBOX_IDLE_MS, MAILBOX_RECHECK_MS } from '../constants.js';
import { LazyMailbox } from './mailbox.js';
import { TurnBatch } from './turn-batch.js';

export interface MailboxDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  streamName: string;
  ackWaitMs: number;
  log: FastifyBaseLogger;
  /** Default MAILBOX_IDLE_MS (tests shorten it). */
  idleMs?: number;
  /** Default MAILBOX_RECHECK_MS. */
  recheckMs?: number;
}

/**
 * What the mailboxes of one gateway share: NATS handles, and the set of mailboxes that currently
 * hold a JetStream consumer, swept for idleness by one timer instead of one timer per socket.
 */
export class MailboxPool {
  readonly active = new Set<LazyMailbox>();
  /** Client acks, sent to JetStream together once per event-loop turn. */
  readonly acks = new TurnBatch<JsMsg>(
    (m) => m.ack(),
    (e) => this.d.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'ack failed'),
  );
  private timer: NodeJS.Timeout | undefined;
  readonly idleMs: number;

  constructor(readonly d: MailboxDeps) {
    this.idleMs = d.idleMs ?? MAILBOX_IDLE_MS;
    this.recheckMs = d.recheckMs ?? MAILBOX_RECHECK_MS;
  }

  open(subject: string, consumerName: string): Promise<LazyMailbox> {
    return LazyMailbox.open(this, subject, consumerName);
  }

  /** Called by a mailbox that got a consumer: the sweep runs while any mailbox holds one. */
  activated(m: LazyMailbox): void {
    this.active.add(m);
    this.ensureTimer();
  }

  deactivated(m: LazyMailbox): void {
    this.active.delete(m);
  }

  /**
   * Looks at an idle mailbox's subject once more after MAILBOX_RECHECK_MS. In a NATS cluster a new
   * subscription's interest reaches the other servers over routes a moment after our own server
   * confirmed it (the flush), so an envelope published through another server in that moment is
   * stored but not heard; this second look finds it. Kept in one queue, swept by the pool's timer.
   */
  recheckLater(m: LazyMailbox): void {
    this.rechecks.push({ m, at: performance.now() + this.recheckMs });
    this.ensureTimer();
  }

  private readonly rechecks: { m: LazyMailbox; at: number }[] = [];
  private rechecksHead = 0;
  readonly recheckMs: number;

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.sweep(), Math.max(20, Math.min(this.idleMs, this.recheckMs) / 4));
    this.timer.unref();
  }

  private sweep(): void {
    const now = performance.now();
    for (const m of [...this.active]) m.maybeIdle(now);
    while (this.rechecksHead < this.rechecks.length && this.rechecks[this.rechecksHead]!.at <= now) {
      this.rechecks[this.rechecksHead++]!.m.recheckNow();
    }
    if (this.rechecksHead > 1024 && this.rechecksHead * 2 > this.rechecks.length) {
      this.rechecks.splice(0, this.rechecksHead);
      this.rechecksHead = 0;
    }
    if (this.active.size === 0 && this.rechecksHead >= this.rechecks.length && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  stop(): void {
    this.acks.flush();
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

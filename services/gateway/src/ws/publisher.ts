import { createInbox, headers, type Msg, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { TurnBatch } from './turn-batch.js';

/** A publish not acked by JetStream within this long fails (as `js.publish`'s timeout did). */
export const PUBLISH_TIMEOUT_MS = 5_000;
/** How often unanswered publishes are looked at (so a timeout fires within this much of its time). */
const SWEEP_MS = 250;

interface Pending {
  subject: string;
  data: Uint8Array;
  msgId: string;
  token: string;
  resolve(): void;
  reject(e: Error): void;
  deadline: number;
}

/** Why a mailbox publish was not stored: the caller answers GW_PUBLISH_FAILED either way. */
export class PublishError extends Error {
  override readonly name = 'PublishError';
}

/**
 * Envelope publishes into the mailbox stream, acked by JetStream on one shared reply
 * subscription. What `js.publish` does per message (a request with its own reply subscription
 * entry, a timer, a deferred, and — in nats.js 3 — an Error object with a stack trace built on
 * every successful request) cost the gateway ~5 % of its CPU per message at full load
 * (docs/BENCHMARKS.md, load test on a quiet machine); here a publish is one NATS message with a
 * reply subject and a map entry, and one sweep timer covers every timeout.
 *
 * Same semantics as before: the headers `Nats-Msg-Id` (dedupe) and `Nats-Expected-Stream`; resolved
 * only on a PubAck naming a stream (the envelope is stored), rejected on a JetStream error reply, a
 * "no responders" status (no stream leader reachable), or no answer within PUBLISH_TIMEOUT_MS.
 * A reply lost in a reconnect is a timeout, and the sender's client resends with the same id.
 * The publishes of one event-loop turn are written together (ws/turn-batch.ts), in call order.
 */
export class MailboxPublisher {
  private readonly prefix: string;
  private readonly sub: Subscription;
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private readonly timer: NodeJS.Timeout;
  private readonly batch = new TurnBatch<Pending>((p) => this.send(p));

  constructor(
    private readonly nc: NatsConnection,
    private readonly streamName: string,
    inboxPrefix = (nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix,
    private readonly timeoutMs = PUBLISH_TIMEOUT_MS,
  ) {
    this.prefix = createInbox(inboxPrefix);
    this.sub = nc.subscribe(`${this.prefix}.*`, { callback: (_err, m) => this.answer(m) });
    this.timer = setInterval(() => this.expire(), SWEEP_MS);
    this.timer.unref();
  }

  publish(subject: string, data: Uint8Array, msgId: string): Promise<void> {
    const token = (++this.seq).toString(36);
    return new Promise<void>((resolve, reject) => {
      const p: Pending = { subject, data, msgId, token, resolve, reject, deadline: Date.now() + this.timeoutMs };
      this.pending.set(token, p);
      this.batch.add(p);
    });
  }

  private send(p: Pending): void {
    // Timed out (or closed) while it waited for the end of the turn: never sent.
    if (this.pending.get(p.token) !== p) return;
    const h = headers();
    h.set('Nats-Msg-Id', p.msgId);
    h.set('Nats-Expected-Stream', this.streamName);
    try {
      this.nc.publish(p.subject, p.data, { reply: `${this.prefix}.${p.token}`, headers: h });
    } catch (e) {
      this.pending.delete(p.token);
      p.reject(e instanceof Error ? e : new PublishError(String(e)));
    }
  }

  /** Fails every unanswered publish (shutdown). */
  close(): void {
    clearInterval(this.timer);
    this.sub.unsubscribe();
    // Publishes still waiting for the end of the turn are failed here and never sent (send skips them).
    for (const p of this.pending.values()) p.reject(new PublishError('publisher closed'));
    this.pending.clear();
  }

  private answer(m: Msg): void {
    const token = m.subject.slice(this.prefix.length + 1);
    const p = this.pending.get(token);
    if (!p) return; // answered after its timeout: the sender already heard "failed" and resends
    this.pending.delete(token);
    // A status reply (503: no responders, i.e. no stream leader to store it) carries no PubAck.
    if (m.headers?.hasError) {
      p.reject(new PublishError(`publish refused: ${m.headers.code} ${m.headers.description}`));
      return;
    }
    let ack: { stream?: string; error?: { code?: number; description?: string } };
    try {
      ack = m.json();
    } catch {
      p.reject(new PublishError('malformed publish ack'));
      return;
    }
    if (ack.error) p.reject(new PublishError(`JetStream: ${ack.error.description ?? ack.error.code}`));
    else if (!ack.stream) p.reject(new PublishError('invalid publish ack'));
    else p.resolve();
  }

  private expire(): void {
    if (this.pending.size === 0) return;
    const now = Date.now();
    for (const [token, p] of this.pending) {
      // Insertion order is deadline order (one timeout for all): stop at the first one still due later.
      if (p.deadline > now) break;
      this.pending.delete(token);
      p.reject(new PublishError('no publish ack in time'));
    }
  }
}

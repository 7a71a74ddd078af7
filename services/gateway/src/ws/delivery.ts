import { CloseCodes, type DeliverFrame, type StoredEnvelope } from '@hush/protocol';
import { MAX_BUFFERED_BYTES } from '../constants.js';
import type { MailboxMessage, MailboxStream } from './context.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How every envelope the gateway stores begins (`JSON.stringify` of a `StoredEnvelope`, id first). */
const STORED_START = Buffer.from('{"id":"');

function startsWithStored(d: Uint8Array): boolean {
  for (let i = 0; i < STORED_START.length; i++) if (d[i] !== STORED_START[i]) return false;
  return true;
}

/**
 * The deliver frame for a stored envelope, as JSON bytes. The frame is the stored envelope with
 * `type` and `seq` in front (docs/PROTOCOL-WIRE.md §3), so an envelope the gateway wrote is copied,
 * not parsed and serialized again (one parse and one stringify of the body per delivery were a
 * good part of the gateway's garbage at full load: docs/BENCHMARKS.md). Bytes that begin and end
 * like the gateway's own envelopes are taken as one: only gateways may publish on the mailbox subjects (the
 * broker's permissions, libs/service-kit/src/nats-auth.ts). Anything else in the stream takes the slow path, which keeps
 * only the known fields; undefined when it is not an envelope.
 */
export function deliverText(m: Pick<MailboxMessage, 'seq' | 'data' | 'json'>): Buffer | undefined {
  const d = m.data;
  const n = d.byteLength;
  if (n > STORED_START.length && d[n - 1] === 0x7d && startsWithStored(d)) {
    const prefix = `{"type":"deliver","seq":${m.seq},`;
    const out = Buffer.allocUnsafe(prefix.length + n - 1);
    out.write(prefix, 0, 'latin1');
    out.set(d.subarray(1), prefix.length);
    return out;
  }
  let env: StoredEnvelope;
  try {
    env = m.json<StoredEnvelope>();
  } catch {
    return undefined;
  }
  if (typeof env !== 'object' || env === null || typeof env.id !== 'string' || typeof env.body !== 'string') {
    return undefined;
  }
  const frame: DeliverFrame = {
    type: 'deliver',
    seq: m.seq,
    id: env.id,
    from: env.from,
    ts: env.ts,
    body: env.body,
    ...(env.group ? { group: env.group } : {}),
  };
  return Buffer.from(JSON.stringify(frame));
}

/**
 * What a `Delivery` needs from the socket that owns it: a `Connection`, which implements it with its
 * own methods (`new Delivery(this)`, no closures per socket; see SendHost).
 */
export interface DeliveryHost {
  /** True while the socket is bound to its device and not closing. */
  deliveryOpen(): boolean;
  /** Bytes written to the socket and not yet sent (the backpressure signal). */
  socketBuffered(): number;
  /** Sends a deliver frame already encoded as JSON text (UTF-8 bytes). */
  sendDeliver(text: Buffer): void;
  close(code: number, reason: string): void;
  /** A fresh stream of the bound device's mailbox (the binding comes from the token). */
  openMailbox(): Promise<MailboxStream>;
  warnDelivery(e: unknown, msg: string): void;
}

/**
 * Streams one device's mailbox to its socket: a pull consumer filtered on `mbox.<user>.<device>`
 * only, deliveries pushed as `deliver` frames and acked when the client acks them, at-least-once
 * (docs/PROTOCOL-WIRE.md). Reading stops while the client reads slowly; the backlog waits in
 * JetStream.
 */
export class Delivery {
  private messages: MailboxStream | undefined;
  /** Deliveries pushed to the socket and not yet acked by the client, by stream sequence. */
  private readonly unacked = new Map<number, MailboxMessage>();

  constructor(private readonly host: DeliveryHost) {}

  /** The client acked `seq`. */
  ack(seq: number): void {
    const m = this.unacked.get(seq);
    // An unknown seq is ignored: it was acked already or belongs to a previous socket, and
    // a device can only ever name deliveries of its own mailbox on its own socket.
    if (m) {
      this.unacked.delete(seq);
      m.ack();
    }
  }

  /** Opens the mailbox stream and starts pushing deliveries; throws when the mailbox cannot open. */
  async start(): Promise<void> {
    const messages = await this.host.openMailbox();
    this.messages = messages;
    if (!this.host.deliveryOpen()) {
      this.messages = undefined;
      await messages.close();
      return;
    }
    void this.watchStatus(messages);
    void this.pump(messages);
  }

  /** Drops the consumer and opens a fresh one: unacked envelopes come back at once. */
  async restart(): Promise<void> {
    if (!this.messages) return;
    const old = this.messages;
    this.messages = undefined;
    // Handles of the old consumer cannot be acked any more; redeliveries bring new ones.
    this.unacked.clear();
    await old.close().catch(() => undefined);
    try {
      await this.start();
    } catch (e) {
      this.host.warnDelivery(e, 'cannot reopen mailbox');
      this.host.close(CloseCodes.UPSTREAM_LOST, 'mailbox unavailable');
    }
  }

  /** The socket closed: unacked deliveries go back at once, and the stream is closed. */
  async stop(): Promise<void> {
    const msgs = this.messages;
    this.messages = undefined;
    // Unacked deliveries are redelivered on the next connection (at-least-once); nak them now so
    // they need not wait for the ack timeout if the device comes back at once.
    for (const m of this.unacked.values()) m.nak();
    this.unacked.clear();
    if (msgs) await msgs.close().catch(() => undefined);
  }

  private async watchStatus(msgs: MailboxStream): Promise<void> {
    for await (const s of msgs.status()) {
      // A consumer this socket replaced itself (restart) says nothing about the socket.
      if (msgs !== this.messages) return;
      // The consumer went away under us: a newer connection of this device recreated it (that
      // case is closed with REPLACED by the hub's connect event), the device was removed (auth's
      // revocation closes with REVOKED), or the broker lost it in a failover. Only the last one can
      // reach here first and it must not be terminal: the client reconnects, and a replaced or
      // revoked device is refused at its next hello.
      if (s.type === 'consumer_deleted') {
        if (this.host.deliveryOpen()) this.host.close(CloseCodes.UPSTREAM_LOST, 'mailbox consumer deleted');
        return;
      }
      if (s.type === 'consumer_not_found') {
        if (this.host.deliveryOpen()) this.host.close(CloseCodes.UPSTREAM_LOST, 'mailbox consumer gone');
        return;
      }
      // The mailbox could not open its consumer or look for a backlog (JetStream unavailable).
      if (s.type === 'mailbox_failed') {
        if (this.host.deliveryOpen()) this.host.close(CloseCodes.UPSTREAM_LOST, 'mailbox unavailable');
        return;
      }
    }
  }

  private async pump(msgs: MailboxStream): Promise<void> {
    try {
      for await (const m of msgs) {
        // Backpressure: while the client reads slowly we stop pulling; its backlog waits in JetStream.
        while (this.host.deliveryOpen() && this.host.socketBuffered() > MAX_BUFFERED_BYTES) await sleep(25);
        if (!this.host.deliveryOpen() || msgs !== this.messages) {
          // Pulled but not sent: hand it back now rather than after the ack wait (a no-op when its
          // consumer was deleted, which redelivers it anyway).
          m.nak();
          break;
        }
        const text = deliverText(m);
        if (!text) {
          m.term(); // not ours to deliver; never retry it
          continue;
        }
        this.unacked.set(m.seq, m);
        this.host.sendDeliver(text);
      }
    } catch (e) {
      if (this.host.deliveryOpen() && msgs === this.messages) {
        this.host.warnDelivery(e, 'mailbox stream ended');
        this.host.close(CloseCodes.UPSTREAM_LOST, 'mailbox stream ended');
      }
    }
  }
}

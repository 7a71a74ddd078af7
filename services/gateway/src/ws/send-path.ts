import {
  type AcceptedFrame,
  HushError,
  natsMsgId,
  type SendFrame,
  type ServerFrame,
  type StoredEnvelope,
} from '@hush/protocol';
import type { TokenIdentity } from '../tokens.js';
import type { ConnectionContext } from './context.js';
import { errorFrame } from './frames.js';

/**
 * What a socket's send path needs from its `Connection`. The connection implements it with its own
 * methods (`new SendPath(this)`): per-socket arrow functions would cost a closure, a context and,
 * under tsx's keepNames, a property store each (docs/BENCHMARKS.md, "Where an idle socket's heap goes").
 */
export interface SendHost {
  sendContext(): ConnectionContext;
  /** The bound device's key and identity (a send only arrives after hello). */
  deviceKey(): string;
  deviceIdentity(): TokenIdentity;
  /** Answers a send refused at once (a quota), in frame order. */
  refuseSend(err: HushError, id: string): void;
  warnPublish(e: unknown, msgId: string): void;
}

/**
 * The sends of one socket: each is admitted in frame order (quotas), its recipients are checked and
 * its publishes started in frame order, and it is answered once JetStream acked every envelope.
 */
export class SendPath {
  /** Sends whose recipients are checked, in order: publishes start in frame order. */
  private publishOrder: Promise<unknown> = Promise.resolve();

  constructor(private readonly host: SendHost) {}

  /**
   * The promise of a send's answer (`accepted` or an error frame), not waited for, so the next
   * frames proceed meanwhile; undefined when the send was refused at once.
   */
  answer(f: SendFrame): Promise<ServerFrame> | undefined {
    const ctx = this.host.sendContext();
    const id = this.host.deviceIdentity();
    // Costs one message token per distinct recipient user (each may cost a directory lookup, so
    // one frame cannot buy 64 lookups for the price of one message) and its body bytes (a
    // per-device storage quota, so a few huge frames cannot fill the store either).
    const wait = ctx.admitSend(this.host.deviceKey(), f.envelopes);
    if (wait > 0) {
      this.host.refuseSend(new HushError('GW_RATE_LIMITED', undefined, { retryAfter: wait }), f.id);
      return;
    }
    const checked = this.publishOrder.then(() => ctx.checkRecipients(f.envelopes.map((e) => e.to)));
    this.publishOrder = checked.catch(() => undefined);
    return checked.then(
      async (): Promise<ServerFrame> => {
        const ts = Date.now();
        const from = { user: id.userId, device: id.deviceId };
        try {
          // The sender's ack waits for JetStream to ack every envelope (docs/PROTOCOL-WIRE.md §3, "Sending").
          await Promise.all(
            f.envelopes.map((e) => {
              const stored: StoredEnvelope = { id: f.id, from, ts, body: e.body };
              return ctx.publishEnvelope(e.to, stored, natsMsgId(f.id, e.to, from));
            }),
          );
        } catch (e) {
          this.host.warnPublish(e, f.id);
          ctx.countError('GW_PUBLISH_FAILED');
          return errorFrame(new HushError('GW_PUBLISH_FAILED'), f.id);
        }
        const ack: AcceptedFrame = { type: 'accepted', id: f.id, ts, count: f.envelopes.length };
        return ack;
      },
      (e: unknown): ServerFrame => {
        const err = e instanceof HushError ? e : new HushError('UPSTREAM_UNAVAILABLE');
        ctx.countError(err.code);
        return errorFrame(err, f.id);
      },
    );
  }
}

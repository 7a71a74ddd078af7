import type { SendFrame } from '@hush/protocol';
import type { FileRef } from '../core/content.js';
import { advanceTick, type ChatMessage, encryptionStatus, outbox } from '../core/model.js';
import { classifySendError, notSentNotice } from '../core/send-policy.js';
import { sendGate } from '../core/trust.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { Built, PeerKeys } from './keys.js';
import { outgoingMessage, previewText, type SendExtras, textContent } from './outgoing.js';

/**
 * The outbox: a message is stored (encrypted at rest) as `pending` first; when online it is
 * encrypted once and the exact frame stored before it is sent, so a resend after a lost answer is
 * byte-identical with the same id (the gateway dedupes by id, the receiver too): exactly once as seen.
 */
/** Frames on the socket awaiting the gateway's "accepted" at once (the gateway keeps their order). */
export const SEND_WINDOW = 32;

type Stop = 'offline' | null;
/** One pump's bookkeeping. */
interface Run {
  refetched: Set<string>;
  held: Set<string>;
  stop: { v: Stop };
  /** Settles once the previous frame was handed to the socket: frames leave in outbox order. */
  gate: Promise<unknown>;
}

export class Outbox {
  private running: Promise<void> | null = null;
  /** Resolves the pump's wait when a new message is stored (or a send settles). */
  private wake: (() => void) | null = null;
  /** Messages whose durable write has not finished yet (the page must not close under them). */
  private storing = 0;

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly keys: PeerKeys,
  ) {}

  /** True while something the user wrote has not reached the gateway (being stored, or queued). */
  hasUnsent(): boolean {
    if (this.storing > 0) return true;
    return Object.values(this.ctx.state.messages).some((l) => outbox(l).length > 0);
  }

  async send(peer: string, text: string, file?: FileRef, extras: SendExtras = {}): Promise<void> {
    const c = this.history.conv(peer);
    if (!c || (text.trim().length === 0 && !file)) return;
    // Red means we cannot encrypt: nothing is queued or sent. A contact who had no keys yet may
    // have published them since: look once more first.
    if (encryptionStatus(c) === 'red' && c.keysMissing && this.ctx.api)
      await this.ctx.serial(() => this.keys.refreshBundle(peer)).catch(() => undefined);
    const now0 = this.history.conv(peer) ?? c;
    if (encryptionStatus(now0) === 'red') {
      this.ctx.store.update({ notice: notSentNotice(now0) });
      return;
    }
    const now = this.ctx.now();
    const m = outgoingMessage(peer, text, now, this.history.nextOrder(), { ...extras, file }, c.timer?.seconds);
    // In the durable outbox before it is shown: a message on screen survives a reload or a crash.
    this.storing++;
    try {
      await this.history.putMessageAndConv(m, {
        ...(this.history.conv(peer) ?? c),
        lastAt: now,
        lastText: previewText(m),
        draft: '',
      });
    } finally {
      this.storing--;
    }
    this.wake?.();
    await this.flush();
  }

  /** Queues a control message (a reaction, edit, delete or timer: engine/message-ops.ts). */
  async queue(m: ChatMessage): Promise<void> {
    this.storing++;
    try {
      await this.history.putMessage(m);
    } finally {
      this.storing--;
    }
    this.wake?.();
    await this.flush();
  }

  /**
   * Sends every queued message, oldest first, pipelined: up to SEND_WINDOW frames wait for their
   * "accepted" at once, while the next ones are encrypted. One socket carries them in order and
   * the gateway handles a connection's frames one after another (services/gateway ws/connection.ts),
   * so each conversation keeps its order. Safe to call any time: calls while a pump runs join it.
   * A conversation the trust policy holds keeps its messages queued (fail closed).
   */
  flush(): Promise<void> {
    if (this.running) {
      this.wake?.();
      return this.running;
    }
    this.running = this.pump().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pump(): Promise<void> {
    const held = new Set<string>();
    // A directory that keeps naming devices the gateway does not know must not loop us: one
    // re-fetch per message (and per conversation) per pump, then the conversation waits.
    const refetched = new Set<string>();
    const flights = new Map<string, Promise<void>>();
    const stop: { v: Stop } = { v: null };
    const run: Run = { refetched, held, stop, gate: Promise.resolve() };
    for (;;) {
      const { state } = this.ctx;
      if (stop.v || state.connection !== 'online' || !this.ctx.link) break;
      const batch = this.take(held, flights, SEND_WINDOW - flights.size);
      if (batch.length > 0) {
        const frames = await this.build(batch, held);
        let offline = false;
        for (const [i, m] of batch.entries()) {
          const b = frames[i];
          if (!b) continue;
          if ((await this.start(m, b, run, flights)) === 'offline') offline = true;
        }
        if (offline) break;
        continue;
      }
      if (flights.size === 0) break;
      // Wait for a frame to be answered or a new message to be stored.
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        for (const f of flights.values()) void f.then(resolve);
      });
      this.wake = null;
    }
    await Promise.allSettled(flights.values());
  }

  /** Up to `max` queued messages not on their way yet, oldest first. */
  private take(held: Set<string>, flights: Map<string, Promise<void>>, max: number): ChatMessage[] {
    const taken = new Set(flights.keys());
    const out: ChatMessage[] = [];
    while (out.length < max) {
      const m = this.next(held, taken);
      if (!m) break;
      taken.add(m.id);
      out.push(m);
    }
    return out;
  }

  /**
   * Encrypts the batch's new messages in one turn of the ratchet queue with one durable commit of
   * the ratchet state (CryptoPort.batch); messages already encrypted keep their stored frame.
   * A conversation that gets held stops there, so nothing after it overtakes it.
   */
  private build(batch: ChatMessage[], held: Set<string>): Promise<(Built | null)[]> {
    return this.ctx.serial(() =>
      this.ctx.crypto.batch(async () => {
        const out: (Built | null)[] = [];
        for (const m of batch) {
          if (held.has(m.conv)) out.push(null);
          else if (m.wire?.kind === 'sent') out.push({ frame: m.wire.frame });
          else {
            const b = await this.keys.buildFrame(m.conv, m.id, textContent(m));
            if ('hold' in b) held.add(m.conv);
            out.push('hold' in b ? null : b);
          }
        }
        return out;
      }),
    );
  }

  /** The oldest queued message not on its way yet. */
  private next(held: Set<string>, flights: { has(id: string): boolean }): ChatMessage | undefined {
    const { state } = this.ctx;
    let best: ChatMessage | undefined;
    for (const c of state.conversations) {
      if (held.has(c.peer) || sendGate(c) === 'awaiting-user') continue;
      for (const m of outbox(state.messages[c.peer] ?? [])) {
        if (flights.has(m.id)) continue;
        if (!best || (m.n ?? 0) - (best.n ?? 0) < 0 || ((m.n ?? 0) === (best.n ?? 0) && m.sentAt < best.sentAt))
          best = m;
        break;
      }
    }
    return best;
  }

  /** Puts a built frame on the socket (after storing it); its answer is handled when it comes. */
  private async start(
    m: ChatMessage,
    built: Built,
    run: Run,
    flights: Map<string, Promise<void>>,
  ): Promise<'sent' | 'done' | 'offline'> {
    let frame: SendFrame;
    let stored: Promise<void> = Promise.resolve();
    if (m.wire?.kind === 'sent') {
      // Already encrypted once: resend the identical frame with the same id, so the gateway's
      // dedupe (Nats-Msg-Id) and the receiver's id check make it arrive exactly once.
      frame = m.wire.frame;
    } else {
      if ('hold' in built) return 'done';
      if ('fail' in built) {
        await this.history.putMessage({ ...m, tick: 'failed', error: built.fail });
        return 'done';
      }
      frame = built.frame;
      // The frame is stored before it leaves (a resend is then byte-identical); the next message
      // is encrypted meanwhile, and frames still go on the socket in outbox order (run.gate).
      stored = this.history.putMessage({ ...this.current(m), wire: { kind: 'sent', frame } });
    }
    const link = this.ctx.link;
    if (!link) return 'offline';
    // Wrapped in an object so the gate settles when the frame is handed over, not when answered.
    const handed = run.gate.then(() => stored).then(() => ({ answer: link.send(frame) }));
    run.gate = handed.then(
      () => undefined,
      () => undefined,
    );
    const flight = handed
      .then(({ answer }) => answer)
      .then(
        async (acc) => {
          const cur = this.current(m);
          await this.history.putMessage({ ...cur, tick: advanceTick(cur.tick, 'sent'), ts: cur.ts ?? acc.ts });
          flights.delete(m.id);
        },
        async (e: unknown) => {
          try {
            await this.failed(m, e, run);
          } finally {
            flights.delete(m.id);
          }
        },
      );
    flights.set(
      m.id,
      flight.catch((e: unknown) => console.warn('hush: outbox', e)),
    );
    return 'sent';
  }

  private current(m: ChatMessage): ChatMessage {
    return this.history.findMessage(m.conv, m.id) ?? m;
  }

  private async failed(m: ChatMessage, e: unknown, { refetched, held, stop }: Run): Promise<void> {
    switch (classifySendError(e)) {
      case 'refetch-keys': {
        if (refetched.has(m.id)) {
          held.add(m.conv);
          return;
        }
        refetched.add(m.id);
        // The peer's device list changed (new device or a reset identity): fetch it again (once
        // per conversation per pump: the frames after this one failed for the same reason) and
        // re-encrypt this message for the current devices.
        if (!refetched.has(`conv:${m.conv}`)) {
          refetched.add(`conv:${m.conv}`);
          await this.ctx.serial(() => this.keys.refreshBundle(m.conv));
        }
        const { wire: _old, ...rest } = this.current(m);
        await this.history.putMessage({ ...rest, wire: null });
        if (encryptionStatus(this.history.conv(m.conv)!) !== 'red') return;
        await this.history.putMessage({ ...this.current(m), tick: 'failed', error: 'cannot encrypt to this contact' });
        return;
      }
      case 'fail':
        await this.history.putMessage({ ...this.current(m), tick: 'failed', error: (e as Error).message });
        return;
      case 'retry':
        // Connection trouble: it stays queued (frame stored) for the next "online".
        stop.v = 'offline';
        return;
    }
  }
}

import type { SendFrame } from '@hush/protocol';
import { type Content, newMessageId } from '../core/content.js';
import { advanceTick, type ChatMessage, encryptionStatus, outbox } from '../core/model.js';
import { classifySendError } from '../core/send-policy.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { PeerKeys } from './keys.js';

/**
 * The outbox: a message is stored (encrypted at rest) as `pending` first; when online it is
 * encrypted once and the exact frame stored before it is sent, so a resend after a lost answer is
 * byte-identical with the same id (the gateway dedupes by id, the receiver too): exactly once as seen.
 */
export class Outbox {
  private flushing = false;

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly keys: PeerKeys,
  ) {}

  async send(peer: string, text: string): Promise<void> {
    const c = this.history.conv(peer);
    if (!c || text.trim().length === 0) return;
    // Red means we cannot encrypt: nothing is queued or sent (DESIGN §4).
    if (encryptionStatus(c) === 'red') {
      this.ctx.store.update({ notice: `Cannot encrypt to ${c.username}; the message was not sent.` });
      return;
    }
    const now = this.ctx.now();
    const m: ChatMessage = {
      id: newMessageId(),
      conv: peer,
      dir: 'out',
      text,
      sentAt: now,
      ts: null,
      tick: 'pending',
      wire: null,
      n: this.history.nextOrder(),
    };
    await this.history.putMessage(m);
    await this.history.saveConv({ ...c, lastAt: now, lastText: text });
    await this.flush();
  }

  /** Sends every queued message, oldest first; safe to call any time (one flush at a time). */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (;;) {
        const { state } = this.ctx;
        if (state.connection !== 'online' || !this.ctx.link) return;
        const next = state.conversations.flatMap((c) => outbox(state.messages[c.peer] ?? []));
        next.sort((a, b) => (a.n ?? 0) - (b.n ?? 0) || a.sentAt - b.sentAt);
        const m = next[0];
        if (!m) return;
        if (!(await this.transmit(m))) return; // connection trouble: wait for the next "online"
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Returns false when the message must wait (offline); true when it left the outbox (sent or failed). */
  private async transmit(m: ChatMessage): Promise<boolean> {
    let frame: SendFrame;
    if (m.wire?.kind === 'sent') {
      // Already encrypted once: resend the identical frame with the same id, so the gateway's
      // dedupe (Nats-Msg-Id) and the receiver's id check make it arrive exactly once.
      frame = m.wire.frame;
    } else {
      const built = await this.ctx.serial(() => this.keys.buildFrame(m.conv, m.id, textContent(m)));
      if (typeof built === 'string') {
        await this.history.putMessage({ ...m, tick: 'failed', error: built });
        return true;
      }
      frame = built;
      await this.history.putMessage({ ...m, wire: { kind: 'sent', frame } });
    }
    const current = () => this.history.findMessage(m.conv, m.id) ?? m;
    try {
      const acc = await this.ctx.link!.send(frame);
      const cur = current();
      await this.history.putMessage({ ...cur, tick: advanceTick(cur.tick, 'sent'), ts: cur.ts ?? acc.ts });
      return true;
    } catch (e) {
      switch (classifySendError(e)) {
        case 'refetch-keys': {
          // The peer's device list changed (new device or a reset identity): fetch it again and
          // re-encrypt this message for the current devices.
          await this.ctx.serial(() => this.keys.refreshBundle(m.conv));
          const { wire: _old, ...rest } = current();
          await this.history.putMessage({ ...rest, wire: null });
          if (encryptionStatus(this.history.conv(m.conv)!) !== 'red') return true;
          await this.history.putMessage({ ...current(), tick: 'failed', error: 'cannot encrypt to this contact' });
          return true;
        }
        case 'fail':
          await this.history.putMessage({ ...current(), tick: 'failed', error: (e as Error).message });
          return true;
        case 'retry':
          return false;
      }
    }
  }
}

function textContent(m: ChatMessage): Content {
  return { v: 1, t: 'text', id: m.id, to: m.conv, text: m.text, sentAt: m.sentAt };
}

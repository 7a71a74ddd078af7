import type { SendFrame } from '@hush/protocol';
import { type Content, type FileRef, newMessageId } from '../core/content.js';
import { advanceTick, type ChatMessage, encryptionStatus, outbox } from '../core/model.js';
import { classifySendError } from '../core/send-policy.js';
import { sendGate } from '../core/trust.js';
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

  async send(peer: string, text: string, file?: FileRef): Promise<void> {
    const c = this.history.conv(peer);
    if (!c || (text.trim().length === 0 && !file)) return;
    // Red means we cannot encrypt: nothing is queued or sent.
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
      ...(file ? { file } : {}),
    };
    await this.history.putMessage(m);
    await this.history.saveConv({ ...c, lastAt: now, lastText: previewText(m) });
    await this.flush();
  }

  /**
   * Sends every queued message, oldest first; safe to call any time (one flush at a time). A
   * conversation the trust policy holds keeps its messages queued (fail closed).
   */
  async flush(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    const held = new Set<string>();
    // A directory that keeps naming devices the gateway does not know must not loop us: one
    // re-fetch per message per flush, then the conversation waits for the next flush.
    const refetched = new Set<string>();
    try {
      for (;;) {
        const { state } = this.ctx;
        if (state.connection !== 'online' || !this.ctx.link) return;
        const next = state.conversations
          .filter((c) => !held.has(c.peer) && sendGate(c) !== 'awaiting-user')
          .flatMap((c) => outbox(state.messages[c.peer] ?? []));
        next.sort((a, b) => (a.n ?? 0) - (b.n ?? 0) || a.sentAt - b.sentAt);
        const m = next[0];
        if (!m) return;
        const r = await this.transmit(m, refetched);
        if (r === 'offline') return; // connection trouble: wait for the next "online"
        if (r === 'held') held.add(m.conv);
      }
    } finally {
      this.flushing = false;
    }
  }

  /** 'done' when it left the outbox (sent or failed), 'offline' or 'held' when it must wait. */
  private async transmit(m: ChatMessage, refetched: Set<string>): Promise<'done' | 'offline' | 'held'> {
    let frame: SendFrame;
    if (m.wire?.kind === 'sent') {
      // Already encrypted once: resend the identical frame with the same id, so the gateway's
      // dedupe (Nats-Msg-Id) and the receiver's id check make it arrive exactly once.
      frame = m.wire.frame;
    } else {
      const built = await this.ctx.serial(() => this.keys.buildFrame(m.conv, m.id, textContent(m)));
      if ('hold' in built) return 'held';
      if ('fail' in built) {
        await this.history.putMessage({ ...m, tick: 'failed', error: built.fail });
        return 'done';
      }
      frame = built.frame;
      await this.history.putMessage({ ...m, wire: { kind: 'sent', frame } });
    }
    const current = () => this.history.findMessage(m.conv, m.id) ?? m;
    try {
      const acc = await this.ctx.link!.send(frame);
      const cur = current();
      await this.history.putMessage({ ...cur, tick: advanceTick(cur.tick, 'sent'), ts: cur.ts ?? acc.ts });
      return 'done';
    } catch (e) {
      switch (classifySendError(e)) {
        case 'refetch-keys': {
          if (refetched.has(m.id)) return 'held';
          refetched.add(m.id);
          // The peer's device list changed (new device or a reset identity): fetch it again and
          // re-encrypt this message for the current devices.
          await this.ctx.serial(() => this.keys.refreshBundle(m.conv));
          const { wire: _old, ...rest } = current();
          await this.history.putMessage({ ...rest, wire: null });
          if (encryptionStatus(this.history.conv(m.conv)!) !== 'red') return 'done';
          await this.history.putMessage({ ...current(), tick: 'failed', error: 'cannot encrypt to this contact' });
          return 'done';
        }
        case 'fail':
          await this.history.putMessage({ ...current(), tick: 'failed', error: (e as Error).message });
          return 'done';
        case 'retry':
          return 'offline';
      }
    }
  }
}

export function textContent(m: ChatMessage): Content {
  const c: Content = { v: 1, t: 'text', id: m.id, to: m.conv, text: m.text, sentAt: m.sentAt };
  return m.file ? { ...c, file: m.file } : c;
}

/** What the conversation list shows for a message: its text, or the attached file's name. */
export function previewText(m: Pick<ChatMessage, 'text' | 'file'>): string {
  return m.text || (m.file ? `File: ${m.file.name}` : '');
}

import { newMessageId } from '../core/content.js';
import {
  applyOp,
  isOpTarget,
  newerTimer,
  type Op,
  pendingOps,
  type TimerSetting,
  timerNotice,
} from '../core/message-ops.js';
import { type ChatMessage, visibleMessages } from '../core/model.js';
import type { EngineContext } from './context.js';

/**
 * One conversation as message operations see it: a 1:1 chat (engine/history.ts) or a group
 * (engine/group-state.ts) behind the same few calls, so reactions, edits, deletes and timers follow
 * one set of rules (core/message-ops.ts) in both.
 */
export interface Thread {
  /** The history's conversation key: the peer's user id, or `g:<groupId>`. */
  readonly conv: string;
  messages(): ChatMessage[];
  put(m: ChatMessage): Promise<void>;
  remove(id: string): Promise<void>;
  timer(): TimerSetting | undefined;
  saveTimer(t: TimerSetting): Promise<void>;
  /** Sets the list row's preview (the newest message left after a delete, edit or expiry). */
  savePreview(text: string): Promise<void>;
  username(userId: string): Promise<string>;
  nextOrder(): number;
  /** Queues one of our control messages for sending (the outbox of the chat or of the group). */
  send(m: ChatMessage): Promise<void>;
}

/** What a list row shows for a message (a deleted one says so). */
export function preview(m: ChatMessage | undefined): string {
  if (!m) return '';
  if (m.deleted) return 'This message was deleted';
  return m.text || (m.file ? `File: ${m.file.name}` : '');
}

/**
 * Reactions, edits, deletes for everyone and disappearing-message timers: ours applied here at
 * once and queued for the other side; theirs applied when they arrive, or kept (hidden) until
 * the message they name arrives and applied then (docs in libs/crypto/PROTOCOL.md §13.3).
 */
export class MessageOps {
  constructor(private readonly ctx: EngineContext) {}

  private me(): string {
    return this.ctx.state.me?.userId ?? '';
  }

  /** Ours: applied locally, then sent as an encrypted control message. */
  async local(th: Thread, op: Op): Promise<void> {
    const me = this.me();
    const now = this.ctx.now();
    const rec: ChatMessage = {
      id: newMessageId(),
      conv: th.conv,
      dir: 'out',
      text: '',
      sentAt: now,
      ts: null,
      tick: 'pending',
      wire: null,
      n: th.nextOrder(),
      op,
      sender: me,
    };
    if (op.t === 'timer') await this.timer(th, rec.id, op.seconds, me, now);
    else {
      const target = th.messages().find((m) => m.id === op.target);
      if (!target) return;
      const r = applyOp(target, op, me, now, me);
      if (r.kind === 'refused') throw new Error(r.reason);
      if (r.kind === 'applied') await this.store(th, r.message, r.removedFile);
    }
    // Sent after it is applied here: what the others see never runs ahead of this device.
    await th.send(rec);
  }

  /**
   * Theirs (or ours from another device). Idempotent: a control seen before (same id) is
   * skipped, and the rules themselves ignore what is older than the state.
   */
  async receive(th: Thread, id: string, op: Op, by: string, at: number, ts: number): Promise<void> {
    if (th.messages().some((m) => m.id === id || m.id === `timer-${id}`)) return;
    if (op.t === 'timer') return this.timer(th, id, op.seconds, by, at);
    const target = th.messages().find((m) => m.id === op.target);
    if (!target) {
      // Not here yet (reordered, or still on its way): kept, hidden, and applied when it arrives.
      await th.put({
        id,
        conv: th.conv,
        dir: 'in',
        text: '',
        sentAt: at,
        ts,
        tick: 'read',
        wire: null,
        op,
        sender: by,
      });
      return;
    }
    const r = applyOp(target, op, by, at, this.me());
    if (r.kind === 'refused') console.warn(`hush: refused a ${op.t} (${r.reason})`, id);
    else if (r.kind === 'applied') await this.store(th, r.message, r.removedFile);
  }

  /** A message just arrived: controls that waited for it are applied now, then dropped. */
  async arrived(th: Thread, id: string): Promise<void> {
    const waiting = pendingOps(th.messages(), id);
    for (const w of waiting) {
      const target = th.messages().find((m) => m.id === id);
      if (!target || !w.op || w.op.t === 'timer') break;
      const r = applyOp(target, w.op, w.sender ?? '', w.sentAt, this.me());
      if (r.kind === 'applied') await this.store(th, r.message, r.removedFile);
      await th.remove(w.id);
    }
  }

  /** "Delete for me": gone from this device only. */
  async removeLocal(th: Thread, id: string): Promise<void> {
    const m = th.messages().find((x) => x.id === id);
    if (!m || !isOpTarget(m)) return;
    await th.remove(id);
    if (m.file) await this.ctx.history.deleteAttachment(m.file.id);
    await this.refreshPreview(th);
  }

  private async store(th: Thread, m: ChatMessage, removedFile?: string): Promise<void> {
    await th.put(m);
    if (removedFile) await this.ctx.history.deleteAttachment(removedFile);
    await this.refreshPreview(th);
  }

  async refreshPreview(th: Thread): Promise<void> {
    const shown = visibleMessages(th.messages()).filter((m) => m.dir !== 'event');
    await th.savePreview(preview(shown[shown.length - 1]));
  }

  /** A timer change: the newest setting wins; every change is a notice where it happened. */
  private async timer(th: Thread, id: string, seconds: number, by: string, at: number): Promise<void> {
    const next = { seconds, at };
    if (newerTimer(th.timer(), next)) await th.saveTimer(next);
    const who = by === this.me() ? 'You' : await th.username(by);
    await th.put({
      id: `timer-${id}`,
      conv: th.conv,
      dir: 'event',
      text: timerNotice(who, seconds),
      sentAt: at,
      ts: at,
      tick: 'read',
      wire: null,
      n: th.nextOrder(),
    });
  }
}

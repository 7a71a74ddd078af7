import { type Op, replyTo } from '../core/message-ops.js';
import { describe } from '../core/send-policy.js';
import type { Attachments } from './attachments.js';
import type { EngineContext } from './context.js';
import { Expiry } from './expiry.js';
import type { Groups } from './groups.js';
import type { History } from './history.js';
import { MessageOps, type Thread } from './message-ops.js';
import type { Outbox } from './outbox.js';
import { directThread } from './threads.js';
import type { MessageActions } from './types.js';

const GROUP_PREFIX = 'g:';

/**
 * The message actions behind the views' Reply, React, Edit, Delete for everyone, Delete for me,
 * Forward and Disappearing messages, for 1:1 chats and groups alike. A conversation is named by its
 * history key (ChatMessage.conv): a peer's user id, or `g:<groupId>`.
 */
export class Messages implements MessageActions {
  readonly ops: MessageOps;
  readonly expiry: Expiry;

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly outbox: Outbox,
    private readonly attachments: Attachments,
    private readonly groups: () => Groups | null,
  ) {
    this.ops = new MessageOps(ctx);
    this.expiry = new Expiry(
      ctx,
      () => this.threads(),
      this.ops,
      async (gid) => {
        const gs = this.groups();
        return gs ? gs.memberDevices(gid) : [];
      },
    );
    // The history opens at boot (or unlock): what expired while the page was closed goes first.
    let ready = false;
    ctx.store.subscribe(() => {
      const now = ctx.state.phase === 'ready';
      if (now && !ready) ctx.background(() => this.expiry.sweep());
      if (!now && ready) this.expiry.reset();
      ready = now;
    });
  }

  direct(peer: string): Thread {
    return directThread(this.ctx, this.history, peer, (m) => this.outbox.queue(m));
  }

  thread(conv: string): Thread | null {
    if (!conv.startsWith(GROUP_PREFIX)) return this.history.conv(conv) ? this.direct(conv) : null;
    const gs = this.groups();
    return gs ? gs.thread(conv.slice(GROUP_PREFIX.length)) : null;
  }

  private threads(): Thread[] {
    const direct = this.ctx.state.conversations.map((c) => this.direct(c.peer));
    return [...direct, ...(this.groups()?.threads() ?? [])];
  }

  private async run(work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      this.ctx.store.update({ notice: describe(e) });
    }
  }

  private op(conv: string, op: Op): Promise<void> {
    return this.run(async () => {
      const th = this.thread(conv);
      if (th) await this.ops.local(th, op);
    });
  }

  react(conv: string, id: string, emoji: string | null): Promise<void> {
    return this.op(conv, { t: 'react', target: id, emoji });
  }
  edit(conv: string, id: string, text: string): Promise<void> {
    if (text.trim() === '') return Promise.resolve();
    return this.op(conv, { t: 'edit', target: id, text });
  }
  deleteForEveryone(conv: string, id: string): Promise<void> {
    return this.op(conv, { t: 'delete', target: id });
  }
  setDisappearing(conv: string, seconds: number): Promise<void> {
    return this.op(conv, { t: 'timer', seconds });
  }
  deleteForMe(conv: string, id: string): Promise<void> {
    return this.run(async () => {
      const th = this.thread(conv);
      if (th) await this.ops.removeLocal(th, id);
    });
  }

  /** Sends `text` quoting message `id` of the same conversation. */
  reply(conv: string, id: string, text: string): Promise<void> {
    return this.run(async () => {
      const th = this.thread(conv);
      const m = th?.messages().find((x) => x.id === id);
      const me = this.ctx.state.me?.userId;
      if (!th || !m || !me || text.trim() === '') return;
      await this.sendTo(conv, text, { reply: replyTo(m, me) });
    });
  }

  /**
   * Sends a copy of message `id` to conversation `to`, marked "Forwarded", encrypted for its
   * members. A file is uploaded again from this device's copy under a new key (fetched first if
   * this device never kept it), so the server cannot link the two messages.
   */
  forward(conv: string, id: string, to: string): Promise<void> {
    return this.run(async () => {
      const m = this.thread(conv)
        ?.messages()
        .find((x) => x.id === id);
      if (!m || m.deleted || m.op || m.dir === 'event' || m.undecryptable) return;
      if (!m.file) return this.sendTo(to, m.text, { forwarded: true });
      const bytes = await this.attachments.bytes(m.file);
      const file = {
        name: m.file.name,
        mime: m.file.mime,
        bytes,
        ...(m.file.voiceMs === undefined ? {} : { voiceMs: m.file.voiceMs }),
      };
      if (!to.startsWith(GROUP_PREFIX)) return this.attachments.sendFile(to, file, m.text, { forwarded: true });
      const gs = this.groups();
      const gid = to.slice(GROUP_PREFIX.length);
      if (gs)
        await this.attachments.upload(
          file,
          gs.recipients(gid),
          (ref) => gs.send(gid, m.text, { file: ref, forwarded: true }),
          to,
        );
    });
  }

  targets(): { conv: string; name: string }[] {
    const chats = this.ctx.state.conversations.map((c) => ({ conv: c.peer, name: c.username }));
    const gs = this.groups()?.view.groups.filter((g) => g.state === 'active') ?? [];
    return [...chats, ...gs.map((g) => ({ conv: `${GROUP_PREFIX}${g.id}`, name: g.name || 'New group' }))];
  }

  private async sendTo(
    conv: string,
    text: string,
    extras: { reply?: ReturnType<typeof replyTo>; forwarded?: boolean },
  ) {
    if (!conv.startsWith(GROUP_PREFIX)) return this.outbox.send(conv, text, undefined, extras);
    await this.groups()?.send(conv.slice(GROUP_PREFIX.length), text, extras);
  }
}

import type { DeliverFrame } from '@hush/protocol';
import {
  acceptAnnouncement,
  applyGroupReceipt,
  decodeGroupContent,
  type GroupContent,
  GroupContentError,
  type GroupRecord,
  isAdmin,
  rosterNotice,
} from '../core/groups.js';
import type { Op } from '../core/message-ops.js';
import type { ChatMessage } from '../core/model.js';
import type { GroupIncoming } from './group-ports.js';
import { type GroupState, groupConv } from './group-state.js';
import { TYPING_SHOW_MS } from './typing.js';

/** Group deliveries (welcome, commit, message): process in mailbox order, store, then ack. */
export class GroupInbox {
  private readonly typingTimers = new Map<string, unknown>();

  constructor(
    private readonly g: GroupState,
    /** Hooks into the rest of the engine: receipts to send, an admin's duty to remove a leaver. */
    private readonly hooks: {
      delivered(groupId: string, id: string): void;
      readIfOpen(groupId: string): void;
      leaverToRemove(groupId: string, userId: string): void;
      /** A reaction, edit, delete or timer (engine/message-ops.ts). */
      op(groupId: string, id: string, op: Op, by: string, at: number, ts: number): Promise<void> | undefined;
      /** A message was stored: controls that waited for it apply now. */
      arrived(groupId: string, id: string): Promise<void>;
    },
  ) {}

  /** Runs inside the group queue. Anything thrown is a local failure: the envelope stays unacked. */
  async receive(f: DeliverFrame): Promise<void> {
    const tag = f.group!;
    if (tag.kind === 'welcome') await this.welcome(f);
    else {
      const rec = this.g.rec(tag.id);
      // Removed or left: nothing more is shown (the gateway no longer routes to us anyway).
      if (rec && rec.state === 'active')
        await this.message(rec, f, await this.g.port.process(tag.id, f.body, this.g.learn));
    }
    this.g.ctx.link?.ack(f.seq);
  }

  private async welcome(f: DeliverFrame): Promise<void> {
    let joined: { groupId: string } | null;
    try {
      joined = await this.g.port.join(f.body, this.g.learn);
    } catch (e) {
      // A leaf failed the binding check, or the welcome is malformed: refused, and acked.
      console.warn('hush: refused a group welcome', f.id, e);
      return;
    }
    if (!joined) return;
    const now = this.g.ctx.now();
    const old = this.g.rec(joined.groupId);
    const leaves = (await this.g.port.members(joined.groupId)) ?? [];
    const rec: GroupRecord = {
      id: joined.groupId,
      // Name and admins come in the first announcement after this welcome (core/groups.ts).
      name: old?.name ?? '',
      admins: old?.admins ?? [],
      people: await this.g.peopleOf(leaves),
      leaving: [],
      createdAt: old?.createdAt ?? now,
      lastAt: now,
      lastText: old?.lastText ?? '',
      unread: old?.unread ?? 0,
      state: 'active',
    };
    await this.g.saveGroup(rec);
    const by = f.from.user === this.g.me ? 'One of your devices' : await this.g.username(f.from.user);
    await this.g.notice(rec.id, `${by} added you`);
  }

  private async message(rec: GroupRecord, f: DeliverFrame, r: GroupIncoming): Promise<void> {
    if (r.kind === 'refused') {
      console.warn(`hush: refused a group ${f.group!.kind} (${r.reason}: ${r.detail})`, f.id);
      if (f.group!.kind === 'message' && r.reason !== 'not-member') await this.undecryptable(rec, f);
      return;
    }
    if (r.kind === 'commit') return this.commit(rec, r);
    let content: GroupContent;
    try {
      content = decodeGroupContent(r.plaintext);
    } catch (e) {
      if (e instanceof GroupContentError) return this.undecryptable(rec, f);
      throw e;
    }
    const from = r.sender.userId;
    const fromMe = from === this.g.me;
    switch (content.t) {
      case 'text':
        return this.text(rec, f, content, from, fromMe);
      case 'receipt': {
        if (fromMe) return;
        const others = rec.people.map((p) => p.userId).filter((u) => u !== this.g.me);
        const changed = applyGroupReceipt(this.g.messages(rec.id), from, content.kind, content.ids, others);
        for (const m of changed) await this.g.putMessage(rec.id, m);
        return;
      }
      case 'typing':
        if (!fromMe) await this.typing(rec.id, from, content.on);
        return;
      case 'group':
        if (!acceptAnnouncement(rec, from)) {
          // A member's own-device change is announced by that member: the same name, nothing to do.
          if (content.name !== rec.name || content.admins.join() !== rec.admins.join())
            console.warn('hush: ignored a group announcement from a non-admin', rec.id);
          return;
        }
        await this.g.saveGroup({ ...rec, name: content.name, admins: content.admins });
        return;
      case 'react':
      case 'edit':
      case 'delete':
      case 'timer': {
        const { v: _v, id, sentAt, ...op } = content;
        await this.hooks.op(rec.id, id, op as Op, from, sentAt, f.ts);
        return;
      }
      case 'leave': {
        if (fromMe) {
          // Another of our devices left: this one leaves with it (same account).
          await this.g.port.forget(rec.id);
          await this.g.saveGroup({ ...rec, state: 'left' });
          await this.g.notice(rec.id, 'You left the group');
          return;
        }
        const next = { ...rec, leaving: [...new Set([...rec.leaving, from])] };
        await this.g.saveGroup(next);
        await this.g.notice(rec.id, `${await this.g.username(from)} left`);
        if (this.g.me && isAdmin(next, this.g.me)) this.hooks.leaverToRemove(rec.id, from);
        return;
      }
    }
  }

  private async text(
    rec: GroupRecord,
    f: DeliverFrame,
    c: Extract<GroupContent, { t: 'text' }>,
    from: string,
    fromMe: boolean,
  ): Promise<void> {
    if (this.g.messages(rec.id).some((m) => m.id === c.id)) return;
    const m: ChatMessage = {
      id: c.id,
      conv: groupConv(rec.id),
      dir: fromMe ? 'out' : 'in',
      text: c.text,
      sentAt: c.sentAt,
      ts: f.ts,
      tick: fromMe ? 'sent' : 'delivered',
      n: this.g.nextOrder(),
      wire: {
        kind: 'received',
        frame: { type: 'deliver', seq: f.seq, id: f.id, from: f.from, ts: f.ts, body: f.body },
      },
      ...(fromMe ? { seenBy: {} } : { sender: from }),
      ...(c.file ? { file: c.file } : {}),
      ...(c.reply ? { reply: c.reply } : {}),
      ...(c.fwd ? { forwarded: true as const } : {}),
      ...(c.ttl ? { ttl: c.ttl, ...(fromMe ? { expiresAt: c.sentAt + c.ttl * 1000 } : {}) } : {}),
    };
    await this.g.putMessage(rec.id, m);
    await this.g.saveGroup({
      ...rec,
      lastAt: Math.max(rec.lastAt, f.ts),
      lastText: c.text || (c.file ? `File: ${c.file.name}` : ''),
      unread: rec.unread + (fromMe ? 0 : 1),
    });
    await this.hooks.arrived(rec.id, c.id);
    if (!fromMe) {
      await this.typing(rec.id, from, false);
      this.hooks.delivered(rec.id, c.id);
      this.hooks.readIfOpen(rec.id);
    }
  }

  private async commit(rec: GroupRecord, r: Extract<GroupIncoming, { kind: 'commit' }>): Promise<void> {
    const before = new Set(rec.people.map((p) => p.userId));
    const leaves = (await this.g.port.members(rec.id)) ?? [];
    const people = r.removedSelf ? rec.people : await this.g.peopleOf(leaves);
    const after = new Set(people.map((p) => p.userId));
    const added = [...after].filter((u) => !before.has(u));
    const removed = r.removedSelf ? [] : [...before].filter((u) => !after.has(u));
    const by = r.committer?.userId ?? null;
    const next: GroupRecord = { ...rec, people, leaving: rec.leaving.filter((u) => after.has(u)) };
    if (r.removedSelf) {
      // MLS made this device inactive: it holds no secret of any later epoch. Its keys go too.
      await this.g.port.forget(rec.id);
      await this.g.saveGroup({ ...next, state: 'removed' });
      await this.g.notice(rec.id, `${by ? await this.g.username(by) : 'An admin'} removed you from the group`);
      return;
    }
    await this.g.saveGroup(next);
    // Own-device changes (a linked or signed-out device) are not member changes.
    const byAdmin = by === null || isAdmin(rec, by) || (added.length === 0 && removed.every((u) => u === by));
    const names = async (ids: string[]) => Promise.all(ids.map((u) => this.g.username(u)));
    const text = rosterNotice(by ? await this.g.username(by) : null, await names(added), await names(removed), byAdmin);
    if (text) await this.g.notice(rec.id, text);
  }

  private async undecryptable(rec: GroupRecord, f: DeliverFrame): Promise<void> {
    await this.g.putMessage(rec.id, {
      id: `x-${f.id}`,
      conv: groupConv(rec.id),
      dir: 'in',
      text: '',
      sentAt: f.ts,
      ts: f.ts,
      tick: 'delivered',
      n: this.g.nextOrder(),
      wire: null,
      undecryptable: true,
      sender: f.from.user,
    });
  }

  private async typing(groupId: string, userId: string, on: boolean): Promise<void> {
    const name = await this.g.username(userId);
    const key = `${groupId}/${userId}`;
    const { clock } = this.g.ctx.deps;
    const t = this.typingTimers.get(key);
    if (t !== undefined) clock.clearTimeout(t);
    this.typingTimers.delete(key);
    const cur = (this.g.view.typing[groupId] ?? []).filter((n) => n !== name);
    if (on) {
      cur.push(name);
      this.typingTimers.set(
        key,
        clock.setTimeout(() => void this.typing(groupId, userId, false), TYPING_SHOW_MS),
      );
    }
    this.g.set({ typing: { ...this.g.view.typing, [groupId]: cur } });
  }

  reset(): void {
    for (const t of this.typingTimers.values()) this.g.ctx.deps.clock.clearTimeout(t);
    this.typingTimers.clear();
  }
}

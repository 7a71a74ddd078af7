/**
 * Group chats on MLS (libs/crypto PROTOCOL.md §9; docs/ARCHITECTURE.md "Groups in the web client").
 *
 * Every device is a leaf; a message is encrypted once and fanned out by the gateway; name, admins,
 * receipts, typing and "I leave" are encrypted group messages (core/groups.ts). The views read
 * `view` through `subscribe`, like Devices; the engine hands group deliveries here.
 */
import type { DeliverFrame } from '@hush/protocol';
import { HushError } from '@hush/protocol';
import type { FileRef } from '../core/content.js';
import { encodeGroupContent } from '../core/groups.js';
import { markRead } from '../core/model.js';
import { describe } from '../core/send-policy.js';
import type { EngineContext } from './context.js';
import type { Conversations } from './conversations.js';
import { GroupAdmin } from './group-admin.js';
import { GroupInbox } from './group-inbox.js';
import type { GroupCryptoPort } from './group-ports.js';
import { GroupState, type GroupsView, groupConv } from './group-state.js';
import { groupContentOf, groupRecipients, groupThread } from './group-thread.js';
import type { PeerKeys } from './keys.js';
import type { MessageOps, Thread } from './message-ops.js';
import { outgoingMessage, previewText, type SendExtras } from './outgoing.js';
import { TypingSender } from './typing.js';

export type { GroupsView } from './group-state.js';

/** After a device was linked: look for its key packages now and a few times more (it uploads them once it starts). */
const LINKED_DEVICE_RETRIES_MS = [0, 3_000, 10_000, 30_000];

export class Groups {
  private readonly g: GroupState;
  private readonly inbox: GroupInbox;
  private readonly admin: GroupAdmin;
  private open: string | null = null;
  private loaded = false;
  private readonly typingSent: TypingSender;
  private readonly flushing = new Map<string, Promise<void>>();

  constructor(
    ctx: EngineContext,
    port: GroupCryptoPort,
    conversations: Conversations,
    keys: PeerKeys,
    private readonly ops?: MessageOps,
  ) {
    this.g = new GroupState(ctx, port, conversations, keys);
    this.admin = new GroupAdmin(this.g);
    this.typingSent = new TypingSender(ctx.deps.clock, (gid, on) => this.control(gid, { v: 1, t: 'typing', on }));
    this.inbox = new GroupInbox(this.g, {
      delivered: (gid, id) => this.control(gid, { v: 1, t: 'receipt', kind: 'delivered', ids: [id] }),
      readIfOpen: (gid) => {
        if (this.open === gid) ctx.background(() => this.readOpen());
      },
      op: (gid, id, op, by, at, ts) => this.ops?.receive(this.thread(gid), id, op, by, at, ts),
      arrived: async (gid, id) => this.ops?.arrived(this.thread(gid), id),
      leaverToRemove: (gid, userId) =>
        ctx.background(() => this.admin.remove(gid, userId).catch((e) => console.warn('hush: leaver not removed', e))),
    });
    // The history opens at boot (or unlock) and is wiped at sign-out: follow it.
    ctx.store.subscribe(() => {
      const ready = ctx.state.phase === 'ready';
      if (ready && !this.loaded) {
        this.loaded = true;
        ctx.background(() => this.g.load());
      } else if (!ready && this.loaded) this.reset();
    });
  }

  get view(): GroupsView {
    return this.g.view;
  }
  subscribe(l: () => void): () => void {
    return this.g.subscribe(l);
  }

  private reset(): void {
    this.loaded = false;
    this.open = null;
    this.inbox.reset();
    this.typingSent.reset();
    this.g.clear();
  }

  /** A group delivery from the socket, in mailbox order. */
  deliver(f: DeliverFrame): void {
    this.g.ctx.background(async () => {
      try {
        await this.g.queue(() => this.inbox.receive(f));
      } catch (e) {
        this.g.ctx.store.update({
          notice: 'A group message could not be saved on this device. It will be fetched again.',
        });
        throw e;
      }
    });
  }

  /** Connected: key packages topped up, messages waiting to go sent, our devices' leaves in step. */
  async online(): Promise<void> {
    try {
      await this.admin.upkeep();
    } catch (e) {
      console.warn('hush: MLS key packages not published', e);
    }
    for (const rec of this.g.view.groups) {
      if (rec.state !== 'active') continue;
      await this.flush(rec.id);
      await this.admin.syncOwnDevices(rec.id).catch((e) => console.warn('hush: own devices not synced', e));
    }
  }

  /** A device was linked to our account: add it to every group (once it has published key packages). */
  ownDevicesChanged(): void {
    const { clock } = this.g.ctx.deps;
    for (const ms of LINKED_DEVICE_RETRIES_MS)
      clock.setTimeout(() => {
        for (const rec of this.g.view.groups)
          if (rec.state === 'active')
            this.g.ctx.background(() => this.admin.syncOwnDevices(rec.id).catch(() => undefined));
      }, ms);
  }

  private async run<T>(work: () => Promise<T>): Promise<T | null> {
    this.g.set({ busy: true, error: null });
    try {
      const r = await work();
      this.g.set({ busy: false });
      return r;
    } catch (e) {
      this.g.set({ busy: false, error: describe(e) });
      return null;
    }
  }

  create(name: string, usernames: string[]): Promise<string | null> {
    return this.run(() => this.admin.create(name, usernames));
  }
  async addMembers(groupId: string, usernames: string[]): Promise<boolean> {
    return (await this.run(() => this.admin.add(groupId, usernames))) !== null;
  }
  async removeMember(groupId: string, userId: string): Promise<void> {
    await this.run(() => this.admin.remove(groupId, userId));
  }
  async leave(groupId: string): Promise<void> {
    await this.run(() => this.admin.leave(groupId));
  }
  clearError(): void {
    this.g.set({ error: null });
  }

  /** The group as message operations see it (engine/message-ops.ts). */
  thread(groupId: string): Thread {
    return groupThread(this.g, groupId, async (m) => {
      await this.g.putMessage(groupId, { ...m, seenBy: {} });
      await this.flush(groupId);
    });
  }
  /** Every group, for the expiry sweep. */
  threads(): Thread[] {
    return this.g.view.groups.map((r) => this.thread(r.id));
  }
  /** How many devices fetch a file sent to this group. */
  /** Every member device but this one (where the gateway's fan-out delivers our messages). */
  async memberDevices(groupId: string): Promise<{ user: string; device: string }[]> {
    const me = this.g.ctx.state.me;
    const leaves = (await this.g.port.members(groupId).catch(() => null)) ?? [];
    return leaves
      .filter((l) => !(l.userId === me?.userId && l.deviceId === me?.deviceId))
      .map((l) => ({ user: l.userId, device: l.deviceId }));
  }

  recipients(groupId: string): number {
    return groupRecipients(this.g, groupId);
  }

  /** Stores the message first (pending), then encrypts once and posts it for the gateway's fan-out. */
  async send(groupId: string, text: string, extras: SendExtras & { file?: FileRef } = {}): Promise<void> {
    const rec = this.g.rec(groupId);
    if (rec?.state !== 'active' || (text.trim() === '' && !extras.file)) return;
    const now = this.g.ctx.now();
    const m = outgoingMessage(groupConv(groupId), text, now, this.g.nextOrder(), extras, rec.timer?.seconds);
    await this.g.putMessage(groupId, { ...m, seenBy: {} });
    await this.g.saveGroup({ ...rec, lastAt: now, lastText: previewText(m) });
    this.typingSent.sent(groupId);
    await this.flush(groupId);
  }

  /**
   * Posts what waits: each message is encrypted once and its ciphertext kept with it, so a resend
   * after a lost answer is the same bytes under the same id (the gateway dedupes it per device).
   */
  private flush(groupId: string): Promise<void> {
    // One flush per group at a time: two would encrypt the same pending message twice.
    const p = (this.flushing.get(groupId) ?? Promise.resolve()).then(() => this.flushNow(groupId));
    const tail = p.catch(() => undefined);
    this.flushing.set(groupId, tail);
    void tail.then(() => {
      if (this.flushing.get(groupId) === tail) this.flushing.delete(groupId);
    });
    return p;
  }

  private async flushNow(groupId: string): Promise<void> {
    for (const m of this.g.messages(groupId)) {
      if (m.dir !== 'out' || m.tick !== 'pending' || this.g.ctx.state.connection !== 'online' || !this.g.api) continue;
      try {
        let body = m.wire?.kind === 'sent' ? m.wire.frame.envelopes[0]?.body : undefined;
        if (!body) {
          const content = encodeGroupContent(groupContentOf(m));
          body = await this.g.queue(() => this.g.port.encrypt(groupId, content));
          const wire = {
            kind: 'sent' as const,
            frame: {
              type: 'send' as const,
              id: m.id,
              envelopes: [{ to: { user: `group ${groupId}`, device: '*' }, body }],
            },
          };
          await this.g.putMessage(groupId, { ...m, wire });
        }
        const r = await this.g.api.groupMessage(groupId, m.id, body);
        const cur = this.g.messages(groupId).find((x) => x.id === m.id) ?? m;
        await this.g.putMessage(groupId, { ...cur, ts: r.ts, tick: cur.tick === 'pending' ? 'sent' : cur.tick });
      } catch (e) {
        // Refused for good (e.g. GROUP_NOT_MEMBER: this device was removed): failed, with why.
        if (e instanceof HushError && !e.retryable) {
          const cur = this.g.messages(groupId).find((x) => x.id === m.id) ?? m;
          await this.g.putMessage(groupId, { ...cur, tick: 'failed', error: e.message });
        } else return; // offline or a transient failure: it waits for the next connection
      }
    }
  }

  /** Receipts and typing: sent now or not at all. */
  private control(groupId: string, content: Parameters<GroupAdmin['post']>[1]): void {
    const rec = this.g.rec(groupId);
    if (rec?.state !== 'active' || this.g.ctx.state.connection !== 'online') return;
    this.g.ctx.background(() => this.admin.post(groupId, content).catch(() => undefined));
  }

  typing(groupId: string, on: boolean): void {
    this.typingSent.input(groupId, on);
  }

  /** The group on screen (null: none); what the user can see there is read. */
  openGroup(groupId: string | null): void {
    this.open = groupId;
    if (groupId) this.g.ctx.background(() => this.readOpen());
  }
  visibilityChanged(): void {
    if (this.open) this.g.ctx.background(() => this.readOpen());
  }

  private async readOpen(): Promise<void> {
    const gid = this.open;
    const visible = this.g.ctx.deps.isVisible;
    if (!gid || (visible && !visible())) return;
    const r = markRead(this.g.messages(gid), this.g.ctx.now());
    const rec = this.g.rec(gid);
    if (rec && rec.unread !== 0) await this.g.saveGroup({ ...rec, unread: 0 });
    if (r.ids.length === 0) return;
    const ids = new Set(r.ids);
    for (const m of r.list) if (ids.has(m.id)) await this.g.putMessage(gid, m);
    const read = r.ids.filter((i) => !i.startsWith('x-'));
    if (read.length > 0) this.control(gid, { v: 1, t: 'receipt', kind: 'read', ids: read });
  }
}

import type { GroupPerson, GroupRecord } from '../core/groups.js';
import { mergeOps } from '../core/message-ops.js';
import { type ChatMessage, compareMessages, insertMessage } from '../core/model.js';
import type { EngineContext } from './context.js';
import type { Conversations } from './conversations.js';
import type { GroupApi, GroupCryptoPort, GroupLeaf, LearnKeys } from './group-ports.js';
import type { PeerKeys } from './keys.js';

/** What the group views read (engine/groups.ts); replaced, never mutated. */
export interface GroupsView {
  /** Newest activity first. */
  groups: GroupRecord[];
  messages: Record<string, ChatMessage[]>;
  /** Usernames typing, per group. */
  typing: Record<string, string[]>;
  busy: boolean;
  error: string | null;
}

/** Group messages live in the history under this conversation key (never a user id: 'g:' is not base32). */
export const groupConv = (groupId: string) => `g:${groupId}`;

/**
 * The state engine/groups.ts's parts share: the view, one queue for everything that touches a
 * group's MLS state (deliveries and our own commits never interleave), and the writes that keep
 * the view and the encrypted store in step (written first, shown after, as History does).
 */
export class GroupState {
  private v: GroupsView = { groups: [], messages: {}, typing: {}, busy: false, error: null };
  private readonly listeners = new Set<() => void>();
  private q: Promise<unknown> = Promise.resolve();
  private order = 0;

  constructor(
    readonly ctx: EngineContext,
    readonly port: GroupCryptoPort,
    private readonly conversations: Conversations,
    private readonly keys: PeerKeys,
  ) {}

  get view(): GroupsView {
    return this.v;
  }
  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  set(p: Partial<GroupsView>): void {
    this.v = { ...this.v, ...p };
    for (const l of this.listeners) l();
  }
  clear(): void {
    this.order = 0;
    this.set({ groups: [], messages: {}, typing: {}, busy: false, error: null });
  }

  get api(): GroupApi | null {
    return this.ctx.api?.groups ?? null;
  }
  get me(): string | null {
    return this.ctx.state.me?.userId ?? null;
  }

  queue<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.q.then(fn, fn);
    this.q = p.catch(() => undefined);
    return p;
  }

  rec(id: string): GroupRecord | undefined {
    return this.v.groups.find((g) => g.id === id);
  }
  messages(id: string): ChatMessage[] {
    return this.v.messages[id] ?? [];
  }
  nextOrder(): number {
    return ++this.order;
  }

  async load(): Promise<void> {
    const groups = await this.port.groups();
    const messages: Record<string, ChatMessage[]> = {};
    for (const g of groups) {
      const list = await this.ctx.history.messages(groupConv(g.id));
      for (const m of list) {
        this.order = Math.max(this.order, m.n ?? 0);
        if (m.expiresAt !== undefined) this.ctx.expiryHook?.(m.expiresAt);
      }
      messages[g.id] = list.sort(compareMessages);
    }
    this.set({ groups: sortGroups(groups), messages });
  }

  async saveGroup(g: GroupRecord): Promise<void> {
    await this.port.putGroup(g);
    this.set({ groups: sortGroups([...this.v.groups.filter((x) => x.id !== g.id), g]) });
  }

  async putMessage(groupId: string, given: ChatMessage): Promise<void> {
    const before = this.messages(groupId).find((x) => x.id === given.id);
    // Reactions, edits and deletes are not lost to a version computed before they landed.
    const m = before ? mergeOps(before, given) : given;
    await this.ctx.history.putMessage(m);
    if (m.expiresAt !== undefined) this.ctx.expiryHook?.(m.expiresAt);
    const list = this.messages(groupId);
    const idx = list.findIndex((x) => x.id === m.id);
    let next: ChatMessage[];
    if (idx === -1) next = insertMessage(list, m) ?? list;
    else {
      next = [...list];
      next[idx] = mergeOps(list[idx]!, m);
    }
    this.set({ messages: { ...this.v.messages, [groupId]: next.sort(compareMessages) } });
  }

  /** Deletes a message from the store, then from the view (HistoryPort.deleteMessage). */
  async removeMessage(groupId: string, id: string): Promise<void> {
    await this.ctx.history.deleteMessage(groupConv(groupId), id);
    this.set({ messages: { ...this.v.messages, [groupId]: this.messages(groupId).filter((m) => m.id !== id) } });
  }

  /** A notice in the group's timeline (member changes, removal). */
  async notice(groupId: string, text: string): Promise<void> {
    const at = this.ctx.now();
    await this.putMessage(groupId, {
      id: `ev-${at}-${this.nextOrder()}`,
      conv: groupConv(groupId),
      dir: 'event',
      text,
      sentAt: at,
      ts: at,
      tick: 'read',
      wire: null,
      n: this.order,
    });
  }

  /** A username for a user id: known people and conversations first, then the directory. */
  async username(userId: string): Promise<string> {
    if (userId === this.me) return this.ctx.state.me!.username;
    for (const g of this.v.groups) {
      const p = g.people.find((x) => x.userId === userId);
      if (p && p.username !== p.userId) return p.username;
    }
    const c = this.ctx.state.conversations.find((x) => x.peer === userId);
    if (c) return c.username;
    try {
      return (await this.ctx.api!.profile(userId)).username;
    } catch {
      return userId;
    }
  }

  /** People of the roster (authenticated by MLS), one entry per account with its device count. */
  async peopleOf(leaves: GroupLeaf[]): Promise<GroupPerson[]> {
    const count = new Map<string, number>();
    for (const l of leaves) count.set(l.userId, (count.get(l.userId) ?? 0) + 1);
    const out: GroupPerson[] = [];
    for (const [userId, devices] of count) out.push({ userId, devices, username: await this.username(userId) });
    return out;
  }

  /**
   * Fetches and verifies an account's keys so its leaves can be checked: our own list, or a
   * member's bundle under the trust policy (a member becomes a contact, so their safety number can
   * be verified from the 1:1 conversation, which is what turns the group green).
   */
  readonly learn: LearnKeys = async (userId) => {
    if (userId === this.me) {
      await this.ctx.serial(() => this.keys.refreshOwnDevices()).catch(() => undefined);
      return;
    }
    await this.conversations.ensure(userId);
    await this.ctx.serial(() => this.keys.refreshBundle(userId)).catch(() => undefined);
  };
}

export function sortGroups(list: GroupRecord[]): GroupRecord[] {
  return [...list].sort((a, b) => b.lastAt - a.lastAt || a.id.localeCompare(b.id));
}

import { mergeOps } from '../core/message-ops.js';
import {
  advanceTick,
  type ChatMessage,
  type Conversation,
  compareMessages,
  insertMessage,
  sortConversations,
} from '../core/model.js';
import { type ChangeSource, changeNotice, observeIdentity } from '../core/trust.js';
import type { EngineContext } from './context.js';
import { WriteBatch } from './write-batch.js';

/**
 * The conversations and messages in AppState, kept in step with the HistoryPort: every change is
 * shown and written through. The views read AppState; nothing else writes history.
 */
export class History {
  /** Next local order number (ChatMessage.n); continues from the stored history. */
  private order = 0;
  /**
   * Every history write goes through one coalescing batch: writes that arrive while one is on its
   * way to disk share the next transaction (one flush for a burst's messages, ticks and
   * conversations instead of one each). Each caller still waits for its own write to be durable.
   */
  private readonly batch: WriteBatch;

  constructor(private readonly ctx: EngineContext) {
    this.batch = new WriteBatch((ms, cs) => this.ctx.history.putMany(ms, cs));
  }

  conv(peer: string): Conversation | undefined {
    return this.ctx.state.conversations.find((c) => c.peer === peer);
  }
  messages(peer: string): ChatMessage[] {
    return this.ctx.state.messages[peer] ?? [];
  }
  findMessage(peer: string, id: string): ChatMessage | undefined {
    return this.ctx.state.messages[peer]?.find((m) => m.id === id);
  }
  nextOrder(): number {
    return ++this.order;
  }

  /** Loads every conversation and message of the open history into AppState. */
  async load(): Promise<void> {
    const h = this.ctx.history;
    const convs = await h.conversations();
    const messages: Record<string, ChatMessage[]> = {};
    for (const c of convs) {
      let list: ChatMessage[] = [];
      for (const m of await h.messages(c.peer)) {
        list = insertMessage(list, m) ?? list;
        this.order = Math.max(this.order, m.n ?? 0);
        if (m.expiresAt !== undefined) this.ctx.expiryHook?.(m.expiresAt);
      }
      messages[c.peer] = list.sort(compareMessages);
    }
    this.ctx.store.update({ conversations: sortConversations(convs), messages });
  }

  // Written first, shown after: what the user sees is stored, and a failed write (quota,
  // IndexedDB error) leaves AppState as it was, so a redelivered message is not mistaken for a
  // stored one.

  async saveConv(c: Conversation): Promise<void> {
    await this.batch.write([], [c]);
    this.showConv(c);
  }

  private showConv(c: Conversation): void {
    this.ctx.store.update((s) => ({
      conversations: sortConversations([...s.conversations.filter((x) => x.peer !== c.peer), c]),
    }));
  }

  /** A message and its conversation in one durable write, then shown together (a new outgoing message). */
  async putMessageAndConv(m: ChatMessage, c: Conversation): Promise<void> {
    await this.batch.write([m], [c]);
    this.showMessages(m.conv, [m]);
    this.showConv(c);
  }

  /** Adds a conversation (and its empty message list) unless one exists. */
  async addConv(c: Conversation): Promise<void> {
    await this.saveConv(c);
    this.ctx.store.update((s) => ({ messages: { ...s.messages, [c.peer]: s.messages[c.peer] ?? [] } }));
  }

  async putMessage(m: ChatMessage): Promise<void> {
    const v = this.forward(m);
    await this.batch.write([v], []);
    this.showMessages(v.conv, [v]);
  }

  /**
   * Ticks only move forward (core/model.ts advanceTick): an update computed from an older copy
   * (an "accepted" that raced a "delivered" receipt) must not take a tick back.
   */
  private forward(next: ChatMessage): ChatMessage {
    const cur = this.findMessage(next.conv, next.id);
    if (!cur) return next;
    // Reactions, edits and deletes are not lost to a version computed before they landed.
    const m = mergeOps(cur, next);
    if (cur.tick === m.tick) return m;
    const tick = advanceTick(cur.tick, m.tick);
    return tick === m.tick ? m : { ...m, tick };
  }

  /**
   * Puts these versions into the conversation's list as it is now (not as it was when the caller
   * read it: a list computed before an await would drop messages added meanwhile, which is how a
   * burst once lost one from the outbox's view).
   */
  private showMessages(peer: string, ms: readonly ChatMessage[]): void {
    if (ms.length === 0) return;
    for (const m of ms) if (m.expiresAt !== undefined) this.ctx.expiryHook?.(m.expiresAt);
    this.ctx.store.update((s) => {
      let next = [...(s.messages[peer] ?? [])];
      let resort = false;
      for (const m of ms) {
        const idx = next.findIndex((x) => x.id === m.id);
        if (idx === -1) next = insertMessage(next, m) ?? next;
        else {
          const cur = next[idx]!;
          if (cur.ts !== m.ts) resort = true;
          const tick = advanceTick(cur.tick, m.tick);
          next[idx] = mergeOps(cur, tick === m.tick ? m : { ...m, tick });
        }
      }
      if (resort) next.sort(compareMessages);
      return { messages: { ...s.messages, [peer]: next } };
    });
  }

  /**
   * Records the identity key seen for a peer (core/trust.ts observeIdentity) and, when it is a
   * change, puts a notice in the timeline where it happened.
   */
  async noteIdentity(peer: string, key: string, source: ChangeSource, at = this.ctx.now()): Promise<void> {
    const c = this.conv(peer);
    if (!c) return;
    const next = observeIdentity(c, key, at, source);
    if (next === c) return;
    if (next.keyChange && next.keyChange !== c.keyChange)
      await this.putMessage({
        id: `keychange-${at}-${key.slice(0, 8).replace(/[^A-Za-z0-9]/g, '')}`,
        conv: peer,
        dir: 'event',
        text: changeNotice(c.username),
        sentAt: at,
        ts: at,
        tick: 'read',
        wire: null,
        n: this.nextOrder(),
      });
    await this.saveConv(next);
  }

  /** Deletes a message from the store, then from the view (HistoryPort.deleteMessage). */
  async removeMessage(peer: string, id: string): Promise<void> {
    await this.ctx.history.deleteMessage(peer, id);
    this.ctx.store.update((s) => ({
      messages: { ...s.messages, [peer]: (s.messages[peer] ?? []).filter((m) => m.id !== id) },
    }));
  }

  /** Writes the messages that changed (receipts, reads) in one batch, then shows them. */
  async updateMessages(peer: string, changed: readonly ChatMessage[]): Promise<void> {
    if (changed.length === 0) return;
    const vs = changed.map((m) => this.forward(m));
    await this.batch.write(vs, []);
    this.showMessages(peer, vs);
  }
}

/** What linking a device copies over (engine/devices.ts): the history, both ways. */
export function linkHistory(ctx: EngineContext) {
  return {
    exportHistory: async () => ({
      conversations: ctx.state.conversations,
      messages: Object.values(ctx.state.messages).flat(),
    }),
    importHistory: async (convs: readonly Conversation[], msgs: readonly ChatMessage[]) => {
      for (const c of convs) await ctx.history.putConversation({ ...c, deviceNotice: null });
      for (const m of msgs) await ctx.history.putMessage(m);
    },
  };
}

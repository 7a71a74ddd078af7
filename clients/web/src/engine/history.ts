import {
  type ChatMessage,
  type Conversation,
  compareMessages,
  insertMessage,
  sortConversations,
} from '../core/model.js';
import { type ChangeSource, changeNotice, observeIdentity } from '../core/trust.js';
import type { EngineContext } from './context.js';

/**
 * The conversations and messages in AppState, kept in step with the HistoryPort: every change is
 * shown and written through. The views read AppState; nothing else writes history.
 */
export class History {
  /** Next local order number (ChatMessage.n); continues from the stored history. */
  private order = 0;

  constructor(private readonly ctx: EngineContext) {}

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
      }
      messages[c.peer] = list.sort(compareMessages);
    }
    this.ctx.store.update({ conversations: sortConversations(convs), messages });
  }

  // Written first, shown after: what the user sees is stored, and a failed write (quota,
  // IndexedDB error) leaves AppState as it was, so a redelivered message is not mistaken for a
  // stored one.

  async saveConv(c: Conversation): Promise<void> {
    await this.ctx.history.putConversation(c);
    this.ctx.store.update((s) => ({
      conversations: sortConversations([...s.conversations.filter((x) => x.peer !== c.peer), c]),
    }));
  }

  /** Adds a conversation (and its empty message list) unless one exists. */
  async addConv(c: Conversation): Promise<void> {
    await this.saveConv(c);
    this.ctx.store.update((s) => ({ messages: { ...s.messages, [c.peer]: s.messages[c.peer] ?? [] } }));
  }

  async putMessage(m: ChatMessage): Promise<void> {
    await this.ctx.history.putMessage(m);
    this.ctx.store.update((s) => {
      const list = s.messages[m.conv] ?? [];
      const idx = list.findIndex((x) => x.id === m.id);
      let next: ChatMessage[];
      if (idx === -1) next = insertMessage(list, m) ?? list;
      else {
        next = [...list];
        next[idx] = m;
        if (list[idx]!.ts !== m.ts) next = next.sort(compareMessages);
      }
      return { messages: { ...s.messages, [m.conv]: next } };
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

  /** Replaces a conversation's list (receipts, reads) and writes the messages that changed. */
  async replaceMessages(peer: string, list: ChatMessage[], changed: readonly ChatMessage[]): Promise<void> {
    for (const m of changed) await this.ctx.history.putMessage(m);
    this.ctx.store.update((s) => ({ messages: { ...s.messages, [peer]: list } }));
  }
}

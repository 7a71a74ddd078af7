import type { ChatMessage } from '../core/model.js';
import { SearchIndex, snippet } from '../core/search.js';
import type { EngineContext } from './context.js';

/** One result: where it is, when, and the text around the match. */
export interface SearchHit {
  id: string;
  conv: string;
  at: number;
  snippet: { before: string; match: string; after: string };
}

/** The index is written to the vault this long after the last change (a burst costs one write). */
export const SEARCH_SAVE_MS = 2_000;

/**
 * Message search (docs/ARCHITECTURE.md, "Message search"): an inverted index (core/search.ts)
 * over the local history, kept in step with AppState (every message shown is indexed; an edited
 * text is re-indexed; a message gone from the history is dropped), and stored in the vault, so
 * the index is encrypted at rest like the history itself and a reload does not re-tokenize it.
 * Everything runs on this device: search works offline.
 */
export class MessageSearch {
  private index = new SearchIndex();
  /** The text each indexed message had, to notice edits. */
  private readonly texts = new Map<string, string>();
  private seenMessages: AppStateMessages | null = null;
  private seenGroups: AppStateMessages | null = null;
  /** Group chats' messages by group id (engine/groups.ts), when groups exist. */
  private groups: { messages(): AppStateMessages } | null = null;
  private groupsCache: { from: AppStateMessages; byConv: AppStateMessages } | null = null;
  private loaded = false;
  private saveTimer: unknown;

  constructor(private readonly ctx: EngineContext) {
    ctx.store.subscribe(() => this.onState());
  }

  private onState(): void {
    const s = this.ctx.state;
    if (s.phase !== 'ready') {
      if (s.phase === 'signed-out' && this.loaded) this.reset();
      return;
    }
    if (!this.loaded) {
      this.loaded = true;
      this.ctx.background(() => this.load());
      return;
    }
    if (s.messages !== this.seenMessages || this.groupMessages() !== this.seenGroups) this.sync();
  }

  /**
   * Group chats are searched too: their messages live in the groups' own view, under the
   * conversation key `g:<groupId>` (the key the views open a group by).
   */
  attachGroups(groups: { view: { messages: AppStateMessages }; subscribe(l: () => void): unknown }): void {
    this.groups = { messages: () => groups.view.messages };
    groups.subscribe(() => this.onState());
  }

  private groupMessages(): AppStateMessages {
    const from = this.groups?.messages() ?? EMPTY;
    if (this.groupsCache?.from !== from) {
      const byConv = Object.fromEntries(Object.entries(from).map(([gid, list]) => [`g:${gid}`, list]));
      this.groupsCache = { from, byConv };
    }
    return this.groupsCache.byConv;
  }

  /** Every conversation's messages, 1:1 and group. */
  private all(): AppStateMessages {
    return { ...this.ctx.state.messages, ...this.groupMessages() };
  }

  private async load(): Promise<void> {
    const stored = await this.ctx.history.getSearchIndex().catch(() => undefined);
    if (stored) {
      try {
        this.index = SearchIndex.decode(stored);
      } catch {
        // A damaged or older index is rebuilt from the history below.
        this.index = new SearchIndex();
      }
    }
    this.sync(true);
  }

  /** Brings the index in line with the history shown now. */
  private sync(all = false): void {
    const prev = this.seenMessages && this.seenGroups ? { ...this.seenMessages, ...this.seenGroups } : null;
    const now = this.all();
    this.seenMessages = this.ctx.state.messages;
    this.seenGroups = this.groupMessages();
    let changed = false;
    const present = all ? new Set<string>() : null;
    for (const [conv, list] of Object.entries(now)) {
      if (!all && prev && prev[conv] === list) continue;
      const here = new Set<string>();
      for (const m of list) {
        here.add(m.id);
        present?.add(m.id);
        if (this.indexOne(m, all)) changed = true;
      }
      // Gone from a conversation that changed: deleted there.
      for (const [id, c] of this.convOf) if (c === conv && !here.has(id)) changed = this.drop(id) || changed;
    }
    if (present) for (const id of [...this.index.ids()]) if (!present.has(id)) changed = this.drop(id) || changed;
    if (changed || all) this.scheduleSave();
  }

  private readonly convOf = new Map<string, string>();

  /** `trustStored`: on load, an entry the stored index holds is taken as is (no re-tokenizing). */
  private indexOne(m: ChatMessage, trustStored: boolean): boolean {
    // Nothing deleted (for everyone, or a control message) stays findable.
    if (m.dir === 'event' || m.undecryptable) return false;
    if (m.deleted || m.op) return this.drop(m.id);
    const text = m.file ? `${m.text} ${m.file.name}` : m.text;
    if (this.texts.get(m.id) === text && this.index.has(m.id)) return false;
    if (trustStored && !this.texts.has(m.id) && this.index.has(m.id)) {
      this.texts.set(m.id, text);
      this.convOf.set(m.id, m.conv);
      return false;
    }
    this.texts.set(m.id, text);
    this.convOf.set(m.id, m.conv);
    this.index.add({ id: m.id, conv: m.conv, at: m.ts ?? m.sentAt }, text);
    return true;
  }

  private drop(id: string): boolean {
    const had = this.index.has(id);
    this.index.remove(id);
    this.texts.delete(id);
    this.convOf.delete(id);
    return had;
  }

  /** Removes a message from the index now (a deletion or a disappearing message). */
  forget(messageId: string): void {
    if (this.drop(messageId)) this.scheduleSave();
  }

  search(query: string): SearchHit[] {
    const out: SearchHit[] = [];
    for (const d of this.index.search(query)) {
      const m = (d.conv.startsWith('g:') ? this.groupMessages() : this.ctx.state.messages)[d.conv]?.find(
        (x) => x.id === d.id,
      );
      if (!m) continue;
      out.push({ id: d.id, conv: d.conv, at: d.at, snippet: snippet(m.text || m.file?.name || '', query) });
    }
    return out;
  }

  private scheduleSave(): void {
    const { clock } = this.ctx.deps;
    if (this.saveTimer !== undefined) clock.clearTimeout(this.saveTimer);
    this.saveTimer = clock.setTimeout(() => {
      this.saveTimer = undefined;
      if (this.ctx.state.phase !== 'ready') return;
      const encoded = this.index.encode();
      this.ctx.background(() => this.ctx.history.putSearchIndex(encoded));
    }, SEARCH_SAVE_MS);
  }

  /** Saves now (tests, and before a lock). */
  flush(): Promise<void> {
    const { clock } = this.ctx.deps;
    if (this.saveTimer !== undefined) clock.clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    return this.ctx.history.putSearchIndex(this.index.encode());
  }

  private reset(): void {
    const { clock } = this.ctx.deps;
    if (this.saveTimer !== undefined) clock.clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    this.index = new SearchIndex();
    this.texts.clear();
    this.convOf.clear();
    this.seenMessages = null;
    this.seenGroups = null;
    this.loaded = false;
  }
}

type AppStateMessages = Record<string, ChatMessage[]>;
const EMPTY: AppStateMessages = {};

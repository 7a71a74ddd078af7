import { HushError, normaliseUsername } from '@hush/protocol';
import { MAX_RECEIPT_IDS } from '../core/content.js';
import { type Conversation, encryptionStatus, markRead, newConversation, unreadCount } from '../core/model.js';
import { describe } from '../core/send-policy.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { PeerKeys } from './keys.js';
import { chunks, type Signals } from './signals.js';

/**
 * Conversations: starting one, the one the user has open, read tracking (read receipts go only
 * for messages the user could see) and contacts' presence.
 */
export class Conversations {
  /** The conversation on screen, if any. */
  private open: string | null = null;
  /** Read receipts not yet sent (offline, or a send that failed), per peer. */
  private readonly pendingReads = new Map<string, Set<string>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly keys: PeerKeys,
    private readonly signals: Signals,
  ) {}

  isOpen(peer: string): boolean {
    return this.open === peer;
  }
  /** Open and the page visible: what arrives is read at once. */
  isOnScreen(peer: string): boolean {
    const visible = this.ctx.deps.isVisible;
    return this.open === peer && (!visible || visible());
  }

  /** Marks what is on screen read, once the deliveries queued now are stored (one receipt for a burst). */
  scheduleRead(): void {
    this.ctx.coalesce('read', () => this.readOpen());
  }

  async startChat(rawUsername: string): Promise<string | null> {
    const { store } = this.ctx;
    const me = this.ctx.state.me;
    const api = this.ctx.api;
    if (!me || !api) return null;
    const username = normaliseUsername(rawUsername.trim());
    if (!username) {
      store.update({ notice: new HushError('AUTH_INVALID_USERNAME').message });
      return null;
    }
    if (username === me.username) {
      store.update({ notice: 'That is you. Pick someone else to talk to.' });
      return null;
    }
    store.update({ busy: true, notice: null });
    try {
      const profile = await api.lookupUser(username);
      await this.ensure(profile.userId, profile.username);
      // Fetch keys now so the status is known before the first message.
      await this.ctx.serial(() => this.keys.refreshBundle(profile.userId));
      store.update({ busy: false });
      return profile.userId;
    } catch (e) {
      store.update({ busy: false, notice: describe(e) });
      return null;
    }
  }

  /** The conversation with a peer, created (and the peer made a contact) on first contact. */
  async ensure(peer: string, username?: string): Promise<Conversation> {
    const existing = this.history.conv(peer);
    if (existing) return existing;
    let name = username;
    if (!name) {
      try {
        name = (await this.ctx.api!.profile(peer)).username;
      } catch {
        name = peer;
      }
    }
    const c = newConversation(peer, name, this.ctx.now());
    await this.history.addConv(c);
    // Share presence with people we talk to, and watch theirs: asked once the contact exists
    // (asked before, the answer was "offline" for someone online).
    const api = this.ctx.api;
    this.ctx.background(async () => {
      await api?.addContact(peer).catch(() => undefined);
      this.watchPresence(peer);
    });
    return c;
  }

  openConversation(peer: string | null): void {
    this.open = peer;
    if (!peer) return;
    this.scheduleRead();
    // A red conversation may have been fixed since (keys published, a good bundle), and one
    // waiting for a changed identity's bundle should get it: look again.
    const c = this.history.conv(peer);
    if (c && (encryptionStatus(c) === 'red' || c.sendHold === 'keys') && this.ctx.api)
      this.ctx.background(() => this.ctx.serial(() => this.keys.refreshBundle(peer)).catch(() => undefined));
  }

  visibilityChanged(): void {
    if (this.open) this.scheduleRead();
  }

  /** Marks what the user can see in the open conversation as read and sends read receipts. */
  async readOpen(): Promise<void> {
    const peer = this.open;
    const visible = this.ctx.deps.isVisible;
    if (!peer || (visible && !visible())) return;
    const r = markRead(this.history.messages(peer), this.ctx.now());
    if (r.ids.length === 0) return;
    const ids = new Set(r.ids);
    await this.history.updateMessages(
      peer,
      r.list.filter((m) => ids.has(m.id)),
    );
    const c = this.history.conv(peer);
    if (c) await this.history.saveConv({ ...c, unread: unreadCount(this.history.messages(peer)) });
    const pend = this.pendingReads.get(peer) ?? new Set<string>();
    for (const id of r.ids) pend.add(id);
    this.pendingReads.set(peer, pend);
    await this.flushReads();
  }

  async flushReads(): Promise<void> {
    if (this.ctx.state.connection !== 'online') return;
    for (const [peer, ids] of [...this.pendingReads]) {
      this.pendingReads.delete(peer);
      // `to` lets our own other devices mark the same messages read (read state sync).
      for (const chunk of chunks([...ids], MAX_RECEIPT_IDS)) {
        const ok = await this.signals.sendControl(peer, { v: 1, t: 'receipt', kind: 'read', ids: chunk, to: peer });
        if (!ok) {
          const again = this.pendingReads.get(peer) ?? new Set<string>();
          for (const id of chunk) again.add(id);
          this.pendingReads.set(peer, again);
        }
      }
    }
  }

  /**
   * (Re)subscribes to a contact's presence and asks for it now. Presence is shared only between
   * contacts, so this runs again when the peer shows they added us (their first message or receipt).
   */
  watchPresence(peer: string): void {
    this.ctx.coalesce(`presence:${peer}`, async () => {
      this.ctx.link?.subscribePresence([peer]);
      await this.refreshPresence([peer]);
    });
  }

  /** Back online: watch every contact's presence again. */
  onOnline(): void {
    const peers = this.ctx.state.conversations.map((c) => c.peer);
    if (peers.length === 0) return;
    this.ctx.link?.subscribePresence(peers);
    this.ctx.background(() => this.refreshPresence(peers));
  }

  async refreshPresence(peers: string[]): Promise<void> {
    const api = this.ctx.api;
    if (!api) return;
    try {
      const entries = await api.presence(peers);
      this.ctx.store.update((s) => {
        const presence = { ...s.presence };
        for (const e of entries) presence[e.userId] = { online: e.online, lastSeen: e.lastSeen };
        return { presence };
      });
    } catch {
      // presence is a nicety; the live presence frames still arrive
    }
  }

  /** Sign-out: nothing is open, nothing pending. */
  reset(): void {
    this.open = null;
    this.pendingReads.clear();
  }
}

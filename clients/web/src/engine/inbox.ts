import type { DeliverFrame } from '@hush/protocol';
import { type Content, ContentError, decodeContent } from '../core/content.js';
import { applyReceipt, type ChatMessage, observeIdentity, unreadCount } from '../core/model.js';
import { routeContent } from '../core/routing.js';
import { decideIdentityChange } from '../core/trust.js';
import type { EngineContext } from './context.js';
import type { Conversations } from './conversations.js';
import type { History } from './history.js';
import type { PeerKeys } from './keys.js';
import type { Signals } from './signals.js';

/** Incoming envelopes: decrypt, store, then ack (DESIGN §3.3). */
export class Inbox {
  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly conversations: Conversations,
    private readonly signals: Signals,
    private readonly keys: PeerKeys,
  ) {}

  /** One delivered envelope; the socket calls this for each, in mailbox order. */
  deliver(f: DeliverFrame): void {
    this.ctx.background(() => this.ctx.serial(() => this.receive(f)));
  }

  /** Runs inside serial(). */
  private async receive(f: DeliverFrame): Promise<void> {
    const me = this.ctx.state.me;
    if (!me) return;
    const { crypto } = this.ctx;
    const from = { user: f.from.user, device: f.from.device };
    let r = await crypto.decrypt(from, f.body, this.ctx.now());
    if (!r.ok && r.reason === 'identity-changed' && r.identityKey) {
      if (decideIdentityChange({ own: r.own ?? false }) === 'accept') {
        await crypto.acceptIdentity(f.from.user, r.identityKey);
        r = await crypto.decrypt(from, f.body, this.ctx.now());
      }
    }
    let content: Content;
    try {
      if (!r.ok) throw new ContentError(r.reason);
      content = decodeContent(r.plaintext);
    } catch (e) {
      // Undecryptable (a replay, a corrupted or forged envelope) or malformed content: acking
      // drops it; leaving it would redeliver it forever. A duplicate of a stored message lands here too.
      if (!(e instanceof ContentError)) console.warn('hush: dropped an envelope that did not decrypt', f.id);
      this.ctx.link?.ack(f.seq);
      return;
    }
    const route = routeContent(me.userId, f.from.user, content);
    if (route.kind === 'devices') {
      // A device list changed: fetch it now, verified against the account's identity.
      if (route.fromMe) await this.keys.refreshOwnDevices().catch(() => undefined);
      else if (this.history.conv(route.user)) await this.keys.refreshBundle(route.user).catch(() => undefined);
    } else if (route.kind === 'read-elsewhere') {
      await this.readElsewhere(route.peer, route.ids);
    } else if (route.kind !== 'ignore') {
      const c = await this.conversations.ensure(route.peer);
      if (r.identityKey && f.from.user !== me.userId) {
        const next = observeIdentity(c, r.identityKey, this.ctx.now());
        if (next !== c) await this.history.saveConv(next);
      }
      if (route.kind === 'text') await this.receiveText(f, route.content, route.fromMe, route.peer);
      else if (route.kind === 'receipt') await this.receiveReceipt(route.peer, route.receipt, route.ids);
      else this.signals.showTyping(route.peer, route.on);
    }
    this.ctx.link?.ack(f.seq);
  }

  private async receiveText(
    f: DeliverFrame,
    content: Extract<Content, { t: 'text' }>,
    fromMe: boolean,
    peer: string,
  ): Promise<void> {
    if (this.history.findMessage(peer, content.id)) return; // exactly once as the user sees it
    const m: ChatMessage = {
      id: content.id,
      conv: peer,
      dir: fromMe ? 'out' : 'in',
      text: content.text,
      sentAt: content.sentAt,
      ts: f.ts,
      tick: fromMe ? 'sent' : 'delivered',
      n: this.history.nextOrder(),
      wire: {
        kind: 'received',
        frame: { type: 'deliver', seq: f.seq, id: f.id, from: f.from, ts: f.ts, body: f.body },
      },
    };
    await this.history.putMessage(m);
    this.signals.showTyping(peer, false);
    const c = this.history.conv(peer)!;
    await this.history.saveConv({
      ...c,
      lastAt: Math.max(c.lastAt, f.ts),
      lastText: content.text,
      unread: unreadCount(this.history.messages(peer)),
    });
    if (!fromMe) {
      this.ctx.background(() =>
        this.signals.sendControl(peer, { v: 1, t: 'receipt', kind: 'delivered', ids: [content.id] }),
      );
      // Presence is shared only between contacts: a peer who wrote to us has added us by now,
      // so ask again if we could not see them before.
      if (!this.ctx.state.presence[peer]?.online) this.ctx.background(() => this.conversations.refreshPresence([peer]));
      if (this.conversations.isOpen(peer)) this.ctx.background(() => this.conversations.readOpen());
    }
  }

  /** Another of our devices showed these messages: read here too (no receipt goes out again). */
  private async readElsewhere(peer: string, ids: string[]): Promise<void> {
    const set = new Set(ids);
    const list = this.history.messages(peer);
    const changed = list.filter((m) => m.dir === 'in' && set.has(m.id) && m.tick !== 'read');
    if (changed.length === 0) return;
    const read = changed.map((m) => ({ ...m, tick: 'read' as const }));
    const next = list.map((m) => read.find((x) => x.id === m.id) ?? m);
    await this.history.replaceMessages(peer, next, read);
    const c = this.history.conv(peer);
    if (c) await this.history.saveConv({ ...c, unread: unreadCount(next) });
  }

  private async receiveReceipt(peer: string, kind: 'delivered' | 'read', ids: string[]): Promise<void> {
    const r = applyReceipt(this.history.messages(peer), kind, ids);
    if (r.changed.length > 0) await this.history.replaceMessages(peer, r.list, r.changed);
  }
}

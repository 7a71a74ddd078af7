import type { DeliverFrame } from '@hush/protocol';
import {
  type Content,
  ContentError,
  decodeContent,
  type FileRef,
  type OpContent,
  type ProfileContent,
} from '../core/content.js';
import type { Op } from '../core/message-ops.js';
import { applyReceipt, type ChatMessage, unreadCount, type WireRecord } from '../core/model.js';
import { routeContent } from '../core/routing.js';
import { decideIdentityChange, wasVerified } from '../core/trust.js';
import type { EngineContext } from './context.js';
import type { Conversations } from './conversations.js';
import type { History } from './history.js';
import type { PeerKeys } from './keys.js';
import type { MessageOps, Thread } from './message-ops.js';
import { previewText } from './outgoing.js';
import { originalId, type Retries } from './retries.js';
import type { Signals } from './signals.js';

const LOCAL_FAILURE =
  'A message could not be saved on this device (storage full or unavailable). It stays on the server and will be fetched again.';

type Opened =
  | { kind: 'content'; content: Content; identityKey: string | null }
  /** Proven bad (forged, corrupted, keys gone, malformed content): acked and shown as such. */
  | { kind: 'undecryptable' }
  /** Acked without a trace: a redelivered duplicate, or a device refused by the trust policy. */
  | { kind: 'drop' }
  /** From a device its account removed from its signed list: refused, and the user is told. */
  | { kind: 'removed-device' };

const receivedWire = (f: DeliverFrame): WireRecord => ({
  kind: 'received',
  frame: { type: 'deliver', seq: f.seq, id: f.id, from: f.from, ts: f.ts, body: f.body },
});

/** Incoming envelopes: decrypt, store, then ack. */
export class Inbox {
  /** Decrypted but not yet stored (a local failure in between), by sender device and id. */
  private readonly unsaved = new Map<string, Extract<Opened, { kind: 'content' }>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly conversations: Conversations,
    private readonly signals: Signals,
    private readonly keys: PeerKeys,
    private readonly retries: Retries,
    /** Fetches a received attachment at once (engine/attachments.ts). */
    private readonly files?: { received(ref: FileRef): void },
    /** Reactions, edits, deletes and timers (engine/message-ops.ts), on a conversation's Thread. */
    private readonly ops?: { ops: MessageOps; thread(peer: string): Thread },
    /** Contacts' profiles (engine/profile.ts). */
    private readonly profiles?: { received(from: string, content: ProfileContent): Promise<void> },
  ) {}

  /** Sign-out: forget what was held. */
  reset(): void {
    this.unsaved.clear();
  }

  /** One delivered envelope; the socket calls this for each, in mailbox order. */
  deliver(f: DeliverFrame): void {
    this.ctx.background(async () => {
      try {
        await this.ctx.serial(() => this.receive(f));
      } catch (e) {
        // A local failure (IndexedDB error, quota): not acked, so the gateway delivers it again.
        this.ctx.store.update({ notice: LOCAL_FAILURE });
        throw e;
      }
    });
  }

  /**
   * Decrypt, store, then ack. Acks only what is stored or proven undecryptable;
   * anything thrown here is a local failure and leaves the envelope in the mailbox. Runs inside serial().
   */
  private async receive(f: DeliverFrame): Promise<void> {
    const me = this.ctx.state.me;
    if (!me) return;
    const from = { user: f.from.user, device: f.from.device };
    const refused = (e: unknown) => {
      console.warn('hush: refused a retry request', f.id, e);
      return null;
    };
    let ask = await this.ctx.crypto.openRetry(from, f.body, this.ctx.now()).catch(refused);
    if (ask && 'unknownRequester' in ask) {
      // Our store predates every contact with that account (a restore): learn its keys the way a
      // first contact does (verified bundle, trust policy), then check the request again. Without a
      // conversation there is no message of ours to send again, so nothing is fetched.
      if (from.user === me.userId) await this.keys.refreshOwnDevices().catch(() => undefined);
      else await this.keys.refreshBundle(from.user).catch(() => undefined);
      ask = await this.ctx.crypto.openRetry(from, f.body, this.ctx.now()).catch(refused);
      if (ask && 'unknownRequester' in ask) ask = null;
    }
    if (ask) {
      // Another device could not decrypt one of our messages: send it again (libs/crypto PROTOCOL.md §5.3).
      await this.retries.answer(f, ask);
      this.ctx.link?.ack(f.seq);
      return;
    }
    const key = `${f.from.user}/${f.from.device}/${f.id}`;
    const opened = this.unsaved.get(key) ?? (await this.open(f, me.userId));
    if (opened.kind === 'drop') {
      this.ctx.link?.ack(f.seq);
      return;
    }
    if (opened.kind === 'removed-device') {
      // A removed device (signed out, or dropped from the list) still holding keys, or a server
      // replaying its old messages: nothing it sends is shown (PROTOCOL.md §4, signed device lists).
      const c = this.history.conv(f.from.user);
      if (c && f.from.user !== me.userId)
        await this.history.saveConv({
          ...c,
          deviceNotice: `A message from a device ${c.username} removed was refused. It is not shown.`,
        });
      console.warn('hush: refused a message from a removed device', f.from.device);
      this.ctx.link?.ack(f.seq);
      return;
    }
    if (opened.kind === 'undecryptable') {
      if (f.from.user !== me.userId) await this.storeUndecryptable(f);
      else console.warn('hush: an envelope from one of our own devices did not decrypt', f.id);
      this.ctx.link?.ack(f.seq);
      return;
    }
    // The ratchet has moved past this message: should storing it fail, a redelivery would be a
    // duplicate to the ratchet, so the content is held until it is stored.
    this.unsaved.set(key, opened);
    const route = routeContent(me.userId, f.from.user, opened.content);
    if (route.kind === 'devices') {
      // A device list changed: fetch it now, verified against the account's identity.
      if (route.fromMe) await this.keys.refreshOwnDevices().catch(() => undefined);
      else if (this.history.conv(route.user)) await this.keys.refreshBundle(route.user).catch(() => undefined);
    } else if (route.kind === 'profile') {
      await this.profiles?.received(route.user, route.content);
    } else if (route.kind === 'read-elsewhere') {
      await this.readElsewhere(route.peer, route.ids);
    } else if (route.kind !== 'ignore') {
      await this.conversations.ensure(route.peer);
      // A session start proves the sender's identity key: a change is noted where it happened.
      if (opened.identityKey && f.from.user !== me.userId)
        await this.history.noteIdentity(route.peer, opened.identityKey, 'message', f.ts);
      if (route.kind === 'text') await this.receiveText(f, route.content, route.fromMe, route.peer);
      else if (route.kind === 'receipt') {
        // Off the queue that encrypts our sends: the ticks are written (batched) and the envelope
        // acked once they are stored, while the next envelope is already being decrypted.
        const written = this.receiveReceipt(route.peer, route.receipt, route.ids);
        // A receipt shows the peer added us as a contact: their presence is visible now.
        if (!this.ctx.state.presence[route.peer]?.online) this.conversations.watchPresence(route.peer);
        this.unsaved.delete(key);
        this.ctx.background(async () => {
          await written;
          this.ctx.link?.ack(f.seq);
        });
        return;
      } else if (route.kind === 'op') {
        const c = route.content;
        if (this.ops) {
          const by = route.fromMe ? me.userId : f.from.user;
          await this.ops.ops.receive(this.ops.thread(route.peer), c.id, opOf(c), by, c.sentAt, f.ts);
        }
      } else this.signals.showTyping(route.peer, route.on);
    }
    this.unsaved.delete(key);
    this.ctx.link?.ack(f.seq);
  }

  /** Decrypts and decodes; rejects only on a local failure. */
  private async open(f: DeliverFrame, myUserId: string): Promise<Opened> {
    const { crypto } = this.ctx;
    const from = { user: f.from.user, device: f.from.device };
    let r = await crypto.decrypt(from, f.body, this.ctx.now());
    if (!r.ok && r.reason === 'identity-changed' && r.identityKey) {
      const own = r.own ?? f.from.user === myUserId;
      const c = this.history.conv(f.from.user);
      const verified = c ? wasVerified(c) : false;
      if (decideIdentityChange({ own, wasVerified: verified, source: 'message' }) !== 'accept') {
        console.warn('hush: refused a device that claims our account with another identity', f.from.device);
        return { kind: 'drop' };
      }
      await crypto.acceptIdentity(f.from.user, r.identityKey);
      r = await crypto.decrypt(from, f.body, this.ctx.now());
    }
    if (!r.ok && r.reason === 'device-removed') return { kind: 'removed-device' };
    if (!r.ok) {
      // Lost or restored state on either side: ask the sender for this envelope again, so the
      // "could not decrypt" entry is replaced when it arrives over a fresh session.
      if ((r.reason === 'undecryptable' && r.retryable) || (r.reason === 'duplicate' && this.retries.unseen(f)))
        await this.retries.ask(f);
      return r.reason === 'duplicate' ? { kind: 'drop' } : { kind: 'undecryptable' };
    }
    try {
      return { kind: 'content', content: decodeContent(r.plaintext), identityKey: r.identityKey };
    } catch (e) {
      if (e instanceof ContentError) return { kind: 'undecryptable' };
      throw e;
    }
  }

  /** A "could not decrypt" entry in the conversation with the sender. */
  private async storeUndecryptable(f: DeliverFrame): Promise<void> {
    const peer = f.from.user;
    await this.conversations.ensure(peer);
    // One entry per message, however many re-sent copies failed too.
    const id = originalId(f.id);
    if (this.history.findMessage(peer, id)) return;
    await this.history.putMessage({
      id,
      conv: peer,
      dir: 'in',
      text: '',
      sentAt: f.ts,
      ts: f.ts,
      tick: 'delivered',
      n: this.history.nextOrder(),
      wire: receivedWire(f),
      undecryptable: true,
    });
    const c = this.history.conv(peer)!;
    await this.history.saveConv({ ...c, unread: unreadCount(this.history.messages(peer)) });
  }

  private async receiveText(
    f: DeliverFrame,
    content: Extract<Content, { t: 'text' }>,
    fromMe: boolean,
    peer: string,
  ): Promise<void> {
    // Exactly once as the user sees it; a message that arrives again after a "could not decrypt"
    // (re-sent by its author) takes that entry's place.
    const existing = this.history.findMessage(peer, content.id);
    if (existing && !existing.undecryptable) return;
    const ttl = content.ttl;
    const m: ChatMessage = {
      id: content.id,
      conv: peer,
      dir: fromMe ? 'out' : 'in',
      text: content.text,
      sentAt: content.sentAt,
      ts: f.ts,
      tick: fromMe ? 'sent' : 'delivered',
      n: this.history.nextOrder(),
      wire: receivedWire(f),
      ...(content.file ? { file: content.file } : {}),
      ...(content.reply ? { reply: content.reply } : {}),
      ...(content.fwd ? { forwarded: true as const } : {}),
      // Disappearing: our own copy counts from when it was sent, theirs from when it is read.
      ...(ttl ? { ttl, ...(fromMe ? { expiresAt: content.sentAt + ttl * 1000 } : {}) } : {}),
    };
    const c = this.history.conv(peer)!;
    const others = this.history.messages(peer).filter((x) => x.id !== m.id);
    await this.history.putMessageAndConv(m, {
      ...c,
      lastAt: Math.max(c.lastAt, f.ts),
      lastText: previewText(m),
      unread: unreadCount([...others, m]),
    });
    // Controls that arrived before this message (reordered) apply now; a delete means no fetch.
    if (this.ops) await this.ops.ops.arrived(this.ops.thread(peer), m.id);
    if (content.file && !this.history.findMessage(peer, m.id)?.deleted) this.files?.received(content.file);
    this.signals.showTyping(peer, false);
    if (!fromMe) {
      // A chat on screen answers with "read" (which implies delivered): one receipt, not two.
      if (!this.conversations.isOnScreen(peer)) this.signals.deliveredReceipt(peer, content.id);
      // Presence is shared only between contacts: a peer who wrote to us has added us by now,
      // so ask again if we could not see them before.
      if (!this.ctx.state.presence[peer]?.online) this.conversations.watchPresence(peer);
      if (this.conversations.isOpen(peer)) this.conversations.scheduleRead();
    }
  }

  /** Another of our devices showed these messages: read here too (no receipt goes out again). */
  private async readElsewhere(peer: string, ids: string[]): Promise<void> {
    const set = new Set(ids);
    const list = this.history.messages(peer);
    const changed = list.filter((m) => m.dir === 'in' && set.has(m.id) && m.tick !== 'read');
    if (changed.length === 0) return;
    const read = changed.map((m) => ({ ...m, tick: 'read' as const }));
    await this.history.updateMessages(peer, read);
    const c = this.history.conv(peer);
    if (c) await this.history.saveConv({ ...c, unread: unreadCount(this.history.messages(peer)) });
  }

  private async receiveReceipt(peer: string, kind: 'delivered' | 'read', ids: string[]): Promise<void> {
    const r = applyReceipt(this.history.messages(peer), kind, ids);
    await this.history.updateMessages(peer, r.changed);
  }
}

/** The operation a control content carries, without its envelope fields. */
function opOf(c: OpContent): Op {
  const { v: _v, id: _id, to: _to, sentAt: _s, ...op } = c;
  return op as Op;
}

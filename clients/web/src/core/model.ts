/**
 * The client's data model and the pure rules that move it: message ticks, receipts, unread
 * counts, ordering, deduplication and the encryption status of a conversation. No I/O here, so
 * all of it is unit-tested without a browser (state.test.ts).
 */
import type { FileRef } from './content.js';
import type { Op, Reaction, ReplyRef, TimerSetting } from './message-ops.js';
import type { SendHold } from './trust.js';

/** Outgoing message ticks, in the only order they may advance ("sent" = gateway ack). */
export const TICK_ORDER = ['pending', 'sent', 'delivered', 'read'] as const;
export type Tick = (typeof TICK_ORDER)[number] | 'failed';

/** What the gateway saw of one message: the exact frame, kept for the "What the server sees" view. */
export interface WireEnvelope {
  to: { user: string; device: string };
  body: string;
}
export type WireRecord =
  | { kind: 'sent'; frame: { type: 'send'; id: string; envelopes: WireEnvelope[] } }
  | {
      kind: 'received';
      frame: {
        type: 'deliver';
        seq: number;
        id: string;
        from: { user: string; device: string };
        ts: number;
        body: string;
      };
    };

export interface ChatMessage {
  id: string;
  /** The peer's user id: the conversation this message belongs to. */
  conv: string;
  /** 'event': a notice in the timeline (a safety number change), neither sent nor received. */
  dir: 'out' | 'in' | 'event';
  text: string;
  /** Author's clock (Unix ms), shown as the bubble's time. */
  sentAt: number;
  /** Gateway accept time (Unix ms); null while an outgoing message is still in the outbox. */
  ts: number | null;
  /** Outgoing: how far it got. Incoming: 'delivered' until the user has seen it, then 'read'. */
  tick: Tick;
  wire: WireRecord | null;
  /**
   * Local order: creation order for ours, arrival order (mailbox order) for theirs. Breaks ties
   * between messages the gateway accepted within the same millisecond.
   */
  n?: number;
  /** Why an outgoing message failed for good (shown beside it). */
  error?: string;
  /**
   * An incoming envelope that was proven undecryptable (forged, corrupted, or its keys are gone):
   * kept as a "could not decrypt" entry with an empty text so the user knows something was lost.
   */
  undecryptable?: true;
  /** An attached file (its key and digest; the bytes are kept apart, see HistoryPort.getAttachment). */
  file?: FileRef;
  /** Group messages (core/groups.ts): the author's user id, for incoming ones. */
  sender?: string;
  /** Group messages of ours: who (user id) has it delivered or read, for the group tick. */
  seenBy?: Record<string, 'delivered' | 'read'>;
  // --- message operations (core/message-ops.ts) ---
  /** The message this one replies to (a quote). */
  reply?: ReplyRef;
  /** One reaction per person (user id); the latest by its author's clock wins. */
  reactions?: Record<string, Reaction>;
  /** When the text was last edited (the author's clock); absent: never. */
  editedAt?: number;
  /** Deleted for everyone: the text and file are gone, the bubble says so. */
  deleted?: true;
  /** "Forwarded". */
  forwarded?: true;
  /** Disappearing: seconds after it was sent (ours) or read (theirs). */
  ttl?: number;
  /** When it is deleted everywhere on this device (set once the countdown starts). */
  expiresAt?: number;
  /**
   * A control message (reaction, edit, delete, timer), never shown: ours wait here in the outbox;
   * theirs wait here until the message they apply to arrives. `sender` is its author.
   */
  op?: Op;
}

export interface Conversation {
  peer: string;
  username: string;
  createdAt: number;
  lastAt: number;
  lastText: string;
  unread: number;
  /** The peer's identity key (base64) as last seen from the key directory or a session. */
  identityKey: string | null;
  /**
   * "Bob added a device" (the peer's signed device list grew) or "a message from a device Bob removed
   * was refused": shown until dismissed.
   */
  deviceNotice?: string | null;
  /** The identity key the user verified (base64), if any. */
  verifiedKey: string | null;
  /** Set when the peer's identity key changed after we had seen one; cleared when re-verified, accepted or dismissed. */
  keyChange: { at: number; wasVerified: boolean } | null;
  /** What sending waits for after a change (core/trust.ts); absent in records stored before it existed. */
  sendHold?: SendHold;
  /** Set when we cannot encrypt to this peer (no keys, or a bundle that fails verification). */
  cannotEncrypt: string | null;
  /**
   * Red only because the peer has published no keys yet (registered a moment ago): looked up
   * again while the chat is open and on each send (engine/key-wait.ts), and said as "not
   * registered yet" rather than "cannot encrypt".
   */
  keysMissing?: boolean;
  /** What the user was writing and has not sent (kept across reloads, encrypted at rest like all of it). */
  draft?: string;
  /** Disappearing messages (core/message-ops.ts); absent or 0 seconds: off. */
  timer?: TimerSetting;
  /** The name the peer shared in their profile (core/profile.ts); absent or empty: the username is shown. */
  displayName?: string;
  /** Their avatar (an encrypted attachment), null when they removed it. */
  avatar?: FileRef | null;
  /** Their profile's time, so an older one arriving late does not replace it. */
  profileAt?: number;
  /** The time of our own profile they were last sent (engine/profile.ts). */
  profileSent?: number;
}

export type EncryptionStatus = 'green' | 'yellow' | 'red';

/**
 * Green = verified and unchanged; yellow = encrypted but not verified, or changed since
 * it was verified; red = cannot encrypt (and then nothing is sent at all).
 */
export function encryptionStatus(
  c: Pick<Conversation, 'identityKey' | 'verifiedKey' | 'cannotEncrypt'>,
): EncryptionStatus {
  if (c.cannotEncrypt !== null || c.identityKey === null) return 'red';
  if (c.verifiedKey !== null && c.verifiedKey === c.identityKey) return 'green';
  return 'yellow';
}

export function statusLabel(s: EncryptionStatus): string {
  switch (s) {
    case 'green':
      return 'Verified: end-to-end encrypted with a verified safety number';
    case 'yellow':
      return 'Encrypted, not verified';
    case 'red':
      return 'Cannot encrypt: nothing will be sent';
  }
}

export function newConversation(peer: string, username: string, now: number): Conversation {
  return {
    peer,
    username,
    createdAt: now,
    lastAt: now,
    lastText: '',
    unread: 0,
    identityKey: null,
    verifiedKey: null,
    keyChange: null,
    sendHold: null,
    cannotEncrypt: null,
  };
}

export function clearVerified(c: Conversation): Conversation {
  return { ...c, verifiedKey: null };
}

/** Moves a tick forward only; a late "delivered" never undoes "read", "failed" is final. */
export function advanceTick(current: Tick, next: Tick): Tick {
  if (current === 'failed') return current;
  if (next === 'failed') return current === 'pending' ? 'failed' : current;
  const a = TICK_ORDER.indexOf(current);
  const b = TICK_ORDER.indexOf(next);
  return b > a ? next : current;
}

/** Display order: by gateway time, outbox messages last (in the order they were typed), then id. */
export function compareMessages(a: ChatMessage, b: ChatMessage): number {
  const ta = a.ts ?? Number.MAX_SAFE_INTEGER;
  const tb = b.ts ?? Number.MAX_SAFE_INTEGER;
  if (ta !== tb) return ta - tb;
  // A notice applies to what happens from its time on: first among equals.
  if ((a.dir === 'event') !== (b.dir === 'event')) return a.dir === 'event' ? -1 : 1;
  if (a.n !== undefined && b.n !== undefined && a.n !== b.n) return a.n - b.n;
  if (a.sentAt !== b.sentAt) return a.sentAt - b.sentAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * Inserts a message unless one with the same id is already there (delivery is at-least-once on
 * the wire, exactly-once as the user sees it). Returns the same array when nothing changed.
 */
export function insertMessage(list: readonly ChatMessage[], m: ChatMessage): ChatMessage[] | null {
  if (list.some((x) => x.id === m.id)) return null;
  const out = [...list, m];
  // Common case: appended in order; otherwise a stable sort keeps it cheap enough for one chat.
  if (list.length > 0 && compareMessages(list[list.length - 1]!, m) > 0) out.sort(compareMessages);
  return out;
}

/** Applies a delivered/read receipt from the peer to our outgoing messages. */
export function applyReceipt(
  list: readonly ChatMessage[],
  kind: 'delivered' | 'read',
  ids: readonly string[],
): { list: ChatMessage[]; changed: ChatMessage[] } {
  const set = new Set(ids);
  const changed: ChatMessage[] = [];
  const out = list.map((m) => {
    if (m.dir !== 'out' || !set.has(m.id)) return m;
    // A receipt proves the gateway stored it, even if our "accepted" was lost on a reconnect.
    const tick = advanceTick(advanceTick(m.tick, 'sent'), kind);
    if (tick === m.tick) return m;
    const n = { ...m, tick };
    changed.push(n);
    return n;
  });
  return { list: out, changed };
}

/** Incoming messages the user has now seen: they become 'read' and need a read receipt. */
export function markRead(list: readonly ChatMessage[], now?: number): { list: ChatMessage[]; ids: string[] } {
  const ids: string[] = [];
  const out = list.map((m) => {
    if (m.dir !== 'in' || m.tick === 'read') return m;
    ids.push(m.id);
    // A disappearing message's countdown starts when it is read (core/message-ops.ts expiryOf).
    const expiresAt = now !== undefined && m.ttl ? now + m.ttl * 1000 : undefined;
    return { ...m, tick: 'read' as Tick, ...(expiresAt !== undefined ? { expiresAt } : {}) };
  });
  return { list: out, ids };
}

/** The outbox: outgoing messages not yet acknowledged by the gateway, oldest first. */
export function outbox(list: readonly ChatMessage[]): ChatMessage[] {
  return list.filter((m) => m.dir === 'out' && m.tick === 'pending').sort(compareMessages);
}

/** What the timeline shows: everything but control messages (core/message-ops.ts). */
export function visibleMessages(list: readonly ChatMessage[]): ChatMessage[] {
  return list.filter((m) => !m.op);
}

export function unreadCount(list: readonly ChatMessage[]): number {
  let n = 0;
  for (const m of list) if (m.dir === 'in' && m.tick !== 'read' && !m.op) n++;
  return n;
}

/** Conversation list order: most recent activity first. */
export function sortConversations(list: readonly Conversation[]): Conversation[] {
  return [...list].sort((a, b) => b.lastAt - a.lastAt || a.username.localeCompare(b.username));
}

/**
 * Operations on messages that travel inside the encryption like any other content
 * (libs/crypto/PROTOCOL.md §13): reply (a quote carried by a text), reaction, edit, delete for
 * everyone, forward (a flag on a new text) and disappearing messages (a per-conversation timer and
 * each message's own `ttl`). The same fields ride in 1:1 content (core/content.ts) and group
 * content (core/groups.ts); this file checks them and holds the pure rules that apply them, so
 * both inboxes decide the same way. No I/O.
 */
import { isMessageId, isUserId } from '@hush/protocol';
import type { ChatMessage } from './model.js';

/** A quote shown above a reply: whose message, and a snippet of it (never the whole text). */
export interface ReplyRef {
  id: string;
  /** The quoted message's author (user id). */
  from: string;
  /** The start of the quoted text, or "File: name" (at most REPLY_SNIPPET_CHARS). */
  text: string;
}
export const REPLY_SNIPPET_CHARS = 120;
/** One person's reaction; `emoji: null` is a removal, kept so an older reaction cannot come back. */
export interface Reaction {
  emoji: string | null;
  at: number;
}
/** A disappearing-messages timer is at most a year (a custom value beyond makes no sense). */
export const MAX_TIMER_SECONDS = 365 * 24 * 3600;
/** The choices the chat header offers ("Custom" allows any whole number of seconds up to the maximum). */
export const TIMER_CHOICES: readonly number[] = [5, 60, 3600, 86_400, 604_800];
/** An emoji is short: the longest ZWJ family sequences are 11 UTF-16 units. */
export const MAX_EMOJI_CHARS = 16;
/** The reactions the picker offers (any single emoji is accepted on the wire). */
export const QUICK_REACTIONS: readonly string[] = ['👍', '❤️', '😂', '😮', '😢', '🙏'];
/** A control whose message never arrives is kept this long, then dropped (by the sweep). */
export const PENDING_OP_MS = 30 * 24 * 3600 * 1000;

/** What a control message asks; `target` is the id of the message it applies to. */
export type Op =
  | { t: 'react'; target: string; emoji: string | null }
  | { t: 'edit'; target: string; text: string }
  | { t: 'delete'; target: string }
  | { t: 'timer'; seconds: number };
export type OpKind = Op['t'];
export const OP_KINDS: readonly OpKind[] = ['react', 'edit', 'delete', 'timer'];

// Keycaps ("1️⃣") are a digit, U+FE0F and U+20E3: accepted by the last alternative.
const EMOJI_RE = /\p{Extended_Pictographic}|\p{Regional_Indicator}|\u20E3/u;
const NOT_EMOJI_RE = /[\p{L}\s\p{Cc}]/u;

type Fail = (why: string) => never;

export function isEmoji(s: string): boolean {
  return s.length > 0 && s.length <= MAX_EMOJI_CHARS && EMOJI_RE.test(s) && !NOT_EMOJI_RE.test(s);
}

/** The control part of a decoded `react`/`edit`/`delete`/`timer` content; `maxText` is the text limit. */
export function decodeOp(raw: Record<string, unknown>, maxText: number, fail: Fail): Op {
  const target = () => {
    if (typeof raw.target !== 'string' || !isMessageId(raw.target)) fail('bad target');
    return raw.target as string;
  };
  switch (raw.t) {
    case 'react': {
      const e = raw.emoji;
      if (e !== null && (typeof e !== 'string' || !isEmoji(e))) fail('bad emoji');
      return { t: 'react', target: target(), emoji: e as string | null };
    }
    case 'edit': {
      const text = raw.text;
      if (typeof text !== 'string' || text.trim().length === 0 || text.length > maxText) fail('bad edit text');
      return { t: 'edit', target: target(), text: text as string };
    }
    case 'delete':
      return { t: 'delete', target: target() };
    default: {
      const s = raw.seconds;
      if (typeof s !== 'number' || !Number.isInteger(s) || s < 0 || s > MAX_TIMER_SECONDS) fail('bad timer');
      return { t: 'timer', seconds: s as number };
    }
  }
}

/** The optional fields a text may carry: a quote, a timer, a "forwarded" flag. */
export interface TextExtras {
  reply?: ReplyRef;
  ttl?: number;
  fwd?: true;
}

export function decodeTextExtras(raw: Record<string, unknown>, fail: Fail): TextExtras {
  const out: TextExtras = {};
  if (raw.reply !== undefined) {
    const r = raw.reply;
    if (typeof r !== 'object' || r === null || Array.isArray(r)) fail('bad reply');
    const { id, from, text } = r as Record<string, unknown>;
    if (typeof id !== 'string' || !isMessageId(id)) fail('bad reply id');
    if (typeof from !== 'string' || !isUserId(from)) fail('bad reply author');
    if (typeof text !== 'string' || text.length > REPLY_SNIPPET_CHARS) fail('bad reply snippet');
    out.reply = { id: id as string, from: from as string, text: text as string };
  }
  if (raw.ttl !== undefined) {
    const t = raw.ttl;
    if (typeof t !== 'number' || !Number.isInteger(t) || t < 1 || t > MAX_TIMER_SECONDS) fail('bad ttl');
    out.ttl = t as number;
  }
  if (raw.fwd !== undefined) {
    if (raw.fwd !== true) fail('bad forward flag');
    out.fwd = true;
  }
  return out;
}

/** The extras of a message as they go on the wire (absent fields stay absent). */
export function textExtras(m: Pick<ChatMessage, 'reply' | 'ttl' | 'forwarded'>): TextExtras {
  return {
    ...(m.reply ? { reply: m.reply } : {}),
    ...(m.ttl ? { ttl: m.ttl } : {}),
    ...(m.forwarded ? { fwd: true as const } : {}),
  };
}

/** The quote a reply to `m` carries. */
export function replyTo(m: ChatMessage, me: string): ReplyRef {
  const text = m.text || (m.file ? `File: ${m.file.name}` : '');
  return { id: m.id, from: authorOf(m, me), text: text.slice(0, REPLY_SNIPPET_CHARS) };
}

/** Who wrote a message: us for outgoing ones, else its group sender or the 1:1 peer. */
export function authorOf(m: Pick<ChatMessage, 'dir' | 'sender' | 'conv'>, me: string): string {
  if (m.dir === 'out') return me;
  return m.sender ?? m.conv;
}

/** True for a timeline entry an operation may target: a real message, not a notice or a control. */
export function isOpTarget(m: ChatMessage): boolean {
  return m.dir !== 'event' && !m.op && !m.undecryptable;
}

export type OpResult =
  /** The message as it is now. */
  | { kind: 'applied'; message: ChatMessage; removedFile?: string }
  /** Already applied, superseded by a newer one, or the message is deleted: nothing changes. */
  | { kind: 'unchanged' }
  /** Not allowed (edit or delete by someone other than the author, edit of a file-only message). */
  | { kind: 'refused'; reason: string };

/**
 * Applies one operation by `by` made at `at` (the author's clock, Unix ms) to its target. Every
 * rule is idempotent and order-free: a delete is final (nothing resurrects a deleted message), the
 * edit with the latest `at` wins whatever order edits arrive in, and each person's reaction with
 * the latest `at` wins (a removal is kept as a tombstone so an older reaction cannot come back).
 */
export function applyOp(m: ChatMessage, op: Exclude<Op, { t: 'timer' }>, by: string, at: number, me: string): OpResult {
  if (!isOpTarget(m)) return { kind: 'refused', reason: 'not a message' };
  if (m.deleted) return { kind: 'unchanged' };
  const author = authorOf(m, me);
  switch (op.t) {
    case 'edit': {
      if (by !== author) return { kind: 'refused', reason: 'only the author may edit a message' };
      if (m.editedAt !== undefined && m.editedAt >= at) return { kind: 'unchanged' };
      return { kind: 'applied', message: { ...m, text: op.text, editedAt: at } };
    }
    case 'delete': {
      if (by !== author) return { kind: 'refused', reason: 'only the author may delete a message for everyone' };
      const { file, reactions: _r, reply: _q, editedAt: _e, ...rest } = m;
      const message: ChatMessage = { ...rest, text: '', deleted: true };
      return file ? { kind: 'applied', message, removedFile: file.id } : { kind: 'applied', message };
    }
    case 'react': {
      const prev = m.reactions?.[by];
      if (prev && prev.at >= at) return { kind: 'unchanged' };
      return { kind: 'applied', message: { ...m, reactions: { ...m.reactions, [by]: { emoji: op.emoji, at } } } };
    }
  }
}

/** Controls stored while their message has not arrived, for `id`, oldest first. */
export function pendingOps(list: readonly ChatMessage[], id: string): ChatMessage[] {
  return list
    .filter((x) => x.op && x.op.t !== 'timer' && x.op.target === id)
    .sort((a, b) => a.sentAt - b.sentAt || (a.id < b.id ? -1 : 1));
}

/** Reactions grouped for display: each emoji, how many, and who (user ids), most used first. */
export function reactionSummary(
  reactions: Record<string, Reaction> | undefined,
): { emoji: string; count: number; users: string[] }[] {
  const by = new Map<string, string[]>();
  for (const [user, r] of Object.entries(reactions ?? {})) {
    if (r.emoji === null) continue;
    by.set(r.emoji, [...(by.get(r.emoji) ?? []), user]);
  }
  return [...by.entries()]
    .map(([emoji, users]) => ({ emoji, count: users.length, users: users.sort() }))
    .sort((a, b) => b.count - a.count || (a.emoji < b.emoji ? -1 : 1));
}

/** A conversation's disappearing-messages setting; the newest `at` wins (0 seconds: off). */
export interface TimerSetting {
  seconds: number;
  at: number;
}

export function newerTimer(cur: TimerSetting | undefined, next: TimerSetting): boolean {
  return !cur || next.at > cur.at;
}

/**
 * When a disappearing message goes: ours from when it was sent, theirs from when it was read
 * (Signal's rule). Undefined: it has no timer, or the countdown has not started yet.
 */
export function expiryOf(m: ChatMessage, readAt: number | null): number | undefined {
  if (!m.ttl) return undefined;
  if (m.expiresAt !== undefined) return m.expiresAt;
  if (m.dir === 'out') return m.sentAt + m.ttl * 1000;
  return readAt === null ? undefined : readAt + m.ttl * 1000;
}

/** Messages whose time is up, and controls that waited too long for their message. */
export function dueForDeletion(list: readonly ChatMessage[], now: number): ChatMessage[] {
  return list.filter(
    (m) =>
      (m.expiresAt !== undefined && m.expiresAt <= now) || (m.op && m.dir === 'in' && m.sentAt + PENDING_OP_MS <= now),
  );
}

/** The earliest expiry still ahead in a list (null: none). */
export function nextExpiry(list: readonly ChatMessage[]): number | null {
  let best: number | null = null;
  for (const m of list) if (m.expiresAt !== undefined && (best === null || m.expiresAt < best)) best = m.expiresAt;
  return best;
}

const UNITS: [number, string][] = [
  [604_800, 'week'],
  [86_400, 'day'],
  [3600, 'hour'],
  [60, 'minute'],
  [1, 'second'],
];

/** "5 seconds", "1 hour", "90 minutes": the largest unit that divides the value exactly. */
export function timerLabel(seconds: number): string {
  for (const [n, unit] of UNITS) {
    if (seconds % n === 0) {
      const k = seconds / n;
      return `${k} ${unit}${k === 1 ? '' : 's'}`;
    }
  }
  return `${seconds} seconds`;
}

/** The timeline notice for a timer change ("alice set messages to disappear after 1 hour"). */
export function timerNotice(who: string, seconds: number): string {
  return seconds === 0
    ? `${who} turned off disappearing messages`
    : `${who} set messages to disappear after ${timerLabel(seconds)}`;
}

/**
 * Two versions of one message written concurrently (a receipt's tick computed before a reaction
 * landed, say): keeps what the operations made of either, so no write loses a reaction, an edit
 * or a delete. The rules are the same as applyOp's: delete is final, the latest edit and each
 * person's latest reaction win.
 */
export function mergeOps(cur: ChatMessage, next: ChatMessage): ChatMessage {
  if (cur === next || cur.op || next.op) return next;
  if (cur.deleted && !next.deleted) {
    const { file: _f, reactions: _r, reply: _q, editedAt: _e, ...rest } = next;
    return { ...rest, text: '', deleted: true };
  }
  if (next.deleted) return next;
  let out = next;
  if (cur.editedAt !== undefined && (next.editedAt === undefined || cur.editedAt > next.editedAt))
    out = { ...out, text: cur.text, editedAt: cur.editedAt };
  if (cur.reactions) {
    const merged = { ...next.reactions };
    let changed = false;
    for (const [u, r] of Object.entries(cur.reactions)) {
      const n = merged[u];
      if (!n || n.at < r.at) {
        merged[u] = r;
        changed = true;
      }
    }
    if (changed) out = { ...out, reactions: merged };
  }
  return out;
}

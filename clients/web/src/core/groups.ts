/**
 * Groups, the pure part: what members say to each other inside MLS application messages, who may
 * change the member list, and the group's encryption status. No I/O, unit-tested in Node.
 *
 * The group's name and admins are not in MLS's GroupContext (ts-mls would need a custom extension
 * that every member's capabilities list): an admin announces them in an encrypted `group` message
 * after every change it commits. The server never sees either.
 */
import { isMessageId, isUserId } from '@hush/protocol';
import { decodeFile, type FileRef, MAX_RECEIPT_IDS, MAX_TEXT_CHARS } from './content.js';
import {
  decodeOp,
  decodeTextExtras,
  OP_KINDS,
  type Op,
  type OpKind,
  type TextExtras,
  type TimerSetting,
} from './message-ops.js';
import type { ChatMessage, EncryptionStatus, Tick } from './model.js';

export const GROUP_CONTENT_VERSION = 1;
/** A group's name is shown in a list row and a heading: short, like WhatsApp's 100. */
export const MAX_GROUP_NAME_CHARS = 100;
/** People (accounts) in a group; every device is a leaf, so the gateway's 2 048-device cap binds first for many-device users. */
export const MAX_GROUP_PEOPLE = 1024;

export type GroupContent =
  | ({ v: 1; t: 'text'; id: string; text: string; sentAt: number; file?: FileRef } & TextExtras)
  /** A reaction, edit, delete for everyone or timer (core/message-ops.ts). */
  | ({ v: 1; id: string; sentAt: number } & Op)
  | { v: 1; t: 'receipt'; kind: 'delivered' | 'read'; ids: string[] }
  | { v: 1; t: 'typing'; on: boolean }
  /** Name and admins, sent by an admin after each change it commits (and by the creator first). */
  | { v: 1; t: 'group'; name: string; admins: string[] }
  /** "I leave": RFC 9420 §12.1.3 forbids committing one's own removal; an admin commits it. */
  | { v: 1; t: 'leave' };

export class GroupContentError extends Error {
  override readonly name = 'GroupContentError';
}

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

export function encodeGroupContent(c: GroupContent): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

/** Parses decrypted bytes from a member: every field checked, unknown kinds refused. */
export function decodeGroupContent(bytes: Uint8Array): GroupContent {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(bytes));
  } catch (e) {
    throw new GroupContentError('content is not UTF-8 JSON', { cause: e });
  }
  if (!isObj(raw) || raw.v !== GROUP_CONTENT_VERSION) throw new GroupContentError('unsupported content');
  switch (raw.t) {
    case 'text': {
      const { id, text, sentAt } = raw;
      if (typeof id !== 'string' || !isMessageId(id)) throw new GroupContentError('bad message id');
      const file = raw.file === undefined ? undefined : decodeFile(raw.file);
      if (typeof text !== 'string' || (text.length === 0 && !file) || text.length > MAX_TEXT_CHARS)
        throw new GroupContentError('bad text');
      if (typeof sentAt !== 'number' || !Number.isFinite(sentAt)) throw new GroupContentError('bad sentAt');
      return { v: 1, t: 'text', id, text, sentAt, ...(file ? { file } : {}), ...decodeTextExtras(raw, fail) };
    }
    case 'receipt': {
      const { kind, ids } = raw;
      if (kind !== 'delivered' && kind !== 'read') throw new GroupContentError('bad receipt kind');
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_RECEIPT_IDS)
        throw new GroupContentError('bad ids');
      for (const i of ids) if (typeof i !== 'string' || !isMessageId(i)) throw new GroupContentError('bad id');
      return { v: 1, t: 'receipt', kind, ids: ids as string[] };
    }
    case 'typing':
      if (typeof raw.on !== 'boolean') throw new GroupContentError('bad typing flag');
      return { v: 1, t: 'typing', on: raw.on };
    case 'group': {
      const { name, admins } = raw;
      if (typeof name !== 'string' || name.trim().length === 0 || name.length > MAX_GROUP_NAME_CHARS)
        throw new GroupContentError('bad group name');
      if (!Array.isArray(admins) || admins.length === 0 || admins.length > MAX_GROUP_PEOPLE)
        throw new GroupContentError('bad admins');
      for (const a of admins) if (typeof a !== 'string' || !isUserId(a)) throw new GroupContentError('bad admin');
      return { v: 1, t: 'group', name, admins: [...new Set(admins as string[])] };
    }
    case 'leave':
      return { v: 1, t: 'leave' };
    default: {
      if (!OP_KINDS.includes(raw.t as OpKind)) throw new GroupContentError(`unknown content type ${String(raw.t)}`);
      const { id, sentAt } = raw;
      if (typeof id !== 'string' || !isMessageId(id)) throw new GroupContentError('bad message id');
      if (typeof sentAt !== 'number' || !Number.isFinite(sentAt)) throw new GroupContentError('bad sentAt');
      return { v: 1, id, sentAt, ...decodeOp(raw, MAX_TEXT_CHARS, fail) };
    }
  }
}

const fail = (why: string): never => {
  throw new GroupContentError(why);
};

/** One person in a group, with how many of their devices are leaves. */
export interface GroupPerson {
  userId: string;
  username: string;
  devices: number;
}

/** What this device keeps about a group (encrypted at rest; MLS state is kept beside it). */
export interface GroupRecord {
  id: string;
  name: string;
  /** As last announced by an admin; `effectiveAdmins` is what counts. */
  admins: string[];
  /** From the MLS roster (authenticated), usernames from the directory. */
  people: GroupPerson[];
  /** People who said they leave; their removal is committed by an admin. */
  leaving: string[];
  createdAt: number;
  lastAt: number;
  lastText: string;
  unread: number;
  /** removed: an admin removed this device's account (or device); left: we left. Neither reads nor sends. */
  state: 'active' | 'removed' | 'left';
  /** Disappearing messages (core/message-ops.ts); absent or 0 seconds: off. */
  timer?: TimerSetting;
}

/**
 * Who may add and remove: the announced admins still in the group and not leaving. When none is
 * left, every remaining member is an admin, so a group is never stuck (every member computes the
 * same answer from the same roster).
 */
export function effectiveAdmins(g: Pick<GroupRecord, 'admins' | 'people' | 'leaving'>): string[] {
  const present = g.people.map((p) => p.userId).filter((u) => !g.leaving.includes(u));
  const admins = g.admins.filter((a) => present.includes(a));
  return admins.length > 0 ? admins : present;
}

export function isAdmin(g: Pick<GroupRecord, 'admins' | 'people' | 'leaving'>, userId: string): boolean {
  return effectiveAdmins(g).includes(userId);
}

/**
 * Whether a `group` announcement from `sender` is taken: from a current admin, or the first one a
 * device that just joined sees (it knows no name yet; a welcome carries no application data).
 */
export function acceptAnnouncement(g: GroupRecord, sender: string): boolean {
  return g.name === '' || isAdmin(g, sender);
}

/**
 * Green only when every other member is verified (their 1:1 safety number); yellow when any is
 * not; red when this device cannot encrypt to the group (removed, left, or no group state).
 */
export function groupStatus(
  g: Pick<GroupRecord, 'people' | 'state'>,
  me: string,
  personStatus: (userId: string) => EncryptionStatus,
  hasState: boolean,
): EncryptionStatus {
  if (g.state !== 'active' || !hasState) return 'red';
  const others = g.people.filter((p) => p.userId !== me);
  return others.every((p) => personStatus(p.userId) === 'green') ? 'green' : 'yellow';
}

export function groupStatusLabel(s: EncryptionStatus): string {
  switch (s) {
    case 'green':
      return 'Every member verified';
    case 'yellow':
      return 'Encrypted, not every member verified';
    case 'red':
      return 'Cannot encrypt';
  }
}

/**
 * The tick of one of our messages in a group: the lowest any other member reached (WhatsApp's
 * rule: "read" when everyone read it). Receipts are counted per person, not per device.
 */
export function groupTick(
  m: Pick<ChatMessage, 'tick'>,
  seenBy: Record<string, 'delivered' | 'read'>,
  others: string[],
): Tick {
  if (m.tick === 'pending' || m.tick === 'failed') return m.tick;
  if (others.length === 0) return m.tick;
  if (others.every((u) => seenBy[u] === 'read')) return 'read';
  if (others.every((u) => seenBy[u] !== undefined)) return 'delivered';
  return 'sent';
}

/** A receipt from `from` for some of our messages: returns what changed. */
export function applyGroupReceipt(
  list: ChatMessage[],
  from: string,
  kind: 'delivered' | 'read',
  ids: string[],
  others: string[],
): ChatMessage[] {
  const want = new Set(ids);
  const changed: ChatMessage[] = [];
  for (const m of list) {
    if (m.dir !== 'out' || !want.has(m.id)) continue;
    const seen = { ...(m.seenBy ?? {}) };
    if (seen[from] === 'read' || seen[from] === kind) continue;
    seen[from] = kind;
    changed.push({ ...m, seenBy: seen, tick: groupTick(m, seen, others) });
  }
  return changed;
}

/** Timeline wording for a roster change, by person (devices are an implementation detail). */
export function rosterNotice(by: string | null, added: string[], removed: string[], byIsAdmin: boolean): string | null {
  const parts: string[] = [];
  if (added.length > 0) parts.push(`added ${added.join(', ')}`);
  if (removed.length > 0) parts.push(`removed ${removed.join(', ')}`);
  if (parts.length === 0) return null;
  const who = by ?? 'Someone';
  return `${who} ${parts.join(' and ')}${byIsAdmin ? '' : ' (not an admin)'}`;
}

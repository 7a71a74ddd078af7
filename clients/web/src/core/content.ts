/**
 * The plaintext that the Double Ratchet encrypts (and @hush/crypto pads): a small versioned JSON
 * object. Receipts and typing indicators are ordinary encrypted messages too, so
 * the server learns nothing from them beyond traffic.
 *
 * Everything decoded here came out of a decryption, i.e. from a peer we have a session with, but
 * a peer is still untrusted input: every field is checked, unknown kinds are refused, and text is
 * later rendered only as a text node (never HTML).
 */
import { isMessageId, isUserId } from '@hush/protocol';

export const CONTENT_VERSION = 1;
/** A message longer than this is refused by the composer; keeps a padded body well under the frame limit. */
export const MAX_TEXT_CHARS = 4_000;
/** One receipt may acknowledge many messages at once (batching on reconnect); bounded like a frame. */
export const MAX_RECEIPT_IDS = 256;

import { decodeOp, decodeTextExtras, OP_KINDS, type Op, type OpKind, type TextExtras } from './message-ops.js';
import { cleanName, MAX_AVATAR_BYTES } from './profile.js';

/**
 * An encrypted attachment (libs/crypto attachment.ts): where the ciphertext is, the only key to
 * it and the digest that proves the server did not change it. Travels inside the E2E message only.
 */
export interface FileRef {
  /** The gateway's blob id (/v1/attachments/:id). */
  id: string;
  /** base64 of the 32-byte file key. */
  key: string;
  /** base64 of SHA-256 over the blob. */
  digest: string;
  /** The file's real size in bytes. */
  size: number;
  name: string;
  mime: string;
  /** A voice message recorded in the app (shown as a player, not a file card): its length in ms. */
  voiceMs?: number;
}
/** The product's limit on one file (the gateway refuses bigger blobs). */
export const MAX_FILE_BYTES = 100 * 1024 * 1024;
/** The longest voice message the app records (a recording stops by itself there). */
export const MAX_VOICE_MS = 15 * 60_000;

/** "Voice message (0:07)": what the conversation list and notifications say of one. */
export function voiceLabel(ms: number): string {
  const s = Math.round(ms / 1000);
  return `Voice message (${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')})`;
}
const FILE_ID_RE = /^[A-Za-z0-9]{22}$/;
const B64_32_RE = /^[A-Za-z0-9+/]{43}=$/;
const MIME_RE = /^[a-z0-9][a-z0-9.+-]{0,63}\/[a-z0-9][a-z0-9.+-]{0,63}$/i;

export function decodeFile(raw: unknown): FileRef {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ContentError('bad file');
  const { id, key, digest, size, name, mime, voiceMs } = raw as Record<string, unknown>;
  if (typeof id !== 'string' || !FILE_ID_RE.test(id)) throw new ContentError('bad file id');
  if (typeof key !== 'string' || !B64_32_RE.test(key)) throw new ContentError('bad file key');
  if (typeof digest !== 'string' || !B64_32_RE.test(digest)) throw new ContentError('bad file digest');
  if (typeof size !== 'number' || !Number.isInteger(size) || size < 0 || size > MAX_FILE_BYTES)
    throw new ContentError('bad file size');
  if (typeof name !== 'string' || name.length === 0 || name.length > 255) throw new ContentError('bad file name');
  if (typeof mime !== 'string' || !MIME_RE.test(mime)) throw new ContentError('bad file type');
  if (voiceMs === undefined) return { id, key, digest, size, name, mime };
  if (typeof voiceMs !== 'number' || !Number.isInteger(voiceMs) || voiceMs < 0 || voiceMs > MAX_VOICE_MS)
    throw new ContentError('bad voice length');
  if (!mime.startsWith('audio/')) throw new ContentError('a voice message must be audio');
  return { id, key, digest, size, name, mime, voiceMs };
}

export interface TextContent extends TextExtras {
  v: 1;
  t: 'text';
  /** Client message id, the same one the send frame carries. */
  id: string;
  /** The conversation peer's user id; needed by the sender's own other devices (sync). */
  to: string;
  /** The message text; may be empty when a file is attached (then it is the caption). */
  text: string;
  /** Sender's clock, Unix ms (display only; ordering uses the server's accept time). */
  sentAt: number;
  file?: FileRef;
}
export interface ReceiptContent {
  v: 1;
  t: 'receipt';
  kind: 'delivered' | 'read';
  ids: string[];
  /** On copies to our own other devices (read state sync): the conversation the ids belong to. */
  to?: string;
}
/**
 * "My device list changed": sent by the device that linked a new one, to contacts and to the
 * account's other devices, so they fetch the signed list now (and show a notice) instead of at
 * their next send. The list itself is verified from the key directory, never taken from here.
 */
export interface DevicesContent {
  v: 1;
  t: 'devices';
}
export interface TypingContent {
  v: 1;
  t: 'typing';
  on: boolean;
}
/**
 * A reaction, edit, delete for everyone or disappearing-messages timer (core/message-ops.ts) in the
 * conversation with `to`; its own `id` is the send frame's, `sentAt` orders it against others.
 */
export type OpContent = { v: 1; id: string; to: string; sentAt: number } & Op;
/**
 * "My profile is now…" (docs/PROTOCOL-WIRE.md §12; core/profile.ts): sent to contacts when it
 * changes and to a contact after the first message, and to our own other devices. The avatar is
 * an encrypted attachment; only an image type the browser decodes safely (never SVG) and a small
 * size are accepted.
 */
export interface ProfileContent {
  v: 1;
  t: 'profile';
  /** Display name (core/profile.ts cleanName); empty: none. */
  name: string;
  avatar?: FileRef;
  /** When it was set, the author's clock (Unix ms). */
  at: number;
}
const AVATAR_MIMES = new Set(['image/jpeg', 'image/png', 'image/webp']);
export type Content = TextContent | ReceiptContent | TypingContent | DevicesContent | ProfileContent | OpContent;

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

export function encodeContent(c: Content): Uint8Array {
  return enc.encode(JSON.stringify(c));
}

export class ContentError extends Error {
  override readonly name = 'ContentError';
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** Parses and validates decrypted bytes; throws ContentError on anything unexpected. */
export function decodeContent(bytes: Uint8Array): Content {
  let raw: unknown;
  try {
    raw = JSON.parse(dec.decode(bytes));
  } catch (e) {
    throw new ContentError('content is not UTF-8 JSON', { cause: e });
  }
  if (!isObj(raw)) throw new ContentError('content is not an object');
  if (raw.v !== CONTENT_VERSION) throw new ContentError(`unsupported content version ${String(raw.v)}`);
  switch (raw.t) {
    case 'text': {
      const { id, to, text, sentAt } = raw;
      if (typeof id !== 'string' || !isMessageId(id)) throw new ContentError('bad message id');
      if (typeof to !== 'string' || !isUserId(to)) throw new ContentError('bad recipient');
      const file = raw.file === undefined ? undefined : decodeFile(raw.file);
      if (typeof text !== 'string' || (text.length === 0 && !file) || text.length > MAX_TEXT_CHARS)
        throw new ContentError('bad text');
      if (typeof sentAt !== 'number' || !Number.isFinite(sentAt)) throw new ContentError('bad sentAt');
      const extras = decodeTextExtras(raw, fail);
      return { v: 1, t: 'text', id, to, text, sentAt, ...(file ? { file } : {}), ...extras };
    }
    case 'receipt': {
      const { kind, ids } = raw;
      if (kind !== 'delivered' && kind !== 'read') throw new ContentError('bad receipt kind');
      if (!Array.isArray(ids) || ids.length === 0 || ids.length > MAX_RECEIPT_IDS) throw new ContentError('bad ids');
      for (const i of ids) if (typeof i !== 'string' || !isMessageId(i)) throw new ContentError('bad id');
      if (raw.to !== undefined && (typeof raw.to !== 'string' || !isUserId(raw.to)))
        throw new ContentError('bad receipt conversation');
      const r: ReceiptContent = { v: 1, t: 'receipt', kind, ids: ids as string[] };
      if (typeof raw.to === 'string') r.to = raw.to;
      return r;
    }
    case 'devices':
      return { v: 1, t: 'devices' };
    case 'profile': {
      const { name, at } = raw;
      if (typeof name !== 'string' || name !== cleanName(name)) throw new ContentError('bad profile name');
      if (typeof at !== 'number' || !Number.isFinite(at) || at < 0) throw new ContentError('bad profile time');
      if (raw.avatar === undefined) return { v: 1, t: 'profile', name, at };
      let avatar: FileRef;
      try {
        avatar = decodeFile(raw.avatar);
      } catch (e) {
        throw new ContentError('bad avatar', { cause: e });
      }
      if (!AVATAR_MIMES.has(avatar.mime) || avatar.size > MAX_AVATAR_BYTES) throw new ContentError('bad avatar');
      return { v: 1, t: 'profile', name, avatar, at };
    }
    case 'typing': {
      if (typeof raw.on !== 'boolean') throw new ContentError('bad typing flag');
      return { v: 1, t: 'typing', on: raw.on };
    }
    default: {
      if (!OP_KINDS.includes(raw.t as OpKind)) throw new ContentError(`unknown content type ${String(raw.t)}`);
      const { id, to, sentAt } = raw;
      if (typeof id !== 'string' || !isMessageId(id)) throw new ContentError('bad message id');
      if (typeof to !== 'string' || !isUserId(to)) throw new ContentError('bad recipient');
      if (typeof sentAt !== 'number' || !Number.isFinite(sentAt)) throw new ContentError('bad sentAt');
      return { v: 1, id, to, sentAt, ...decodeOp(raw, MAX_TEXT_CHARS, fail) };
    }
  }
}

const fail = (why: string): never => {
  throw new ContentError(why);
};

/** 16 random bytes in base64url: matches MESSAGE_ID_PATTERN of @hush/protocol. */
export function newMessageId(): string {
  const b = new Uint8Array(16);
  globalThis.crypto.getRandomValues(b);
  let s = '';
  for (const x of b) s += String.fromCharCode(x);
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/**
 * Pure rules of the encrypted backup (engine/backup.ts runs them): which records are backed up,
 * which changed since the last run (fingerprints), how they are cut into chunks, and the status
 * line. No I/O, no clock: unit-tested in Node (backup.test.ts).
 */
import type { ChatMessage, Conversation } from './model.js';

/** A backup chunk's content (sealed by the adapter: JSON, deflate, padding, AEAD). */
export interface BackupRecords {
  conversations: Conversation[];
  messages: ChatMessage[];
}
/** One chunk the manifest lists: its id and how many records it holds. */
export interface BackupSegment {
  id: string;
  n: number;
}
/** Record key -> fingerprint of what was last backed up. */
export type Fingerprints = Record<string, number>;

/** JSON per chunk before compression: compressed and padded it stays under the server's object size. */
export const BACKUP_CHUNK_JSON = 192 * 1024;
/** More chunks than this in the manifest and the next run rewrites the backup whole (compaction). */
export const BACKUP_MAX_SEGMENTS = 64;
/** A change is backed up this long after it happened (changes in between ride along). */
export const BACKUP_DELAY_MS = 5_000;
/** Group positions the user types back before backup turns on ("confirm a few of them"). */
export const BACKUP_CONFIRM_GROUPS = 3;

/**
 * cyrb53 (a public-domain 53-bit string hash): not cryptographic, only "did this record change".
 * A collision (≈ 2^-53 per change) would skip one update until the record changes again.
 */
export function fingerprint(s: string): number {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return 4294967296 * (2097151 & h2) + (h1 >>> 0);
}

/**
 * What a backup holds of the history: every conversation with its trust state (verified key, key
 * change), and every message that reached the server or came from it, without its wire record
 * (the frames are the server's view, not history). Pending and failed messages live in the outbox.
 */
export function backupRecords(conversations: Conversation[], messages: Record<string, ChatMessage[]>): BackupRecords {
  return {
    conversations: conversations.map((c) => ({ ...c, deviceNotice: null })),
    messages: Object.values(messages)
      .flat()
      .filter((m) => m.tick !== 'pending' && m.tick !== 'failed')
      .map((m) => ({ ...m, wire: null })),
  };
}

const convKey = (c: Conversation) => `c:${c.peer}`;
const msgKey = (m: ChatMessage) => `m:${m.conv}:${m.id}`;

/** Fingerprints of every record. */
export function fingerprints(r: BackupRecords): Fingerprints {
  const out: Fingerprints = {};
  for (const c of r.conversations) out[convKey(c)] = fingerprint(JSON.stringify(c));
  for (const m of r.messages) out[msgKey(m)] = fingerprint(JSON.stringify(m));
  return out;
}

/** The records whose fingerprint differs from the last backup's, and their new fingerprints. */
export function changedRecords(r: BackupRecords, last: Fingerprints): { changed: BackupRecords; fp: Fingerprints } {
  const fp: Fingerprints = {};
  const changed: BackupRecords = { conversations: [], messages: [] };
  for (const c of r.conversations) {
    const f = fingerprint(JSON.stringify(c));
    if (last[convKey(c)] !== f) {
      changed.conversations.push(c);
      fp[convKey(c)] = f;
    }
  }
  for (const m of r.messages) {
    const f = fingerprint(JSON.stringify(m));
    if (last[msgKey(m)] !== f) {
      changed.messages.push(m);
      fp[msgKey(m)] = f;
    }
  }
  return { changed, fp };
}

export const recordCount = (r: BackupRecords) => r.conversations.length + r.messages.length;

/** Cuts records into chunks of about `limit` characters of JSON (conversations first). */
export function chunkRecords(r: BackupRecords, limit = BACKUP_CHUNK_JSON): BackupRecords[] {
  const out: BackupRecords[] = [];
  let cur: BackupRecords = { conversations: [], messages: [] };
  let size = 0;
  const add = (kind: keyof BackupRecords, item: Conversation | ChatMessage) => {
    const n = JSON.stringify(item).length + 1;
    if (size > 0 && size + n > limit) {
      out.push(cur);
      cur = { conversations: [], messages: [] };
      size = 0;
    }
    (cur[kind] as unknown[]).push(item);
    size += n;
  };
  for (const c of r.conversations) add('conversations', c);
  for (const m of r.messages) add('messages', m);
  if (size > 0) out.push(cur);
  return out;
}

/** Halves a chunk (when its sealed form came out larger than the server takes). */
export function splitRecords(r: BackupRecords): [BackupRecords, BackupRecords] {
  const c = Math.ceil(r.conversations.length / 2);
  const m = Math.ceil(r.messages.length / 2);
  return [
    { conversations: r.conversations.slice(0, c), messages: r.messages.slice(0, m) },
    { conversations: r.conversations.slice(c), messages: r.messages.slice(m) },
  ];
}

/** Applies restored chunks in manifest order: a later copy of a record replaces an earlier one. */
export function mergeRecords(chunks: BackupRecords[]): BackupRecords {
  const convs = new Map<string, Conversation>();
  const msgs = new Map<string, ChatMessage>();
  for (const ch of chunks) {
    for (const c of ch.conversations) convs.set(c.peer, c);
    for (const m of ch.messages) msgs.set(msgKey(m), m);
  }
  return { conversations: [...convs.values()], messages: [...msgs.values()] };
}

/** "Last backup 2 min ago". */
export function formatBackupAge(at: number | null, now: number): string {
  if (at === null) return 'Not backed up yet';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return 'Last backup just now';
  if (s < 3600) return `Last backup ${Math.round(s / 60)} min ago`;
  if (s < 48 * 3600) return `Last backup ${Math.round(s / 3600)} h ago`;
  return `Last backup ${Math.round(s / 86400)} days ago`;
}

/** Groups of a formatted recovery key ("3f9a 0c11 …"), 1-based positions for the user. */
export const keyGroups = (formatted: string) => formatted.split(' ');

/** True when each answer matches the key's group at its position (case and spaces ignored). */
export function confirmGroups(formatted: string, positions: number[], answers: string[]): boolean {
  const groups = keyGroups(formatted);
  return positions.every((p, i) => (answers[i] ?? '').replace(/\s/g, '').toLowerCase() === groups[p - 1]);
}

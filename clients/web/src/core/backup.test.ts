import { describe, expect, it } from 'vitest';
import {
  backupRecords,
  changedRecords,
  chunkRecords,
  confirmGroups,
  fingerprints,
  formatBackupAge,
  mergeRecords,
  splitRecords,
} from './backup.js';
import type { ChatMessage, Conversation } from './model.js';

const conv = (peer: string, over: Partial<Conversation> = {}): Conversation => ({
  peer,
  username: peer,
  createdAt: 1,
  lastAt: 1,
  lastText: '',
  unread: 0,
  identityKey: 'k',
  verifiedKey: 'k',
  keyChange: null,
  cannotEncrypt: null,
  deviceNotice: 'bob added a device.',
  ...over,
});
const msg = (conv: string, id: string, over: Partial<ChatMessage> = {}): ChatMessage => ({
  id,
  conv,
  dir: 'out',
  text: `text ${id}`,
  sentAt: 1,
  ts: 2,
  tick: 'sent',
  wire: { kind: 'sent', frame: { type: 'send', id, envelopes: [] } },
  ...over,
});

describe('backup records', () => {
  it('keep conversations with their verification and stored messages without wire records or outbox entries', () => {
    const r = backupRecords([conv('bob')], {
      bob: [msg('bob', '1'), msg('bob', '2', { tick: 'pending' }), msg('bob', '3', { tick: 'failed' })],
    });
    expect(r.conversations).toEqual([{ ...conv('bob'), deviceNotice: null }]);
    expect(r.messages.map((m) => [m.id, m.wire])).toEqual([['1', null]]);
  });

  it('finds only what changed since the last fingerprints (a new message, a tick that advanced)', () => {
    const before = backupRecords([conv('bob')], { bob: [msg('bob', '1'), msg('bob', '2')] });
    const fp = fingerprints(before);
    const after = backupRecords([conv('bob')], {
      bob: [msg('bob', '1'), msg('bob', '2', { tick: 'read' }), msg('bob', '3')],
    });
    const { changed, fp: next } = changedRecords(after, fp);
    expect(changed.conversations).toEqual([]);
    expect(changed.messages.map((m) => m.id)).toEqual(['2', '3']);
    expect(changedRecords(after, { ...fp, ...next }).changed.messages).toEqual([]);
  });

  it('cut into chunks of bounded JSON, halve, and merge back with later copies winning', () => {
    const messages = Array.from({ length: 50 }, (_, i) => msg('bob', String(i), { wire: null }));
    const chunks = chunkRecords({ conversations: [conv('bob')], messages }, 2_000);
    expect(chunks.length).toBeGreaterThanOrEqual(3);
    for (const c of chunks)
      expect(JSON.stringify(c.messages).length + JSON.stringify(c.conversations).length).toBeLessThan(2_400);
    const [x, y] = splitRecords(chunks[0]!);
    expect([...x.messages, ...y.messages]).toEqual(chunks[0]!.messages);
    const later = { conversations: [], messages: [msg('bob', '3', { tick: 'read', wire: null })] };
    const merged = mergeRecords([...chunks, later]);
    expect(merged.messages).toHaveLength(50);
    expect(merged.messages.find((m) => m.id === '3')!.tick).toBe('read');
    expect(merged.conversations).toHaveLength(1);
  });
});

describe('backup status and key check', () => {
  it('says how long ago the last backup ran', () => {
    const now = 10_000_000;
    expect(formatBackupAge(null, now)).toBe('Not backed up yet');
    expect(formatBackupAge(now - 20_000, now)).toBe('Last backup just now');
    expect(formatBackupAge(now - 120_000, now)).toBe('Last backup 2 min ago');
    expect(formatBackupAge(now - 3 * 3600_000, now)).toBe('Last backup 3 h ago');
  });

  it('accepts the asked groups typed in any case and with spaces, and nothing else', () => {
    const key = Array.from({ length: 16 }, (_, i) => `${i}`.padStart(4, 'a')).join(' ');
    expect(confirmGroups(key, [1, 7, 16], ['aaa0', ' AAA6', 'aa15'])).toBe(true);
    expect(confirmGroups(key, [1, 7, 16], ['aaa0', 'aaa6', 'aa14'])).toBe(false);
    expect(confirmGroups(key, [1, 7, 16], ['aaa0', 'aaa6'])).toBe(false);
  });
});

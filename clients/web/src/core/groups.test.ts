import { describe, expect, it } from 'vitest';
import {
  acceptAnnouncement,
  applyGroupReceipt,
  decodeGroupContent,
  effectiveAdmins,
  encodeGroupContent,
  type GroupContent,
  type GroupRecord,
  groupStatus,
  groupTick,
  rosterNotice,
} from './groups.js';
import type { ChatMessage } from './model.js';

const A = 'aaaaaaaaaaaaaaaaaaaa';
const B = 'bbbbbbbbbbbbbbbbbbbb';
const C = 'cccccccccccccccccccc';
const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));

const group = (p: Partial<GroupRecord> = {}): GroupRecord => ({
  id: '0'.repeat(32),
  name: 'Trip',
  admins: [A],
  people: [A, B, C].map((userId) => ({ userId, username: userId.slice(0, 3), devices: 1 })),
  leaving: [],
  createdAt: 0,
  lastAt: 0,
  lastText: '',
  unread: 0,
  state: 'active',
  ...p,
});

describe('group content', () => {
  it('round-trips every kind', () => {
    const all: GroupContent[] = [
      { v: 1, t: 'text', id: 'abcdefgh12', text: 'hi', sentAt: 5 },
      { v: 1, t: 'receipt', kind: 'read', ids: ['abcdefgh12'] },
      { v: 1, t: 'typing', on: true },
      { v: 1, t: 'group', name: 'Trip', admins: [A] },
      { v: 1, t: 'leave' },
    ];
    for (const c of all) expect(decodeGroupContent(encodeGroupContent(c))).toEqual(c);
  });

  it('refuses unknown kinds, bad fields and non-JSON', () => {
    const bad = [
      { v: 2, t: 'leave' },
      { v: 1, t: 'kick', who: B },
      { v: 1, t: 'text', id: 'x', text: 'hi', sentAt: 1 },
      { v: 1, t: 'text', id: 'abcdefgh12', text: '', sentAt: 1 },
      { v: 1, t: 'group', name: ' ', admins: [A] },
      { v: 1, t: 'group', name: 'Trip', admins: [] },
      { v: 1, t: 'group', name: 'Trip', admins: ['NOT-AN-ID'] },
      { v: 1, t: 'receipt', kind: 'seen', ids: ['abcdefgh12'] },
    ];
    for (const b of bad) expect(() => decodeGroupContent(enc(b))).toThrow();
    expect(() => decodeGroupContent(new Uint8Array([0xff, 0x00]))).toThrow();
  });
});

describe('admins', () => {
  it('counts announced admins still present and not leaving', () => {
    expect(effectiveAdmins(group())).toEqual([A]);
    expect(effectiveAdmins(group({ admins: [A, B] }))).toEqual([A, B]);
  });
  it('makes every remaining member an admin when the last admin leaves or is gone', () => {
    expect(effectiveAdmins(group({ leaving: [A] }))).toEqual([B, C]);
    expect(effectiveAdmins(group({ admins: ['zzzzzzzzzzzzzzzzzzzz'] }))).toEqual([A, B, C]);
  });
  it('takes an announcement from an admin, or the first one after joining', () => {
    expect(acceptAnnouncement(group(), A)).toBe(true);
    expect(acceptAnnouncement(group(), B)).toBe(false);
    expect(acceptAnnouncement(group({ name: '' }), B)).toBe(true);
  });
});

describe('encryption status', () => {
  const st = (m: Record<string, 'green' | 'yellow' | 'red'>) => (u: string) => m[u] ?? 'yellow';
  it('is green only when every other member is verified', () => {
    expect(groupStatus(group(), A, st({ [B]: 'green', [C]: 'green' }), true)).toBe('green');
    expect(groupStatus(group(), A, st({ [B]: 'green' }), true)).toBe('yellow');
  });
  it('is red when this device cannot encrypt to the group', () => {
    expect(groupStatus(group({ state: 'removed' }), A, st({}), true)).toBe('red');
    expect(groupStatus(group({ state: 'left' }), A, st({}), true)).toBe('red');
    expect(groupStatus(group(), A, st({}), false)).toBe('red');
  });
});

describe('receipts', () => {
  const mine: ChatMessage = {
    id: 'abcdefgh12',
    conv: 'g:x',
    dir: 'out',
    text: 'hi',
    sentAt: 1,
    ts: 2,
    tick: 'sent',
    wire: null,
    seenBy: {},
  };
  it('reaches delivered, then read, only when every other person did', () => {
    let list = [mine];
    list = applyGroupReceipt(list, B, 'delivered', [mine.id], [B, C]);
    expect(list[0]!.tick).toBe('sent');
    list = applyGroupReceipt(list, C, 'read', [mine.id], [B, C]);
    expect(list[0]!.tick).toBe('delivered');
    list = applyGroupReceipt(list, B, 'read', [mine.id], [B, C]);
    expect(list[0]!.tick).toBe('read');
    // A late "delivered" never moves a reader back.
    expect(applyGroupReceipt(list, B, 'delivered', [mine.id], [B, C])).toEqual([]);
  });
  it('leaves pending and failed messages alone', () => {
    expect(groupTick({ tick: 'failed' }, { [B]: 'read' }, [B])).toBe('failed');
    expect(groupTick({ tick: 'pending' }, { [B]: 'read' }, [B])).toBe('pending');
  });
});

describe('roster notices', () => {
  it('names who changed what, and flags a non-admin', () => {
    expect(rosterNotice('alice', ['bob'], [], true)).toBe('alice added bob');
    expect(rosterNotice('bob', [], ['carol'], false)).toBe('bob removed carol (not an admin)');
    expect(rosterNotice('bob', [], [], true)).toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { dayLabel, formatClock, groupSafetyNumber } from './format.js';
import {
  advanceTick,
  applyReceipt,
  type ChatMessage,
  encryptionStatus,
  insertMessage,
  markRead,
  newConversation,
  outbox,
  unreadCount,
} from './model.js';
import { markVerified, observeIdentity } from './trust.js';

const msg = (p: Partial<ChatMessage> & { id: string }): ChatMessage => ({
  conv: 'peer0000001',
  dir: 'out',
  text: 'hi',
  sentAt: 1,
  ts: null,
  tick: 'pending',
  wire: null,
  ...p,
});

describe('encryption status', () => {
  it('is red before any identity key is known and when the bundle cannot be used', () => {
    const c = newConversation('peer0000001', 'bob', 0);
    expect(encryptionStatus(c)).toBe('red');
    const seen = observeIdentity(c, 'KEY1', 1, 'bundle');
    expect(encryptionStatus({ ...seen, cannotEncrypt: 'bad signature' })).toBe('red');
  });

  it('is yellow when encrypted but not verified, green once verified', () => {
    const c = observeIdentity(newConversation('peer0000001', 'bob', 0), 'KEY1', 1, 'bundle');
    expect(encryptionStatus(c)).toBe('yellow');
    expect(encryptionStatus(markVerified(c))).toBe('green');
  });

  it('turns a verified conversation yellow with a key-change notice when the identity key changes', () => {
    const v = markVerified(observeIdentity(newConversation('peer0000001', 'bob', 0), 'KEY1', 1, 'bundle'));
    const changed = observeIdentity(v, 'KEY2', 5, 'bundle');
    expect(encryptionStatus(changed)).toBe('yellow');
    expect(changed.keyChange).toEqual({ at: 5, wasVerified: true });
    const again = markVerified(changed);
    expect(encryptionStatus(again)).toBe('green');
    expect(again.keyChange).toBeNull();
  });

  it('does not flag a change when the same key is seen again', () => {
    const v = markVerified(observeIdentity(newConversation('peer0000001', 'bob', 0), 'KEY1', 1, 'bundle'));
    expect(observeIdentity(v, 'KEY1', 9, 'bundle')).toBe(v);
  });
});

describe('ticks', () => {
  it('only move forward and a late delivered receipt never undoes read', () => {
    expect(advanceTick('pending', 'sent')).toBe('sent');
    expect(advanceTick('read', 'delivered')).toBe('read');
    expect(advanceTick('sent', 'pending')).toBe('sent');
    expect(advanceTick('pending', 'failed')).toBe('failed');
    expect(advanceTick('sent', 'failed')).toBe('sent');
    expect(advanceTick('failed', 'read')).toBe('failed');
  });

  it('receipts update only the named outgoing messages', () => {
    const list = [
      msg({ id: 'aaaaaaaa', tick: 'sent' }),
      msg({ id: 'bbbbbbbb', tick: 'sent' }),
      msg({ id: 'cccccccc', dir: 'in', tick: 'delivered' }),
    ];
    const r = applyReceipt(list, 'read', ['aaaaaaaa', 'cccccccc']);
    expect(r.list.map((m) => m.tick)).toEqual(['read', 'sent', 'delivered']);
    expect(r.changed.map((m) => m.id)).toEqual(['aaaaaaaa']);
  });
});

describe('message list', () => {
  it('ignores a second copy of a message id (exactly once as the user sees it)', () => {
    const list = [msg({ id: 'aaaaaaaa', ts: 10 })];
    expect(insertMessage(list, msg({ id: 'aaaaaaaa', ts: 11, text: 'dup' }))).toBeNull();
  });

  it('keeps messages in gateway order with the outbox at the end', () => {
    let list: ChatMessage[] = [];
    for (const m of [
      msg({ id: 'pending1', sentAt: 50 }),
      msg({ id: 'ccc00003', ts: 30 }),
      msg({ id: 'aaa00001', ts: 10 }),
      msg({ id: 'bbb00002', ts: 20 }),
    ])
      list = insertMessage(list, m) ?? list;
    expect(list.map((m) => m.id)).toEqual(['aaa00001', 'bbb00002', 'ccc00003', 'pending1']);
  });

  it('the outbox holds pending outgoing messages in typing order', () => {
    const list = [
      msg({ id: 'p2222222', sentAt: 2 }),
      msg({ id: 'p1111111', sentAt: 1 }),
      msg({ id: 'sent0000', tick: 'sent', ts: 1 }),
    ];
    expect(outbox(list).map((m) => m.id)).toEqual(['p1111111', 'p2222222']);
  });

  it('marking read returns the ids that need a read receipt and clears the unread count', () => {
    const list = [
      msg({ id: 'in000001', dir: 'in', tick: 'delivered' }),
      msg({ id: 'in000002', dir: 'in', tick: 'read' }),
    ];
    expect(unreadCount(list)).toBe(1);
    const r = markRead(list);
    expect(r.ids).toEqual(['in000001']);
    expect(unreadCount(r.list)).toBe(0);
  });
});

it('a safety number is shown as 12 groups of 5 digits', () => {
  const g = groupSafetyNumber('0'.repeat(30) + '1'.repeat(30));
  expect(g).toHaveLength(12);
  expect(g.every((x) => x.length === 5)).toBe(true);
});

describe('times in the timeline', () => {
  it('labels days Today, Yesterday, then by date', () => {
    const now = new Date(2026, 11, 2, 9, 30).getTime();
    expect(dayLabel(new Date(2026, 11, 2, 0, 1).getTime(), now)).toBe('Today');
    expect(dayLabel(new Date(2026, 11, 1, 23, 59).getTime(), now)).toBe('Yesterday');
    expect(dayLabel(new Date(2026, 10, 30, 12).getTime(), now)).not.toMatch(/Today|Yesterday|2026/);
    expect(dayLabel(new Date(2025, 10, 30, 12).getTime(), now)).toMatch(/2025/);
    expect(formatClock(new Date(2026, 11, 2, 7, 5).getTime())).toBe('07:05');
  });
});

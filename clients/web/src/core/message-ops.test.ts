import { describe, expect, it } from 'vitest';
import { ContentError, decodeContent, encodeContent } from './content.js';
import { decodeGroupContent, encodeGroupContent, GroupContentError } from './groups.js';
import {
  applyOp,
  dueForDeletion,
  expiryOf,
  isEmoji,
  MAX_TIMER_SECONDS,
  newerTimer,
  nextExpiry,
  PENDING_OP_MS,
  pendingOps,
  REPLY_SNIPPET_CHARS,
  reactionSummary,
  replyTo,
  timerLabel,
  timerNotice,
} from './message-ops.js';
import type { ChatMessage } from './model.js';
import { markRead, unreadCount, visibleMessages } from './model.js';

const enc = new TextEncoder();
const ALICE = 'aliceaaaaa01';
const BOB = 'bobbbbbbbb02';
const ID = 'msg-0001';
const OP = 'op-00001';
const head = `"v":1,"id":"${OP}","to":"${BOB}","sentAt":5`;

const msg = (over: Partial<ChatMessage> = {}): ChatMessage => ({
  id: ID,
  conv: BOB,
  dir: 'in',
  text: 'hello',
  sentAt: 100,
  ts: 100,
  tick: 'delivered',
  wire: null,
  ...over,
});

describe('message operation content (1:1)', () => {
  it('round-trips a reply, a forward, a timer on a text, and every control kind', () => {
    const all = [
      {
        v: 1,
        t: 'text',
        id: ID,
        to: BOB,
        text: 'yes',
        sentAt: 1,
        reply: { id: 'msg-0000', from: ALICE, text: 'q' },
        ttl: 5,
        fwd: true,
      },
      { v: 1, t: 'react', id: OP, to: BOB, sentAt: 5, target: ID, emoji: '👍' },
      { v: 1, t: 'react', id: OP, to: BOB, sentAt: 5, target: ID, emoji: null },
      { v: 1, t: 'react', id: OP, to: BOB, sentAt: 5, target: ID, emoji: '👩‍👩‍👧‍👦' },
      { v: 1, t: 'edit', id: OP, to: BOB, sentAt: 5, target: ID, text: 'fixed' },
      { v: 1, t: 'delete', id: OP, to: BOB, sentAt: 5, target: ID },
      { v: 1, t: 'timer', id: OP, to: BOB, sentAt: 5, seconds: 3600 },
      { v: 1, t: 'timer', id: OP, to: BOB, sentAt: 5, seconds: 0 },
      { v: 1, t: 'timer', id: OP, to: BOB, sentAt: 5, seconds: MAX_TIMER_SECONDS },
    ] as const;
    for (const c of all) expect(decodeContent(encodeContent(c as never))).toEqual(c);
  });

  it.each([
    ['a reaction that is a word', `{${head},"t":"react","target":"${ID}","emoji":"yes"}`],
    ['a reaction with a space', `{${head},"t":"react","target":"${ID}","emoji":"👍 "}`],
    ['a reaction too long', `{${head},"t":"react","target":"${ID}","emoji":"${'👍'.repeat(9)}"}`],
    ['a reaction without a target', `{${head},"t":"react","emoji":"👍"}`],
    ['a bad target id', `{${head},"t":"delete","target":"x"}`],
    ['an empty edit', `{${head},"t":"edit","target":"${ID}","text":"  "}`],
    ['an edit over the text limit', `{${head},"t":"edit","target":"${ID}","text":"${'a'.repeat(4001)}"}`],
    ['a negative timer', `{${head},"t":"timer","seconds":-1}`],
    ['a fractional timer', `{${head},"t":"timer","seconds":1.5}`],
    ['a timer over a year', `{${head},"t":"timer","seconds":${MAX_TIMER_SECONDS + 1}}`],
    ['a control without a conversation', `{"v":1,"id":"${OP}","sentAt":5,"t":"delete","target":"${ID}"}`],
    ['a control without sentAt', `{"v":1,"id":"${OP}","to":"${BOB}","t":"delete","target":"${ID}"}`],
    ['a zero ttl', `{"v":1,"t":"text","id":"${ID}","to":"${BOB}","text":"a","sentAt":1,"ttl":0}`],
    ['a forward flag that is not true', `{"v":1,"t":"text","id":"${ID}","to":"${BOB}","text":"a","sentAt":1,"fwd":1}`],
    [
      'a reply snippet too long',
      `{"v":1,"t":"text","id":"${ID}","to":"${BOB}","text":"a","sentAt":1,"reply":{"id":"${ID}","from":"${ALICE}","text":"${'a'.repeat(REPLY_SNIPPET_CHARS + 1)}"}}`,
    ],
    [
      'a reply with a bad author',
      `{"v":1,"t":"text","id":"${ID}","to":"${BOB}","text":"a","sentAt":1,"reply":{"id":"${ID}","from":"Bob","text":""}}`,
    ],
  ])('refuses %s', (_name, text) => {
    expect(() => decodeContent(enc.encode(text))).toThrow(ContentError);
  });
});

describe('message operation content (groups)', () => {
  it('round-trips a file, reply and timer on a text, and the controls', () => {
    const file = {
      id: 'A'.repeat(22),
      key: `${'A'.repeat(43)}=`,
      digest: `${'B'.repeat(43)}=`,
      size: 3,
      name: 'a.txt',
      mime: 'text/plain',
    };
    const all = [
      { v: 1, t: 'text', id: ID, text: '', sentAt: 1, file, fwd: true, ttl: 60 },
      { v: 1, t: 'react', id: OP, sentAt: 5, target: ID, emoji: '❤️' },
      { v: 1, t: 'edit', id: OP, sentAt: 5, target: ID, text: 'b' },
      { v: 1, t: 'delete', id: OP, sentAt: 5, target: ID },
      { v: 1, t: 'timer', id: OP, sentAt: 5, seconds: 5 },
    ] as const;
    for (const c of all) expect(decodeGroupContent(encodeGroupContent(c as never))).toEqual(c);
  });

  it.each([
    ['an empty text without a file', `{"v":1,"t":"text","id":"${ID}","text":"","sentAt":1}`],
    ['a reaction that is a letter', `{"v":1,"t":"react","id":"${OP}","sentAt":5,"target":"${ID}","emoji":"a"}`],
    ['a delete with a bad id', `{"v":1,"t":"delete","id":"x","sentAt":5,"target":"${ID}"}`],
    ['a timer that is a string', `{"v":1,"t":"timer","id":"${OP}","sentAt":5,"seconds":"5"}`],
  ])('refuses %s', (_name, text) => {
    expect(() => decodeGroupContent(enc.encode(text))).toThrow(GroupContentError);
  });
});

describe('who may do what, in any order, once', () => {
  it('only the author edits; the latest edit wins whatever order edits arrive in', () => {
    const m = msg();
    expect(applyOp(m, { t: 'edit', target: ID, text: 'x' }, ALICE, 200, ALICE)).toEqual({
      kind: 'refused',
      reason: 'only the author may edit a message',
    });
    const late = applyOp(m, { t: 'edit', target: ID, text: 'second' }, BOB, 300, ALICE);
    expect(late.kind === 'applied' && late.message.text).toBe('second');
    if (late.kind !== 'applied') throw new Error('not applied');
    // The older edit arriving after the newer one, and the newer one again: nothing changes.
    expect(applyOp(late.message, { t: 'edit', target: ID, text: 'first' }, BOB, 200, ALICE).kind).toBe('unchanged');
    expect(applyOp(late.message, { t: 'edit', target: ID, text: 'second' }, BOB, 300, ALICE).kind).toBe('unchanged');
  });

  it('our own outgoing messages are ours to edit and delete, not the peer’s', () => {
    const ours = msg({ dir: 'out', sender: undefined });
    expect(applyOp(ours, { t: 'delete', target: ID }, BOB, 200, ALICE).kind).toBe('refused');
    expect(applyOp(ours, { t: 'delete', target: ID }, ALICE, 200, ALICE).kind).toBe('applied');
    // In a group the author is the message's sender.
    const group = msg({ conv: 'g:x', sender: BOB });
    expect(applyOp(group, { t: 'edit', target: ID, text: 'y' }, ALICE, 200, ALICE).kind).toBe('refused');
  });

  it('a delete is final: it drops text, file, reactions and quote, and nothing resurrects it', () => {
    const file = { id: 'A'.repeat(22), key: 'k', digest: 'd', size: 1, name: 'a', mime: 'text/plain' };
    const m = msg({ file, reactions: { [ALICE]: { emoji: '👍', at: 1 } }, reply: { id: 'x', from: ALICE, text: 'q' } });
    const r = applyOp(m, { t: 'delete', target: ID }, BOB, 200, ALICE);
    if (r.kind !== 'applied') throw new Error('not applied');
    expect(r.removedFile).toBe(file.id);
    expect(r.message).toMatchObject({ text: '', deleted: true });
    expect(r.message.file).toBeUndefined();
    expect(r.message.reactions).toBeUndefined();
    expect(r.message.reply).toBeUndefined();
    for (const op of [
      { t: 'edit', target: ID, text: 'back' },
      { t: 'react', target: ID, emoji: '👍' },
      { t: 'delete', target: ID },
    ] as const)
      expect(applyOp(r.message, op, BOB, 999, ALICE).kind).toBe('unchanged');
  });

  it('one reaction per person: replaced by a newer one, removed by null, an older one cannot come back', () => {
    const a = applyOp(msg(), { t: 'react', target: ID, emoji: '👍' }, ALICE, 10, ALICE);
    if (a.kind !== 'applied') throw new Error('not applied');
    const b = applyOp(a.message, { t: 'react', target: ID, emoji: '❤️' }, ALICE, 20, ALICE);
    if (b.kind !== 'applied') throw new Error('not applied');
    expect(reactionSummary(b.message.reactions)).toEqual([{ emoji: '❤️', count: 1, users: [ALICE] }]);
    const off = applyOp(b.message, { t: 'react', target: ID, emoji: null }, ALICE, 30, ALICE);
    if (off.kind !== 'applied') throw new Error('not applied');
    expect(reactionSummary(off.message.reactions)).toEqual([]);
    expect(applyOp(off.message, { t: 'react', target: ID, emoji: '👍' }, ALICE, 10, ALICE).kind).toBe('unchanged');
    const bob = applyOp(off.message, { t: 'react', target: ID, emoji: '👍' }, BOB, 5, ALICE);
    expect(bob.kind === 'applied' && reactionSummary(bob.message.reactions)).toEqual([
      { emoji: '👍', count: 1, users: [BOB] },
    ]);
  });

  it('notices, controls and undecryptable entries are not targets', () => {
    for (const m of [msg({ dir: 'event' }), msg({ op: { t: 'delete', target: 'x' } }), msg({ undecryptable: true })])
      expect(applyOp(m, { t: 'react', target: ID, emoji: '👍' }, ALICE, 1, ALICE).kind).toBe('refused');
  });

  it('finds controls that wait for a message, oldest first, and hides them from the timeline and unread count', () => {
    const later = msg({ id: 'op-2', op: { t: 'edit', target: ID, text: 'b' }, sentAt: 20, tick: 'delivered' });
    const first = msg({ id: 'op-1', op: { t: 'react', target: ID, emoji: '👍' }, sentAt: 10 });
    const other = msg({ id: 'op-3', op: { t: 'delete', target: 'msg-9999' }, sentAt: 5 });
    expect(pendingOps([later, first, other], ID).map((m) => m.id)).toEqual(['op-1', 'op-2']);
    expect(visibleMessages([later, msg()]).map((m) => m.id)).toEqual([ID]);
    expect(unreadCount([later])).toBe(0);
  });

  it('a newer timer setting wins; an older or equal one does not', () => {
    expect(newerTimer(undefined, { seconds: 5, at: 1 })).toBe(true);
    expect(newerTimer({ seconds: 5, at: 10 }, { seconds: 60, at: 9 })).toBe(false);
    expect(newerTimer({ seconds: 5, at: 10 }, { seconds: 60, at: 10 })).toBe(false);
    expect(newerTimer({ seconds: 5, at: 10 }, { seconds: 0, at: 11 })).toBe(true);
  });
});

describe('disappearing messages', () => {
  it('ours count from when sent, theirs from when read', () => {
    expect(expiryOf(msg({ dir: 'out', ttl: 5, sentAt: 1000 }), null)).toBe(6000);
    expect(expiryOf(msg({ ttl: 5 }), null)).toBeUndefined();
    expect(expiryOf(msg({ ttl: 5 }), 2000)).toBe(7000);
    expect(expiryOf(msg(), 2000)).toBeUndefined();
    const read = markRead([msg({ ttl: 60 }), msg({ id: 'msg-0002' })], 10_000).list;
    expect(read[0]!.expiresAt).toBe(70_000);
    expect(read[1]!.expiresAt).toBeUndefined();
  });

  it('is due exactly at its expiry; controls that waited 30 days are due too', () => {
    const a = msg({ expiresAt: 500 });
    const waiting = msg({ id: 'op-1', op: { t: 'delete', target: 'msg-9' }, sentAt: 0, tick: 'read' });
    expect(dueForDeletion([a, waiting], 499)).toEqual([]);
    expect(dueForDeletion([a, waiting], 500)).toEqual([a]);
    expect(dueForDeletion([a, waiting], PENDING_OP_MS)).toEqual([a, waiting]);
    expect(nextExpiry([a, msg({ id: 'b', expiresAt: 400 }), msg({ id: 'c' })])).toBe(400);
    expect(nextExpiry([msg()])).toBeNull();
  });

  it('says the setting in words', () => {
    expect(timerLabel(5)).toBe('5 seconds');
    expect(timerLabel(60)).toBe('1 minute');
    expect(timerLabel(3600)).toBe('1 hour');
    expect(timerLabel(86_400)).toBe('1 day');
    expect(timerLabel(604_800)).toBe('1 week');
    expect(timerLabel(5400)).toBe('90 minutes');
    expect(timerNotice('alice', 3600)).toBe('alice set messages to disappear after 1 hour');
    expect(timerNotice('You', 0)).toBe('You turned off disappearing messages');
  });
});

describe('quotes and emoji', () => {
  it('a reply quotes the author and the start of the text, or the file name', () => {
    expect(replyTo(msg({ text: 'x'.repeat(500) }), ALICE)).toEqual({ id: ID, from: BOB, text: 'x'.repeat(120) });
    const file = { id: 'A'.repeat(22), key: 'k', digest: 'd', size: 1, name: 'cat.png', mime: 'image/png' };
    expect(replyTo(msg({ dir: 'out', text: '', file }), ALICE)).toEqual({ id: ID, from: ALICE, text: 'File: cat.png' });
  });

  it('tells an emoji from text', () => {
    for (const e of ['👍', '❤️', '🇫🇷', '👩‍💻', '1️⃣']) expect(isEmoji(e)).toBe(true);
    for (const e of ['', 'a', 'ok', '👍 ', ':)', '\u0000👍']) expect(isEmoji(e)).toBe(false);
  });
});

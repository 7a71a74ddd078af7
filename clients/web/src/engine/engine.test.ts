import { describe, expect, it } from 'vitest';
import { type Conversation, encryptionStatus } from '../core/model.js';
import { MemoryRecordStore } from '../store/records.js';
import { FakeCrypto } from '../testing/crypto.js';
import { device, linkOf, pair } from '../testing/engines.js';
import { FakeHub } from '../testing/hub.js';
import { settle } from '../testing/settle.js';
import { type Engine, PREKEY_TARGET, TYPING_IDLE_MS, TYPING_SHOW_MS, TYPING_START_MS } from './engine.js';
import { PREKEY_CHECK_MS } from './prekeys.js';

const conv = (e: Engine, peer: string): Conversation => {
  const c = e.state.conversations.find((x) => x.peer === peer);
  if (!c) throw new Error(`no conversation with ${peer}`);
  return c;
};

describe('engine with a fake gateway', () => {
  it('delivers a message both ways and moves ticks to delivered, then read when the peer looks', async () => {
    const { a, b, bobId, aliceId } = await pair();
    expect(encryptionStatus(a.e.state.conversations[0]!)).toBe('yellow');
    await a.e.send(bobId, 'hello bob');
    await settle(a.e, b.e);
    expect(b.e.state.messages[aliceId]!.map((m) => m.text)).toEqual(['hello bob']);
    expect(b.e.state.conversations[0]!.unread).toBe(1);
    expect(a.e.state.messages[bobId]![0]!.tick).toBe('delivered');
    b.e.openConversation(aliceId);
    await settle(a.e, b.e);
    expect(a.e.state.messages[bobId]![0]!.tick).toBe('read');
    expect(b.e.state.conversations[0]!.unread).toBe(0);
    await b.e.send(aliceId, 'hi alice');
    await settle(a.e, b.e);
    expect(a.e.state.messages[bobId]!.map((m) => m.text)).toEqual(['hello bob', 'hi alice']);
  });

  it('keeps messages typed offline in the outbox and sends each once, in order, on reconnect', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    const la = linkOf(hub, a.e);
    la.goOffline();
    await a.e.send(bobId, 'one');
    await a.e.send(bobId, 'two');
    expect(a.e.state.messages[bobId]!.map((m) => m.tick)).toEqual(['pending', 'pending']);
    la.goOnline();
    await settle(a.e, b.e);
    expect(b.e.state.messages[aliceId]!.map((m) => m.text)).toEqual(['one', 'two']);
    await a.e.flushOutbox();
    expect(hub.sent.filter((f) => a.e.state.messages[bobId]!.some((m) => m.id === f.id))).toHaveLength(2);
  });

  it('resends the identical frame when the gateway stored it but the answer was lost, and the peer shows it once', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    hub.loseAccepts = true;
    await a.e.send(bobId, 'only once');
    expect(a.e.state.messages[bobId]![0]!.tick).toBe('pending');
    const firstFrame = a.e.state.messages[bobId]![0]!.wire;
    hub.loseAccepts = false;
    linkOf(hub, a.e).goOnline();
    await settle(a.e, b.e);
    expect(a.e.state.messages[bobId]![0]!.tick).not.toBe('pending');
    expect(a.e.state.messages[bobId]![0]!.wire).toEqual(firstFrame);
    expect(b.e.state.messages[aliceId]).toHaveLength(1);
  });

  it('shows the peer typing, stops when their message arrives, and lets a lost "stopped" lapse', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'first'); // gives bob the conversation
    await settle(a.e, b.e);
    const typing = async () => {
      a.e.typing(bobId, true);
      hub.clock.advance(TYPING_START_MS);
      await settle(a.e, b.e);
    };
    await typing();
    expect(b.e.state.typing[aliceId]).toBe(true);
    a.e.typing(bobId, false);
    await settle(a.e, b.e);
    expect(b.e.state.typing[aliceId]).toBe(false);
    // Her message ends it on bob's side without a "stopped" of its own.
    await typing();
    expect(b.e.state.typing[aliceId]).toBe(true);
    const toBob = () => hub.sent.filter((f) => f.envelopes.some((e) => e.to.user === bobId)).length;
    const before = toBob();
    await a.e.send(bobId, 'second');
    await settle(a.e, b.e);
    expect(b.e.state.typing[aliceId]).toBe(false);
    expect(toBob() - before).toBe(1);
    // Alice stops typing without a word: her side says so after the idle time.
    await typing();
    hub.clock.advance(TYPING_IDLE_MS);
    await settle(a.e, b.e);
    expect(b.e.state.typing[aliceId]).toBe(false);
    // Her "stopped" is lost (she went offline): bob's indicator lapses by itself.
    await typing();
    linkOf(hub, a.e).goOffline();
    hub.clock.advance(TYPING_SHOW_MS - 1);
    expect(b.e.state.typing[aliceId]).toBe(true);
    hub.clock.advance(1);
    expect(b.e.state.typing[aliceId]).toBe(false);
  });

  it('sends no typing message for a message typed and sent within the start delay (a burst costs none)', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'first');
    await settle(a.e, b.e);
    const toBob = () => hub.sent.filter((f) => f.envelopes.some((e) => e.to.user === bobId)).length;
    const before = toBob();
    for (let i = 0; i < 5; i++) {
      a.e.typing(bobId, true);
      hub.clock.advance(TYPING_START_MS - 1);
      await a.e.send(bobId, `quick ${i}`);
      hub.clock.advance(TYPING_START_MS);
    }
    await settle(a.e, b.e);
    expect(toBob() - before).toBe(5);
    expect(b.e.state.typing[aliceId]).toBeFalsy();
    expect(b.e.state.messages[aliceId]?.map((m) => m.text)).toContain('quick 4');
  });

  it('is red and sends nothing to a user without keys', async () => {
    const hub = new FakeHub();
    const a = await device(hub);
    await a.e.register('alice', 'password1');
    hub.accounts.set('nokeys', {
      userId: 'nokeys00001',
      username: 'nokeys',
      password: 'x',
      identityKey: null,
      devices: [],
    });
    await settle(a.e);
    const peer = (await a.e.startChat('nokeys'))!;
    expect(encryptionStatus(a.e.state.conversations[0]!)).toBe('red');
    await a.e.send(peer, 'secret');
    expect(a.e.state.messages[peer]).toEqual([]);
    expect(hub.sent).toHaveLength(0);
  });

  it('restores history, conversations and verification after a restart', async () => {
    const hub = new FakeHub();
    const records = new MemoryRecordStore();
    const crypto = new FakeCrypto();
    const a = await device(hub, records, crypto);
    const b = await device(hub);
    await a.e.register('alice', 'password1');
    await b.e.register('bob', 'password2');
    await settle(a.e, b.e);
    const bobId = (await a.e.startChat('bob'))!;
    await a.e.send(bobId, 'remember me');
    await a.e.markVerified(bobId);
    await settle(a.e, b.e);
    linkOf(hub, a.e).close();
    const again = await device(hub, records, crypto);
    expect(again.e.state.phase).toBe('ready');
    expect(again.e.state.messages[bobId]!.map((m) => m.text)).toEqual(['remember me']);
    expect(encryptionStatus(again.e.state.conversations[0]!)).toBe('green');
  });

  it('signing out wipes the local store', async () => {
    const hub = new FakeHub();
    const a = await device(hub);
    await a.e.register('alice', 'password1');
    await settle(a.e);
    await a.e.logout();
    expect(a.e.state.phase).toBe('signed-out');
    expect(a.records.data.size).toBe(0);
  });
});

describe('engine sessions', () => {
  it('keeps history when the session expires and the same person signs in again, but not for someone else', async () => {
    const hub = new FakeHub();
    const records = new MemoryRecordStore();
    const crypto = new FakeCrypto();
    const a = await device(hub, records, crypto);
    const b = await device(hub);
    await a.e.register('alice', 'password1');
    await b.e.register('bob', 'password2');
    await settle(a.e, b.e);
    const bobId = (await a.e.startChat('bob'))!;
    await a.e.send(bobId, 'kept');
    await settle(a.e, b.e);
    linkOf(hub, a.e).expire();
    await settle(a.e);
    expect(a.e.state.phase).toBe('signed-out');
    expect(a.e.state.notice).toMatch(/session expired/);
    await a.e.login('alice', 'password1');
    expect(a.e.state.messages[bobId]!.map((m) => m.text)).toEqual(['kept']);
    await settle(a.e, b.e);
    linkOf(hub, a.e).expire();
    await settle(a.e);
    await a.e.login('bob', 'password2');
    expect(a.e.state.conversations).toEqual([]);
    expect(await records.keys('msg:')).toEqual([]);
  });
});

describe('engine prekeys and recovery', () => {
  it('tops up one-time prekeys when the server holds fewer than the low-water mark', async () => {
    const hub = new FakeHub();
    hub.prekeys = 3;
    const a = await device(hub);
    await a.e.register('alice', 'password1');
    await settle(a.e);
    expect(hub.prekeys).toBe(PREKEY_TARGET);
    expect(a.crypto.generated).toBe(PREKEY_TARGET - 3);
  });

  it('publishes its signed prekey, rotates it weekly while connected, and repeats an upload that failed', async () => {
    const hub = new FakeHub();
    const a = await device(hub);
    await a.e.register('alice', 'password1');
    await settle(a.e);
    const me = a.e.state.me!.deviceId;
    expect(hub.signedPrekeys.get(me)).toBe(1);
    // One GET of our own bundle on connect serves both the device-list check and the prekey check.
    expect(hub.bundleFetches.get(a.e.state.me!.userId)).toBe(1);
    // A day later nothing is due; a week later a new key is made and published.
    hub.clock.advance(PREKEY_CHECK_MS);
    await settle(a.e);
    expect(a.crypto.signedPrekeys.length).toBe(1);
    hub.clock.advance(7 * PREKEY_CHECK_MS);
    await settle(a.e);
    expect(a.crypto.signedPrekeys.length).toBe(2);
    expect(hub.signedPrekeys.get(me)).toBe(2);
    // keydir lost the upload (or it failed): the next check publishes the current key again.
    hub.signedPrekeys.set(me, 1);
    hub.clock.advance(PREKEY_CHECK_MS);
    await settle(a.e);
    expect(hub.signedPrekeys.get(me)).toBe(2);
    expect(a.crypto.signedPrekeys.length).toBe(2);
  });

  it('looks again when a red conversation is opened and turns yellow once the peer has keys', async () => {
    const hub = new FakeHub();
    const a = await device(hub);
    await a.e.register('alice', 'password1');
    await settle(a.e);
    const late = {
      userId: 'latecomer01',
      username: 'late',
      password: 'x',
      identityKey: null as string | null,
      devices: [] as string[],
    };
    hub.accounts.set('late', late);
    const peer = (await a.e.startChat('late'))!;
    expect(encryptionStatus(conv(a.e, peer))).toBe('red');
    late.identityKey = 'KEY';
    late.devices = ['dev001'];
    a.e.openConversation(peer);
    await settle(a.e);
    expect(encryptionStatus(conv(a.e, peer))).toBe('yellow');
  });
});

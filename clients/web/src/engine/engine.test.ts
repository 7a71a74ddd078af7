import { describe, expect, it } from 'vitest';
import { encryptionStatus } from '../core/model.js';
import { MemoryRecordStore } from '../store/records.js';
import { Vault } from '../store/vault.js';
import { Engine, PREKEY_TARGET } from './engine.js';
import { FakeCrypto, FakeHub, type FakeLink, fakeServer } from './fakes.js';

async function device(hub: FakeHub, records = new MemoryRecordStore(), crypto = new FakeCrypto()) {
  const vault = await Vault.open(records);
  const e = new Engine({
    vault,
    crypto,
    server: fakeServer(hub),
    reopenVault: () => Vault.open(records),
  });
  await e.boot();
  return { e, records, crypto };
}

const until = async (cond: () => boolean, what: string) => {
  for (let i = 0; i < 200; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
};

async function pair() {
  const hub = new FakeHub();
  const a = await device(hub);
  const b = await device(hub);
  await a.e.register('alice', 'password1');
  await b.e.register('bob', 'password2');
  await until(() => a.e.state.connection === 'online' && b.e.state.connection === 'online', 'online');
  const bobId = (await a.e.startChat('bob'))!;
  return { hub, a, b, bobId, aliceId: a.e.state.me!.userId };
}

const linkOf = (hub: FakeHub, e: Engine) => hub.links.get(`${e.state.me!.userId}.${e.state.me!.deviceId}`) as FakeLink;

describe('engine with a fake gateway', () => {
  it('delivers a message both ways and moves ticks to delivered, then read when the peer looks', async () => {
    const { a, b, bobId, aliceId } = await pair();
    expect(encryptionStatus(a.e.state.conversations[0]!)).toBe('yellow');
    await a.e.send(bobId, 'hello bob');
    await until(() => (b.e.state.messages[aliceId]?.length ?? 0) === 1, 'bob receives');
    expect(b.e.state.messages[aliceId]![0]!.text).toBe('hello bob');
    await until(() => b.e.state.conversations[0]!.unread === 1, 'unread count');
    await until(() => a.e.state.messages[bobId]![0]!.tick === 'delivered', 'delivered tick');
    b.e.openConversation(aliceId);
    await until(() => a.e.state.messages[bobId]![0]!.tick === 'read', 'read tick');
    expect(b.e.state.conversations[0]!.unread).toBe(0);
    await b.e.send(aliceId, 'hi alice');
    await until(() => a.e.state.messages[bobId]?.length === 2, 'alice receives');
  });

  it('keeps messages typed offline in the outbox and sends each once, in order, on reconnect', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    const la = linkOf(hub, a.e);
    la.goOffline();
    await a.e.send(bobId, 'one');
    await a.e.send(bobId, 'two');
    expect(a.e.state.messages[bobId]!.map((m) => m.tick)).toEqual(['pending', 'pending']);
    la.goOnline();
    await until(() => (b.e.state.messages[aliceId]?.length ?? 0) === 2, 'both arrive');
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
    await until(() => a.e.state.messages[bobId]![0]!.tick !== 'pending', 'accepted on resend');
    expect(a.e.state.messages[bobId]![0]!.wire).toEqual(firstFrame);
    await until(() => (b.e.state.messages[aliceId]?.length ?? 0) === 1, 'bob receives');
    await new Promise((r) => setTimeout(r, 20));
    expect(b.e.state.messages[aliceId]).toHaveLength(1);
  });

  it('shows the peer typing and stops when their message arrives', async () => {
    const { a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'first'); // gives bob the conversation
    await until(() => (b.e.state.messages[aliceId]?.length ?? 0) === 1, 'first');
    a.e.typing(bobId, true);
    await until(() => b.e.state.typing[aliceId] === true, 'typing shown');
    a.e.typing(bobId, false);
    await until(() => b.e.state.typing[aliceId] === false, 'typing cleared');
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
    await until(() => a.e.state.connection === 'online', 'online');
    const peer = (await a.e.startChat('nokeys'))!;
    expect(encryptionStatus(a.e.state.conversations[0]!)).toBe('red');
    await a.e.send(peer, 'secret');
    expect(a.e.state.messages[peer]).toEqual([]);
    expect(hub.sent).toHaveLength(0);
  });

  it('turns a verified conversation yellow with a banner when the peer comes back with a new identity', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'hi');
    await until(() => (b.e.state.messages[aliceId]?.length ?? 0) === 1, 'hi');
    await a.e.markVerified(bobId);
    expect(encryptionStatus(a.e.conv_(bobId))).toBe('green');
    // Bob signs in on a fresh browser profile: new keys, new identity.
    const b2 = await device(hub);
    await b2.e.login('bob', 'password2');
    // Signing in does not reset anything; bob explicitly chooses "Reset identity".
    expect(b2.e.state.phase).toBe('link');
    await b2.e.resetIdentity();
    await until(() => b2.e.state.connection === 'online', 'b2 online');
    await b2.e.startChat('alice');
    await b2.e.send(aliceId, 'new phone');
    await until(() => a.e.state.messages[bobId]?.length === 2, 'alice gets it');
    const c = a.e.conv_(bobId);
    expect(encryptionStatus(c)).toBe('yellow');
    expect(c.keyChange?.wasVerified).toBe(true);
  });

  it('restores history, conversations and verification after a restart', async () => {
    const hub = new FakeHub();
    const records = new MemoryRecordStore();
    const crypto = new FakeCrypto();
    const a = await device(hub, records, crypto);
    const b = await device(hub);
    await a.e.register('alice', 'password1');
    await b.e.register('bob', 'password2');
    await until(() => a.e.state.connection === 'online', 'online');
    const bobId = (await a.e.startChat('bob'))!;
    await a.e.send(bobId, 'remember me');
    await a.e.markVerified(bobId);
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
    await until(() => a.e.state.connection === 'online', 'online');
    const bobId = (await a.e.startChat('bob'))!;
    await a.e.send(bobId, 'kept');
    await (a.e as unknown as { sessionExpired(): Promise<void> }).sessionExpired();
    expect(a.e.state.phase).toBe('signed-out');
    await a.e.login('alice', 'password1');
    expect(a.e.state.messages[bobId]!.map((m) => m.text)).toEqual(['kept']);
    await (a.e as unknown as { sessionExpired(): Promise<void> }).sessionExpired();
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
    await until(() => hub.prekeys === PREKEY_TARGET, 'top-up');
    expect(a.crypto.generated).toBe(PREKEY_TARGET - 3);
  });

  it('looks again when a red conversation is opened and turns yellow once the peer has keys', async () => {
    const hub = new FakeHub();
    const a = await device(hub);
    await a.e.register('alice', 'password1');
    await until(() => a.e.state.connection === 'online', 'online');
    const late = {
      userId: 'latecomer01',
      username: 'late',
      password: 'x',
      identityKey: null as string | null,
      devices: [] as string[],
    };
    hub.accounts.set('late', late);
    const peer = (await a.e.startChat('late'))!;
    expect(encryptionStatus(a.e.conv_(peer))).toBe('red');
    late.identityKey = 'KEY';
    late.devices = ['dev001'];
    a.e.openConversation(peer);
    await until(() => encryptionStatus(a.e.conv_(peer)) === 'yellow', 'yellow');
  });
});

describe('engine device linking', () => {
  it('links a second browser by its code: identity and history move, both receive, sign-out is remote', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'before');
    await until(() => (b.e.state.messages[aliceId]?.length ?? 0) === 1, 'bob got it');
    const identity = a.crypto.identity;

    const a2 = await device(hub);
    await a2.e.login('alice', 'password1');
    expect(a2.e.state.phase).toBe('link');
    await until(() => Boolean(a2.e.devices.view.link?.code), 'link code');
    // Nothing was reset: the account keeps its identity and its one device.
    expect(hub.accounts.get('alice')!.identityKey).toBe(identity);
    expect(hub.accounts.get('alice')!.devices).toEqual([a.e.state.me!.deviceId]);

    const linking = a.e.linkNewDevice(a2.e.devices.view.link!.code!);
    await until(() => a.e.devices.view.link?.stage === 'confirm', 'approve prompt');
    await until(() => a2.e.devices.view.link?.stage === 'confirm', 'code on the new device');
    expect(a.e.devices.view.link!.compare).toMatch(/^\d{6}$/);
    expect(a2.e.devices.view.link!.compare).toBe(a.e.devices.view.link!.compare);
    a.e.approveLink(true);
    await linking;
    expect(a.e.devices.view.link?.stage).toBe('done');
    await until(() => a2.e.state.phase === 'ready' && a2.e.state.connection === 'online', 'new device ready');
    expect(a2.crypto.identity).toBe(identity);
    expect(a2.e.state.messages[bobId]!.map((m) => m.text)).toEqual(['before']);
    expect(hub.accounts.get('alice')!.devices.sort()).toEqual([a.e.state.me!.deviceId, a2.e.state.me!.deviceId].sort());

    // Bob learns of the device and writes to both; each of alice's devices gets the other's sent copy.
    await until(() => Boolean(b.e.conv_(aliceId).deviceNotice), 'device notice');
    expect(b.e.conv_(aliceId).deviceNotice).toBe('alice added a device.');
    await b.e.send(aliceId, 'to both');
    await until(() => a2.e.state.messages[bobId]?.some((m) => m.text === 'to both') ?? false, 'a2 receives');
    await until(() => a.e.state.messages[bobId]?.some((m) => m.text === 'to both') ?? false, 'a receives');
    await a2.e.send(bobId, 'from the new one');
    await until(() => a.e.state.messages[bobId]?.some((m) => m.text === 'from the new one') ?? false, 'sent copy');
    expect(a.e.state.messages[bobId]!.find((m) => m.text === 'from the new one')!.dir).toBe('out');

    // Reading on one device reads on the other.
    a2.e.openConversation(bobId);
    await until(() => a.e.conv_(bobId).unread === 0, 'read state synced');

    await a.e.loadDevices();
    expect(a.e.devices.view.devices!.map((d) => d.linked)).toEqual([true, true]);
    await a.e.signOutDevice(a2.e.state.me!.deviceId);
    await until(() => a2.e.state.phase === 'signed-out', 'signed out remotely');
    expect(hub.accounts.get('alice')!.devices).toEqual([a.e.state.me!.deviceId]);
    expect(a.e.devices.view.devices!.map((d) => d.deviceId)).toEqual([a.e.state.me!.deviceId]);
  });

  it('refuses a code of another account and a pasted text that is no code', async () => {
    const { a, b } = await pair();
    await b.e.linkNewDevice('hello there');
    expect(b.e.devices.view.link).toMatchObject({ stage: 'failed', error: 'This is not a link code' });
    const other = `hush-link:1:${'x'.repeat(16)}:AAECAwQFBgcICQoLDA0ODw:${'A'.repeat(43)}`;
    await a.e.linkNewDevice(other);
    expect(a.e.devices.view.link?.error).toMatch(/another account/);
  });
});

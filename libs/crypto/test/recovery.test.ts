/**
 * Sessions recover by themselves: the active session follows the peer's newest authenticated
 * session (Sesame §3), a rolled-back state never reuses a (key, nonce) pair, and a device that
 * cannot decrypt asks for the message again with a signed retry request.
 */
import { describe, expect, it } from 'vitest';
import {
  createPrimitives,
  createRetryRequest,
  isRetryableDecryptError,
  isRetryRequest,
  MemoryStore,
  openRetryRequest,
  SessionManager,
  toHex,
} from '../src/index.js';
import { parseMessage } from '../src/ratchet/message.js';
import { bundleFor, FakeKeyDir, makeDevice, str, type TestDevice, text } from './helpers.js';

const prims = await createPrimitives();

async function pair(seed: string) {
  const keydir = new FakeKeyDir();
  const a = await makeDevice(prims, keydir, 'aliceuser01', 'adev01', { seed: `${seed}a`, prekeys: 10 });
  const b = await makeDevice(prims, keydir, 'bobuser0001', 'bdev01', { seed: `${seed}b`, prekeys: 10 });
  return { keydir, a, b };
}

async function roundTrip(x: TestDevice, y: TestDevice, label: string) {
  const m = await x.manager.encrypt(y.address, text(label));
  expect(str((await y.manager.decrypt(x.address, m)).plaintext)).toBe(label);
}

/** The same device with its store as it was at `snapshot` (a backup restored, a second tab). */
function restored(d: TestDevice, snapshot: MemoryStore): TestDevice {
  return {
    ...d,
    store: snapshot,
    manager: new SessionManager({ primitives: prims, store: snapshot, randomBytes: d.rng, now: d.now }),
  };
}

async function copyOf(store: MemoryStore): Promise<MemoryStore> {
  const c = new MemoryStore();
  Object.assign(c, structuredClone(store));
  return c;
}

describe('Sesame session choice', () => {
  it('follows the session the peer started after losing its sessions, whichever id is smaller', async () => {
    const orders = new Set<boolean>();
    // Ids are random: run until both orders (new id smaller, and larger) were exercised.
    for (let trial = 0; trial < 24 && orders.size < 2; trial++) {
      const { keydir, a, b } = await pair(`lost-${trial}`);
      await a.manager
        .encrypt(b.address, text('hi'), await bundleFor(a, keydir, b.address))
        .then((m) => b.manager.decrypt(a.address, m));
      await roundTrip(b, a, 'hello');
      const old = (await a.manager.sessionInfo(b.address))!.sessionId;
      await b.store.deleteSessions(a.address); // Bob lost his sessions (cleared site data, reinstall)
      const m = await b.manager.encrypt(a.address, text('me again'), await bundleFor(b, keydir, a.address));
      const r = await a.manager.decrypt(b.address, m);
      expect(r.newSession).toBe(true);
      orders.add(r.sessionId < old);
      expect((await a.manager.sessionInfo(b.address))!.sessionId).toBe(r.sessionId);
      await roundTrip(a, b, 'answer in the new session');
      await roundTrip(b, a, 'and back');
    }
    expect(orders.size).toBe(2);
  });

  it('keeps the newest session active when an old in-flight message arrives afterwards', async () => {
    const { keydir, a, b } = await pair('late');
    await a.manager
      .encrypt(b.address, text('hi'), await bundleFor(a, keydir, b.address))
      .then((m) => b.manager.decrypt(a.address, m));
    await roundTrip(b, a, 'reply'); // Alice's session is answered: no simultaneous initiation here
    const late = await b.manager.encrypt(a.address, text('late'));
    await b.store.deleteSessions(a.address);
    const m = await b.manager.encrypt(a.address, text('new'), await bundleFor(b, keydir, a.address));
    const fresh = (await a.manager.decrypt(b.address, m)).sessionId;
    expect(str((await a.manager.decrypt(b.address, late)).plaintext)).toBe('late');
    expect((await a.manager.sessionInfo(b.address))!.sessionId).toBe(fresh);
    await roundTrip(a, b, 'still in the new one');
  });
});

describe('a rolled-back state', () => {
  it('never encrypts twice under one (key, nonce): the same message key gets two random nonces', async () => {
    const { keydir, a, b } = await pair('rollback');
    await a.manager
      .encrypt(b.address, text('hi'), await bundleFor(a, keydir, b.address))
      .then((m) => b.manager.decrypt(a.address, m));
    await roundTrip(b, a, 'ok');
    const snapshot = await copyOf(a.store);
    const m1 = await a.manager.encrypt(b.address, text('first'));
    const a2 = restored(a, snapshot);
    const m2 = await a2.manager.encrypt(b.address, text('second, from the restored state'));
    const p1 = parseMessage(m1);
    const p2 = parseMessage(m2);
    expect(toHex(p1.header.dh) + p1.header.n).toBe(toHex(p2.header.dh) + p2.header.n); // same message key
    expect(toHex(p1.nonce)).not.toBe(toHex(p2.nonce));
    expect(str((await b.manager.decrypt(a.address, m1)).plaintext)).toBe('first');
    // The second is refused cleanly (its key is used), state unchanged, and can be asked for again.
    const before = await b.store.loadSessions(a.address);
    const err = await b.manager.decrypt(a.address, m2).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E2E_DUPLICATE_MESSAGE' });
    expect(isRetryableDecryptError(err)).toBe(true);
    expect(await b.store.loadSessions(a.address)).toBe(before);
    const req = await createRetryRequest(prims, b.store, {
      to: a.address,
      messageId: 'msg-2',
      attempt: 1,
      randomBytes: b.rng,
      now: b.now,
    });
    const { request, bundle } = await openRetryRequest(prims, a2.store, b.address, req, { now: a2.now });
    expect(request).toMatchObject({ messageId: 'msg-2', attempt: 1 });
    const again = await a2.manager.encrypt(b.address, text('second, from the restored state'), bundle, {
      freshSession: true,
    });
    expect(str((await b.manager.decrypt(a.address, again)).plaintext)).toBe('second, from the restored state');
    await roundTrip(b, a2, 'back in step');
    await roundTrip(a2, b, 'both ways');
  });
});

describe('retry requests', () => {
  async function brokenPair() {
    const { keydir, a, b } = await pair('retry');
    await a.manager
      .encrypt(b.address, text('hi'), await bundleFor(a, keydir, b.address))
      .then((m) => b.manager.decrypt(a.address, m));
    await roundTrip(b, a, 'ok');
    await b.store.deleteSessions(a.address); // Bob lost his session state
    const lost = await a.manager.encrypt(b.address, text('the message that must not be lost'));
    return { keydir, a, b, lost };
  }

  it('let a device that lost its session get the message again over a fresh session', async () => {
    const { a, b, lost } = await brokenPair();
    const err = await b.manager.decrypt(a.address, lost).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E2E_SESSION_NOT_FOUND' });
    expect(isRetryableDecryptError(err)).toBe(true);
    const req = await createRetryRequest(prims, b.store, {
      to: a.address,
      messageId: 'm-1',
      attempt: 1,
      randomBytes: b.rng,
      now: b.now,
    });
    expect(isRetryRequest(req)).toBe(true);
    expect(isRetryRequest(lost)).toBe(false);
    const { bundle } = await openRetryRequest(prims, a.store, b.address, req, { now: a.now });
    const again = await a.manager.encrypt(b.address, text('the message that must not be lost'), bundle, {
      freshSession: true,
    });
    const r = await b.manager.decrypt(a.address, again);
    expect(str(r.plaintext)).toBe('the message that must not be lost');
    await roundTrip(b, a, 'thanks');
    await roundTrip(a, b, 'welcome');
  });

  it('are refused when forged, moved, replayed late or sent by a device that is not listed', async () => {
    const { a, b } = await brokenPair();
    const make = (attempt = 1, now = b.now) =>
      createRetryRequest(prims, b.store, { to: a.address, messageId: 'm-1', attempt, randomBytes: b.rng, now });
    const open = (bytes: Uint8Array, from = b.address, now = a.now) =>
      openRetryRequest(prims, a.store, from, bytes, { now });
    const req = await make();
    const flipped = req.slice();
    flipped[20]! ^= 1;
    await expect(open(flipped)).rejects.toMatchObject({ name: 'CryptoError' });
    const sig = req.slice();
    sig[sig.length - 1]! ^= 1;
    await expect(open(sig)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
    await expect(open(req, { userId: 'bobuser0001', deviceId: 'bdev99' })).rejects.toMatchObject({
      code: 'E2E_BAD_MESSAGE',
    });
    await expect(open(req, b.address, () => b.now() + 15 * 24 * 3600 * 1000)).rejects.toMatchObject({
      code: 'E2E_BAD_MESSAGE',
    });
    await expect(make(6)).rejects.toMatchObject({ code: 'E2E_BAD_MESSAGE' });
    await expect(openRetryRequest(prims, b.store, a.address, req, { now: b.now })).rejects.toMatchObject({
      code: 'E2E_BAD_MESSAGE', // addressed to Alice's device, not Bob's
    });
    await expect(open(req.subarray(0, 100))).rejects.toMatchObject({ code: 'E2E_BAD_MESSAGE' });
  });
});

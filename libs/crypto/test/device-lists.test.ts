/**
 * The signed device list checked on every message: a removed device can neither be encrypted to
 * nor send as its account, whatever the server serves, and new devices become known from bundles
 * and from the first messages they send.
 */
import { describe, expect, it } from 'vitest';
import {
  acceptOwnDeviceList,
  addDeviceToList,
  createPrimitives,
  fromBase64,
  removeDeviceFromList,
  signDeviceList,
  verifyUserBundle,
} from '../src/index.js';
import { bundleFor, FakeKeyDir, makeDevice, str, type TestDevice, text } from './helpers.js';

const prims = await createPrimitives();
const BOB = 'bobuser0001';

async function world() {
  const keydir = new FakeKeyDir();
  const alice = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
  const b1 = await makeDevice(prims, keydir, BOB, 'bdev01', { devices: ['bdev01', 'bdev02'] });
  const b2 = await makeDevice(prims, keydir, BOB, 'bdev02', { identityFrom: b1, devices: ['bdev01', 'bdev02'] });
  return { keydir, alice, b1, b2 };
}

async function talk(x: TestDevice, y: TestDevice, keydir: FakeKeyDir, label: string) {
  const bundle = (await x.manager.hasSession(y.address)) ? undefined : await bundleFor(x, keydir, y.address);
  const m = await x.manager.encrypt(y.address, text(label), bundle);
  expect(str((await y.manager.decrypt(x.address, m)).plaintext)).toBe(label);
}

/** Bob's first device signs bdev02 out and keydir publishes the new list. */
async function removeB2(keydir: FakeKeyDir, b1: TestDevice) {
  const next = await removeDeviceFromList(prims, b1.store, { deviceId: 'bdev02', now: b1.now });
  await acceptOwnDeviceList(prims, b1.store, next);
  keydir.users.get(BOB)!.deviceList = next;
  keydir.users.get(BOB)!.devices.delete('bdev02');
  return next;
}

describe('a device removed from its account', () => {
  it('cannot send as the account any more, in an old session or a new one, once the receiver holds the newer list', async () => {
    const { keydir, alice, b1, b2 } = await world();
    await talk(alice, b2, keydir, 'hi b2');
    await talk(b2, alice, keydir, 'hi alice');
    const inFlight = await b2.manager.encrypt(alice.address, text('sent before the removal'));
    await removeB2(keydir, b1);
    const v = await verifyUserBundle(prims, keydir.fetch(BOB), { userId: BOB, store: alice.store, now: alice.now });
    expect(v.deviceListChange).toEqual({ status: 'newer', added: [], removed: ['bdev02'] });
    expect(await alice.manager.hasSession(b2.address)).toBe(false);
    // b2 was not wiped: its messages in the old session, and a brand-new session, are refused.
    await expect(alice.manager.decrypt(b2.address, inFlight)).rejects.toMatchObject({ code: 'E2E_DEVICE_REMOVED' });
    const fresh = await b2.manager.encrypt(
      alice.address,
      text('still me?'),
      await bundleFor(b2, keydir, alice.address),
      {
        freshSession: true,
      },
    );
    const before = await alice.store.loadSessions(b2.address);
    await expect(alice.manager.decrypt(b2.address, fresh)).rejects.toMatchObject({ code: 'E2E_DEVICE_REMOVED' });
    expect(await alice.store.loadSessions(b2.address)).toBe(before);
  });

  it('is not encrypted to, even with a bundle fetched before the removal', async () => {
    const { keydir, alice, b1 } = await world();
    const stale = await bundleFor(alice, keydir, { userId: BOB, deviceId: 'bdev02' });
    await removeB2(keydir, b1);
    await verifyUserBundle(prims, keydir.fetch(BOB), { userId: BOB, store: alice.store, now: alice.now });
    await expect(alice.manager.encrypt({ userId: BOB, deviceId: 'bdev02' }, text('x'), stale)).rejects.toMatchObject({
      code: 'E2E_DEVICE_REMOVED',
    });
    await talk(alice, b1, keydir, 'b1 still works');
  });

  it("is refused by the account's other devices too (our own list, learned from the key directory)", async () => {
    const { keydir, b1, b2 } = await world();
    await talk(b2, b1, keydir, 'sync');
    const next = await removeDeviceFromList(prims, b1.store, { deviceId: 'bdev02', now: b1.now });
    await acceptOwnDeviceList(prims, b1.store, next);
    const m = await b2.manager.encrypt(b1.address, text('sent copy'));
    await expect(b1.manager.decrypt(b2.address, m)).rejects.toMatchObject({ code: 'E2E_DEVICE_REMOVED' });
    // b2 learns of its removal from the same list.
    expect((await acceptOwnDeviceList(prims, b2.store, next)).removed).toEqual(['bdev02']);
  });
});

describe('device lists inside first messages', () => {
  it("tell the receiver about a newly linked device (the new list travels in the new device's first message)", async () => {
    const { keydir, alice, b1 } = await world();
    await talk(alice, b1, keydir, 'known');
    const list = await addDeviceToList(prims, b1.store, { deviceId: 'bdev03', now: b1.now });
    const b3 = await makeDevice(prims, keydir, BOB, 'bdev03', { identityFrom: b1, list });
    await acceptOwnDeviceList(prims, b1.store, list);
    const m = await b3.manager.encrypt(
      alice.address,
      text('hello from my new laptop'),
      await bundleFor(b3, keydir, alice.address),
    );
    const r = await alice.manager.decrypt(b3.address, m);
    expect(str(r.plaintext)).toBe('hello from my new laptop');
    expect(r.deviceList).toEqual({ status: 'newer', version: 2, added: ['bdev03'], removed: [] });
  });

  it('refuse a first message from a device its own signed list does not name (a ghost device), changing nothing', async () => {
    const keydir = new FakeKeyDir();
    const alice = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
    const b1 = await makeDevice(prims, keydir, BOB, 'bdev01');
    // A device holding Bob's identity key but outside his list: refused as unknown.
    const ghost = await makeDevice(prims, new FakeKeyDir(), BOB, 'ghost01', { identityFrom: b1, devices: ['ghost01'] });
    await ghost.store.savePeerDeviceList(BOB, (await b1.store.getPeerDeviceList(BOB))!);
    const m = await ghost.manager.encrypt(alice.address, text('boo'), await bundleFor(ghost, keydir, alice.address));
    await expect(alice.manager.decrypt(ghost.address, m)).rejects.toMatchObject({ code: 'E2E_UNKNOWN_DEVICE' });
    expect(await alice.store.loadSessions(ghost.address)).toBeUndefined();
    expect(await alice.store.getPeerIdentity(BOB)).toBeUndefined();
  });

  it('refuse a first message carrying a second list under a version already seen (a fork)', async () => {
    const { keydir, alice, b1, b2 } = await world();
    await talk(alice, b1, keydir, 'v1 known');
    const forked = await signDeviceList(prims, (await b1.store.getIdentity())!, {
      userId: BOB,
      version: 1,
      devices: ['bdev02', 'evildev1'],
      issuedAt: 1,
    });
    await b2.store.savePeerDeviceList(BOB, {
      version: 1,
      devices: forked.devices,
      issuedAt: 1,
      signature: fromBase64(forked.signature),
      identityKey: (await b1.store.getIdentity())!.publicKey,
    });
    const m = await b2.manager.encrypt(alice.address, text('x'), await bundleFor(b2, keydir, alice.address));
    await expect(alice.manager.decrypt(b2.address, m)).rejects.toMatchObject({ code: 'E2E_DEVICE_LIST_CONFLICT' });
  });
});

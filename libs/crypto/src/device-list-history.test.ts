import { MAX_DEVICES_PER_USER } from '@hush/protocol';
import { describe, expect, it } from 'vitest';
import { bundleFor, FakeKeyDir, makeDevice, seededRandom, text } from '../test/helpers.js';
import {
  acceptDeviceList,
  createPrimitives,
  deviceStanding,
  generateIdentity,
  MAX_DEVICES_PER_ACCOUNT,
  MemoryStore,
  requireListedDevice,
  signDeviceList,
} from './index.js';

const prims = await createPrimitives();
const BOB = 'bobuser0001';

async function setup() {
  const rng = seededRandom('history');
  const bob = await generateIdentity(prims, rng);
  const store = new MemoryStore();
  const sign = (version: number, devices: string[], issuedAt = version) =>
    signDeviceList(prims, bob, { userId: BOB, version, devices, issuedAt });
  const accept = async (version: number, devices: string[], issuedAt = version, allowOlder = false) =>
    acceptDeviceList(prims, store, {
      userId: BOB,
      identityKey: bob.publicKey,
      list: await sign(version, devices, issuedAt),
      allowOlder,
    });
  return { rng, bob, store, sign, accept };
}

describe('device list history', () => {
  it('reports the first list, then devices added and removed by each newer version', async () => {
    const { accept } = await setup();
    expect(await accept(1, ['bdev01'])).toMatchObject({ status: 'first', added: [], removed: [] });
    expect(await accept(2, ['bdev01', 'bdev02'])).toMatchObject({ status: 'newer', added: ['bdev02'], removed: [] });
    expect(await accept(2, ['bdev02', 'bdev01'])).toMatchObject({ status: 'same', added: [], removed: [] });
    expect(await accept(5, ['bdev02'])).toMatchObject({ status: 'newer', added: [], removed: ['bdev01'] });
  });

  it('refuses a replayed older version, or accepts it as "older" without storing where lagging lists are allowed', async () => {
    const { accept, store } = await setup();
    await accept(1, ['bdev01']);
    await accept(2, ['bdev02']);
    await expect(accept(1, ['bdev01'])).rejects.toMatchObject({ code: 'E2E_STALE_DEVICE_LIST' });
    expect(await accept(1, ['bdev01'], 1, true)).toMatchObject({ status: 'older' });
    expect((await store.getPeerDeviceList(BOB))!.devices).toEqual(['bdev02']);
  });

  it('refuses a second list under a version already seen, newest or remembered (a fork)', async () => {
    const { accept } = await setup();
    await accept(1, ['bdev01']);
    await accept(2, ['bdev01', 'bdev02']);
    await expect(accept(2, ['bdev01', 'evildev1'])).rejects.toMatchObject({ code: 'E2E_DEVICE_LIST_CONFLICT' });
    await expect(accept(2, ['bdev01', 'bdev02'], 99)).rejects.toMatchObject({ code: 'E2E_DEVICE_LIST_CONFLICT' });
    await accept(3, ['bdev02']);
    // An earlier version with other content, even where lagging lists are allowed.
    await expect(accept(1, ['evildev1'], 1, true)).rejects.toMatchObject({ code: 'E2E_DEVICE_LIST_CONFLICT' });
  });

  it('refuses a list not signed by the account identity, and changes nothing', async () => {
    const { store, rng } = await setup();
    const mallory = await generateIdentity(prims, rng);
    const bob = await generateIdentity(prims, rng);
    const forged = await signDeviceList(prims, mallory, {
      userId: BOB,
      version: 9,
      devices: ['evildev1'],
      issuedAt: 1,
    });
    await expect(
      acceptDeviceList(prims, store, { userId: BOB, identityKey: bob.publicKey, list: forged }),
    ).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
    expect(await store.getPeerDeviceList(BOB)).toBeUndefined();
  });

  it('tells a listed device from a removed one and from one never listed', async () => {
    const { accept, store, bob } = await setup();
    const at = (deviceId: string) => requireListedDevice(store, { userId: BOB, deviceId }, bob.publicKey);
    await expect(at('bdev01')).rejects.toMatchObject({ code: 'E2E_NO_DEVICE_LIST' });
    await accept(1, ['bdev01', 'bdev02']);
    await accept(2, ['bdev02']);
    await expect(at('bdev02')).resolves.toBeUndefined();
    await expect(at('bdev01')).rejects.toMatchObject({ code: 'E2E_DEVICE_REMOVED' });
    await expect(at('ghostdev')).rejects.toMatchObject({ code: 'E2E_UNKNOWN_DEVICE' });
    expect(deviceStanding((await store.getPeerDeviceList(BOB))!, 'bdev01')).toBe('removed');
  });

  it('starts afresh under a new identity the caller accepted, and holds nothing for the old one', async () => {
    const { accept, store, bob, rng } = await setup();
    await accept(7, ['bdev01']);
    const reset = await generateIdentity(prims, rng);
    const v1 = await signDeviceList(prims, reset, { userId: BOB, version: 1, devices: ['bdev05'], issuedAt: 1 });
    expect(await acceptDeviceList(prims, store, { userId: BOB, identityKey: reset.publicKey, list: v1 })).toMatchObject(
      {
        status: 'first',
      },
    );
    await expect(requireListedDevice(store, { userId: BOB, deviceId: 'bdev05' }, bob.publicKey)).rejects.toMatchObject({
      code: 'E2E_NO_DEVICE_LIST',
    });
  });

  it('upgrades a record written before history existed, and keeps only the newest DEVICE_LIST_HISTORY versions', async () => {
    const { accept, store } = await setup();
    await store.savePeerDeviceList(BOB, { version: 1, devices: ['bdev01'], issuedAt: 1 });
    expect(await accept(1, ['bdev01'])).toMatchObject({ status: 'same' });
    expect((await store.getPeerDeviceList(BOB))!.history).toHaveLength(1);
    for (let v = 2; v <= 40; v++) await accept(v, ['bdev01']);
    expect((await store.getPeerDeviceList(BOB))!.history!.map((h) => h.version)).toEqual(
      Array.from({ length: 32 }, (_, i) => i + 9),
    );
  });

  it('deletes sessions with a device a newer list removes', async () => {
    const keydir = new FakeKeyDir();
    const a = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
    const b1 = await makeDevice(prims, keydir, BOB, 'bdev01', { devices: ['bdev01', 'bdev02'] });
    const b2 = await makeDevice(prims, keydir, BOB, 'bdev02', { identityFrom: b1, devices: ['bdev01', 'bdev02'] });
    await a.manager.encrypt(b2.address, text('hi'), await bundleFor(a, keydir, b2.address));
    expect(await a.manager.hasSession(b2.address)).toBe(true);
    const v2 = await signDeviceList(prims, (await b1.store.getIdentity())!, {
      userId: BOB,
      version: 2,
      devices: ['bdev01'],
      issuedAt: 2,
    });
    const u = await acceptDeviceList(prims, a.store, {
      userId: BOB,
      identityKey: (await b1.store.getIdentity())!.publicKey,
      list: v2,
    });
    expect(u.removed).toEqual(['bdev02']);
    expect(await a.manager.hasSession(b2.address)).toBe(false);
  });

  it('bounds a list at the key directory’s device limit', async () => {
    expect(MAX_DEVICES_PER_ACCOUNT).toBe(MAX_DEVICES_PER_USER);
    const { sign } = await setup();
    const many = Array.from({ length: MAX_DEVICES_PER_ACCOUNT + 1 }, (_, i) => `dev${String(i).padStart(4, '0')}`);
    await expect(sign(1, many)).rejects.toMatchObject({ code: 'E2E_BAD_BUNDLE' });
  });
});

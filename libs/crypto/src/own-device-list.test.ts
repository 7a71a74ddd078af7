import { describe, expect, it } from 'vitest';
import { FakeKeyDir, makeDevice } from '../test/helpers.js';
import {
  acceptOwnDeviceList,
  addDeviceToList,
  createPrimitives,
  generateDeviceKeys,
  MemoryStore,
  ownDeviceList,
  proposeDeviceList,
  removeDeviceFromList,
  verifyDeviceList,
} from './index.js';

const prims = await createPrimitives();
const ALICE = 'aliceuser01';

describe('our own device list', () => {
  it('starts as version 1 of the first device, signed and remembered by generateDeviceKeys', async () => {
    const a1 = await makeDevice(prims, new FakeKeyDir(), ALICE, 'adev01');
    const list = (await ownDeviceList(a1.store))!;
    expect(list).toMatchObject({ version: 1, devices: ['adev01'] });
    const identity = (await a1.store.getIdentity())!;
    await expect(verifyDeviceList(prims, ALICE, identity.publicKey, list)).resolves.toMatchObject({ version: 1 });
  });

  it('adds a device as the next signed version, stored only once accepted', async () => {
    const a1 = await makeDevice(prims, new FakeKeyDir(), ALICE, 'adev01');
    const next = await addDeviceToList(prims, a1.store, { deviceId: 'adev02', now: a1.now });
    expect(next).toMatchObject({ version: 2, devices: ['adev01', 'adev02'] });
    expect((await ownDeviceList(a1.store))!.version).toBe(1); // keydir may still refuse it
    expect(await acceptOwnDeviceList(prims, a1.store, next)).toMatchObject({ status: 'newer', added: ['adev02'] });
    expect((await ownDeviceList(a1.store))!).toEqual(next);
  });

  it('hands the list to a new device, which refuses a list that does not name it', async () => {
    const keydir = new FakeKeyDir();
    const a1 = await makeDevice(prims, keydir, ALICE, 'adev01');
    const next = await addDeviceToList(prims, a1.store, { deviceId: 'adev02', now: a1.now });
    const store = new MemoryStore();
    await store.saveIdentity((await a1.store.getIdentity())!);
    const opts = { userId: ALICE, randomBytes: a1.rng, now: a1.now, oneTimePrekeys: 1, deviceList: next };
    await expect(generateDeviceKeys(prims, store, { ...opts, deviceId: 'adev03' })).rejects.toMatchObject({
      code: 'E2E_UNKNOWN_DEVICE',
    });
    expect(await store.getPeerDeviceList(ALICE)).toBeUndefined();
    const body = await generateDeviceKeys(prims, store, { ...opts, deviceId: 'adev02' });
    expect(body.deviceList).toEqual(next);
    expect(await ownDeviceList(store)).toEqual(next);
  });

  it('removes a device (remote sign-out) and reports it, and the removed device learns it was removed', async () => {
    const keydir = new FakeKeyDir();
    const a1 = await makeDevice(prims, keydir, ALICE, 'adev01', { devices: ['adev01', 'adev02'] });
    const a2 = await makeDevice(prims, keydir, ALICE, 'adev02', { identityFrom: a1, devices: ['adev01', 'adev02'] });
    const v2 = await removeDeviceFromList(prims, a1.store, { deviceId: 'adev02', now: a1.now });
    expect(v2).toMatchObject({ version: 2, devices: ['adev01'] });
    expect((await acceptOwnDeviceList(prims, a1.store, v2)).removed).toEqual(['adev02']);
    expect((await acceptOwnDeviceList(prims, a2.store, v2)).removed).toEqual(['adev02']);
  });

  it('refuses changes that make no sense, with stable codes', async () => {
    const a1 = await makeDevice(prims, new FakeKeyDir(), ALICE, 'adev01');
    const now = a1.now;
    await expect(addDeviceToList(prims, a1.store, { deviceId: 'adev01', now })).rejects.toMatchObject({
      code: 'E2E_BAD_BUNDLE',
    });
    await expect(removeDeviceFromList(prims, a1.store, { deviceId: 'adev09', now })).rejects.toMatchObject({
      code: 'E2E_UNKNOWN_DEVICE',
    });
    await expect(removeDeviceFromList(prims, a1.store, { deviceId: 'adev01', now })).rejects.toMatchObject({
      code: 'E2E_BAD_BUNDLE',
    });
    await expect(proposeDeviceList(prims, new MemoryStore(), { add: ['x12345'], now })).rejects.toMatchObject({
      code: 'E2E_NO_IDENTITY',
    });
    const bare = new MemoryStore();
    await bare.saveIdentity((await a1.store.getIdentity())!);
    await bare.saveLocalDevice((await a1.store.getLocalDevice())!);
    await expect(proposeDeviceList(prims, bare, { add: ['x12345'], now })).rejects.toMatchObject({
      code: 'E2E_NO_DEVICE_LIST',
    });
  });

  it('never dates a new version before the one it replaces', async () => {
    const a1 = await makeDevice(prims, new FakeKeyDir(), ALICE, 'adev01');
    const v1 = (await ownDeviceList(a1.store))!;
    const next = await addDeviceToList(prims, a1.store, { deviceId: 'adev02', now: () => 5 });
    expect(next.issuedAt).toBe(v1.issuedAt);
  });
});

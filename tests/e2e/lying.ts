import { createPrimitives, defaultRandomBytes, generateDeviceKeys, generateIdentity, MemoryStore } from '@hush/crypto';
import { randomId, type UserBundle } from '@hush/protocol';

/**
 * What a lying key directory serves in place of a user's real keys: a brand-new identity and one
 * device it holds, every signature valid under that identity (so the bundle verifies; only the
 * identity change gives it away).
 */
export async function forgedBundle(userId: string): Promise<UserBundle> {
  const prims = await createPrimitives();
  const store = new MemoryStore();
  await store.saveIdentity(await generateIdentity(prims, defaultRandomBytes));
  const deviceId = randomId(10);
  const p = await generateDeviceKeys(prims, store, {
    userId,
    deviceId,
    randomBytes: defaultRandomBytes,
    now: () => Date.now(),
    oneTimePrekeys: 1,
  });
  return {
    userId,
    identityKey: p.identityKey,
    deviceList: p.deviceList,
    devices: [{ deviceId, deviceKey: p.deviceKey, signedPrekey: p.signedPrekey, oneTimePrekey: p.oneTimePrekeys[0]! }],
  };
}

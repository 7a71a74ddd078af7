import {
  acceptOwnDeviceList,
  defaultRandomBytes,
  fromBase64,
  generateDeviceKeys,
  type Primitives,
  signDeviceList,
  toBase64,
  verifyDeviceList,
} from '@hush/crypto';
import type { SignedDeviceList, UserBundle } from '@hush/protocol';
import type { CryptoPort } from '../engine/ports.js';
import type { VaultCryptoStore } from '../store/crypto-store.js';

/** This device's keys under the account identity and a given list (linking, renewal). */
export const deviceKeysUnder = (
  p: Primitives,
  store: VaultCryptoStore,
  userId: string,
  deviceId: string,
  deviceList: SignedDeviceList,
  now: number,
  oneTimePrekeys: number,
) =>
  generateDeviceKeys(p, store, {
    userId,
    deviceId,
    randomBytes: defaultRandomBytes,
    now: () => now,
    oneTimePrekeys,
    deviceList,
  });

type OwnDeviceMethods = Pick<
  CryptoPort,
  'localDevice' | 'exportIdentity' | 'adoptIdentity' | 'ownDeviceList' | 'signDeviceList' | 'recordOwnDeviceList'
>;

/**
 * The half of CryptoPort that handles the account's identity across its own devices: moving it
 * to a linked device, and signing and checking the account's own device list.
 */
export function ownDeviceMethods(
  prims: Promise<Primitives>,
  getStore: () => Promise<VaultCryptoStore>,
): OwnDeviceMethods {
  return {
    async localDevice() {
      const store = await getStore();
      const [id, dev] = await Promise.all([store.getIdentity(), store.getLocalDevice()]);
      return id && dev ? { userId: dev.userId, deviceId: dev.deviceId } : null;
    },

    async exportIdentity() {
      const store = await getStore();
      const id = await store.getIdentity();
      if (!id) throw new Error('no identity');
      return { seed: toBase64(id.seed), publicKey: toBase64(id.publicKey) };
    },

    async adoptIdentity(identity, userId, deviceId, deviceList: SignedDeviceList, now, oneTimePrekeys) {
      const store = await getStore();
      const p = await prims;
      const seed = fromBase64(identity.seed);
      const publicKey = await p.ed25519PublicKey(seed);
      // The pair must belong together and sign the list we are given, or this device would
      // publish keys nobody can verify.
      if (toBase64(publicKey) !== identity.publicKey) throw new Error('The moved identity key does not match');
      await verifyDeviceList(p, userId, publicKey, deviceList);
      if (!deviceList.devices.includes(deviceId)) throw new Error('The device list does not name this device');
      await store.saveIdentity({ seed, publicKey });
      // generateDeviceKeys records the handed list as our own (libs/crypto own-device-list.ts).
      return deviceKeysUnder(p, store, userId, deviceId, deviceList, now, oneTimePrekeys);
    },

    async ownDeviceList(bundle: UserBundle) {
      const store = await getStore();
      const p = await prims;
      const me = await store.getIdentity();
      if (!me) throw new Error('no identity');
      if (bundle.identityKey !== toBase64(me.publicKey)) {
        throw new Error('The key directory shows another identity for this account');
      }
      const c = await verifyDeviceList(p, bundle.userId, me.publicKey, bundle.deviceList);
      return { version: c.version, devices: c.devices };
    },

    async signDeviceList(userId, version, devices, now) {
      const store = await getStore();
      const me = await store.getIdentity();
      if (!me) throw new Error('no identity');
      return signDeviceList(await prims, me, { userId, version, devices, issuedAt: now });
    },

    async recordOwnDeviceList(list: SignedDeviceList) {
      const store = await getStore();
      // Checked against our identity and our list history: a stale or forked list is refused.
      await acceptOwnDeviceList(await prims, store, list);
    },
  };
}

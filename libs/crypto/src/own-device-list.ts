/**
 * Our own account's signed device list: what the device-linking flow calls to add a device to the
 * account or remove one (sign out remotely). Each change is a new version signed with the account
 * identity key (PROTOCOL.md §5.1).
 *
 * Two steps, so a change the key directory refuses (another device of the account changed the
 * list first: KEYS_STALE_DEVICE_LIST) never enters our history and cannot look like a fork later:
 *
 *   const list = await addDeviceToList(prims, store, { deviceId: 'newdev1', now });   // signed, not stored
 *   await publish(list);                                                              // keydir accepts it
 *   await acceptOwnDeviceList(prims, store, list);                                    // now it is ours
 *
 * A newly linked device receives the list its linker signed (over the provisioning channel) and
 * passes it to generateDeviceKeys({ deviceList }), which accepts it the same way.
 */
import type { SignedDeviceList } from '@hush/protocol';
import { signDeviceList } from './device-list.js';
import { acceptDeviceList, type DeviceListUpdate, heldDeviceList } from './device-list-history.js';
import { toBase64 } from './encoding.js';
import { CryptoError } from './errors.js';
import type { Now, Primitives } from './primitives/types.js';
import type { CryptoStore, IdentityKeyPair, LocalDeviceRecord, PeerDeviceListRecord } from './storage/types.js';

async function self(
  store: CryptoStore,
): Promise<{ identity: IdentityKeyPair; device: LocalDeviceRecord; list: PeerDeviceListRecord | undefined }> {
  const [identity, device] = await Promise.all([store.getIdentity(), store.getLocalDevice()]);
  if (!identity || !device) throw new CryptoError('E2E_NO_IDENTITY');
  return { identity, device, list: await heldDeviceList(store, device.userId, identity.publicKey) };
}

/**
 * Our account's newest signed device list in wire form (for PUT /v1/keys, the provisioning
 * channel, and prekey messages), or undefined when none is stored yet (a store written by an older
 * version: fetch our own bundle with verifyUserBundle, which records it).
 */
export async function ownDeviceList(store: CryptoStore): Promise<SignedDeviceList | undefined> {
  const { list } = await self(store);
  if (!list?.signature) return undefined;
  return { version: list.version, devices: list.devices, issuedAt: list.issuedAt, signature: toBase64(list.signature) };
}

export interface DeviceListChange {
  add?: string[];
  remove?: string[];
  now: Now;
}

/**
 * Signs the next version of our device list with `add`ed and `remove`d device ids. Nothing is
 * stored: publish it, then acceptOwnDeviceList. Throws E2E_NO_DEVICE_LIST when no list of ours is
 * stored, E2E_BAD_BUNDLE when adding a listed device or emptying the list (or more than
 * MAX_DEVICES_PER_ACCOUNT), E2E_UNKNOWN_DEVICE when removing a device that is not listed.
 */
export async function proposeDeviceList(
  prims: Primitives,
  store: CryptoStore,
  change: DeviceListChange,
): Promise<SignedDeviceList> {
  const { identity, device, list } = await self(store);
  if (!list) throw new CryptoError('E2E_NO_DEVICE_LIST', 'No device list of our own account is stored');
  const devices = new Set(list.devices);
  for (const d of change.add ?? []) {
    if (devices.has(d)) throw new CryptoError('E2E_BAD_BUNDLE', `Device ${d} is already in the list`);
    devices.add(d);
  }
  for (const d of change.remove ?? []) {
    if (!devices.delete(d)) throw new CryptoError('E2E_UNKNOWN_DEVICE', `Device ${d} is not in the list`);
  }
  return signDeviceList(prims, identity, {
    userId: device.userId,
    version: list.version + 1,
    devices: [...devices],
    // Never earlier than the list it replaces, whatever this device's clock says.
    issuedAt: Math.max(change.now(), list.issuedAt),
  });
}

/** The next version of our list with `deviceId` added (linking a new device). */
export function addDeviceToList(
  prims: Primitives,
  store: CryptoStore,
  opts: { deviceId: string; now: Now },
): Promise<SignedDeviceList> {
  return proposeDeviceList(prims, store, { add: [opts.deviceId], now: opts.now });
}

/** The next version of our list without `deviceId` (signing a device out: it can no longer send as us). */
export function removeDeviceFromList(
  prims: Primitives,
  store: CryptoStore,
  opts: { deviceId: string; now: Now },
): Promise<SignedDeviceList> {
  return proposeDeviceList(prims, store, { remove: [opts.deviceId], now: opts.now });
}

/**
 * Records a list of our own account once it is current: one we proposed and keydir accepted, one
 * the linking device handed us, or a newer one from our own bundle. Verified against our identity;
 * stale or forked lists are refused as for peers. When `update.removed` holds this device's id,
 * this device was signed out and should wipe its keys.
 */
export async function acceptOwnDeviceList(
  prims: Primitives,
  store: CryptoStore,
  list: SignedDeviceList,
): Promise<DeviceListUpdate> {
  const { identity, device } = await self(store);
  return acceptDeviceList(prims, store, { userId: device.userId, identityKey: identity.publicKey, list });
}

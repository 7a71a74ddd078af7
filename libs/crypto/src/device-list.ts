/**
 * The account's signed device list (Sesame §2: a user has a set of devices; here the set is signed
 * by the account identity key so the server cannot add a device that peers would encrypt to).
 * Statement: label ‖ userId ‖ version (u64) ‖ issuedAt (u64) ‖ count (u32) ‖ sorted device ids.
 */
import type { SignedDeviceList } from '@hush/protocol';
import { LABEL_SIG_DEVICE_LIST, MAX_DEVICES_PER_ACCOUNT } from './constants.js';
import { b64Field, concat, lpString, toBase64, u32be, u64be } from './encoding.js';
import { CryptoError } from './errors.js';
import type { Primitives } from './primitives/types.js';
import type { IdentityKeyPair } from './storage/types.js';
import { verifyCached } from './verify-cache.js';

export interface DeviceListContent {
  userId: string;
  version: number;
  devices: string[];
  issuedAt: number;
}

export function deviceListStatement(c: DeviceListContent): Uint8Array {
  const sorted = [...c.devices].sort();
  return concat(
    lpString(LABEL_SIG_DEVICE_LIST),
    lpString(c.userId),
    u64be(c.version),
    u64be(c.issuedAt),
    u32be(sorted.length),
    ...sorted.map(lpString),
  );
}

export async function signDeviceList(
  prims: Primitives,
  identity: IdentityKeyPair,
  c: DeviceListContent,
): Promise<SignedDeviceList> {
  if (new Set(c.devices).size !== c.devices.length || c.devices.length === 0) {
    throw new CryptoError('E2E_BAD_BUNDLE', 'Device ids must be unique and at least one');
  }
  if (c.devices.length > MAX_DEVICES_PER_ACCOUNT) {
    throw new CryptoError('E2E_BAD_BUNDLE', `At most ${MAX_DEVICES_PER_ACCOUNT} devices per account`);
  }
  const signature = await prims.ed25519Sign(identity, deviceListStatement(c));
  return { version: c.version, devices: [...c.devices].sort(), issuedAt: c.issuedAt, signature: toBase64(signature) };
}

/** Throws E2E_BAD_SIGNATURE / E2E_BAD_BUNDLE unless `list` is signed by `identityKey` for `userId`. */
export async function verifyDeviceList(
  prims: Primitives,
  userId: string,
  identityKey: Uint8Array,
  list: SignedDeviceList,
): Promise<DeviceListContent> {
  if (
    !Array.isArray(list.devices) ||
    list.devices.length === 0 ||
    list.devices.length > MAX_DEVICES_PER_ACCOUNT ||
    new Set(list.devices).size !== list.devices.length ||
    !list.devices.every((d) => typeof d === 'string')
  ) {
    throw new CryptoError('E2E_BAD_BUNDLE', 'Device list must hold unique device ids');
  }
  const sig = b64Field('device list signature', list.signature, 64);
  const content = { userId, version: list.version, devices: [...list.devices].sort(), issuedAt: list.issuedAt };
  if (!(await verifyCached(prims, identityKey, deviceListStatement(content), sig))) {
    throw new CryptoError('E2E_BAD_SIGNATURE', 'The device list signature does not verify');
  }
  return content;
}

/**
 * Verification of what the key directory hands out (X3DH §3.2: "Alice verifies the prekey
 * signature and aborts the protocol if verification fails"). keydir checks no signatures: a lying
 * server is caught here. Every key is length-checked by name, every signature verified, every
 * X25519 key checked for low order, every device checked against the signed device list, and the
 * identity key compared with the trust store.
 */
import type { DeviceBundle, UserBundle } from '@hush/protocol';
import { type DeviceListContent, verifyDeviceList } from './device-list.js';
import { checkDeviceList, commitDeviceList, type DeviceListStatus } from './device-list-history.js';
import { b64Field, equalBytes } from './encoding.js';
import { CryptoError } from './errors.js';
import { deviceKeyStatement, oneTimePrekeyStatement, signedPrekeyStatement } from './keys.js';
import { isLowOrderX25519 } from './primitives/checks.js';
import type { Now, Primitives } from './primitives/types.js';
import type { CryptoStore } from './storage/types.js';
import { verifyCached } from './verify-cache.js';

/** A peer device whose keys all verified; the only thing `SessionManager.encrypt` accepts. */
export interface VerifiedDevice {
  userId: string;
  deviceId: string;
  identityKey: Uint8Array;
  deviceKey: Uint8Array;
  deviceKeySignature: Uint8Array;
  signedPrekey: { keyId: number; publicKey: Uint8Array; createdAt: number };
  oneTimePrekey: { keyId: number; publicKey: Uint8Array } | null;
}

/**
 * How the bundle's identity key compares with what we knew:
 * - `new`: first time we see this user (trust on first use; recorded, unverified),
 * - `known` / `verified`: the same key as before (verified: the user compared safety numbers),
 * - `changed`: a different key: never used until the user accepts it (SessionManager.acceptIdentity).
 */
export type IdentityStatus = 'new' | 'known' | 'verified' | 'changed';

export interface VerifiedUserBundle {
  userId: string;
  identityKey: Uint8Array;
  identityStatus: IdentityStatus;
  /** The key we trusted before, when identityStatus is 'changed'. */
  previousIdentityKey?: Uint8Array;
  deviceList: { version: number; devices: string[]; issuedAt: number };
  devices: VerifiedDevice[];
  /** Devices in the signed list for which the server returned no bundle (e.g. out of prekeys). */
  missingDevices: string[];
  /**
   * How the list compares with the one held before (with a store; `first` without one or for a
   * changed identity): `added` devices are worth a notice ("Bob added a device"); sessions with
   * `removed` ones were deleted.
   */
  deviceListChange: { status: DeviceListStatus; added: string[]; removed: string[] };
}

export interface BundleExpectations {
  /** The user we asked for: the bundle must be about them. */
  userId: string;
  /** Trust store: identity comparison and device-list rollback check. Omit for a stateless check. */
  store?: CryptoStore;
  /** Needed with `store` to date a first-seen identity. */
  now?: Now;
}

function isLowOrderOrThrow(name: string, key: Uint8Array): Uint8Array {
  if (isLowOrderX25519(key)) throw new CryptoError('E2E_LOW_ORDER_KEY', `${name} is a low-order point`);
  return key;
}

/** Verifies one device's bundle against the account identity key. */
export async function verifyDeviceBundle(
  prims: Primitives,
  userId: string,
  identityKey: Uint8Array,
  d: DeviceBundle,
): Promise<VerifiedDevice> {
  const deviceKey = isLowOrderOrThrow('device key', b64Field('device key', d.deviceKey.publicKey, 32));
  const deviceKeySignature = b64Field('device key signature', d.deviceKey.signature, 64);
  const spk = isLowOrderOrThrow('signed prekey', b64Field('signed prekey', d.signedPrekey.publicKey, 32));
  const spkSig = b64Field('signed prekey signature', d.signedPrekey.signature, 64);
  const checks: Promise<boolean>[] = [
    verifyCached(prims, identityKey, deviceKeyStatement(userId, d.deviceId, deviceKey), deviceKeySignature),
    verifyCached(
      prims,
      identityKey,
      signedPrekeyStatement(userId, d.deviceId, d.signedPrekey.keyId, d.signedPrekey.createdAt, spk),
      spkSig,
    ),
  ];
  let oneTimePrekey: VerifiedDevice['oneTimePrekey'] = null;
  if (d.oneTimePrekey) {
    const opk = isLowOrderOrThrow('one-time prekey', b64Field('one-time prekey', d.oneTimePrekey.publicKey, 32));
    const opkSig = b64Field('one-time prekey signature', d.oneTimePrekey.signature, 64);
    checks.push(
      verifyCached(prims, identityKey, oneTimePrekeyStatement(userId, d.deviceId, d.oneTimePrekey.keyId, opk), opkSig),
    );
    oneTimePrekey = { keyId: d.oneTimePrekey.keyId, publicKey: opk };
  }
  const results = await Promise.all(checks);
  if (!results.every(Boolean)) {
    throw new CryptoError('E2E_BAD_SIGNATURE', `A key of device ${d.deviceId} is not signed by the identity key`);
  }
  return {
    userId,
    deviceId: d.deviceId,
    identityKey,
    deviceKey,
    deviceKeySignature,
    signedPrekey: { keyId: d.signedPrekey.keyId, publicKey: spk, createdAt: d.signedPrekey.createdAt },
    oneTimePrekey,
  };
}

/**
 * Verifies a whole GET /v1/keys/:userId answer. Throws a CryptoError on any bad signature
 * (E2E_BAD_SIGNATURE), bad length (E2E_BAD_KEY), low-order key (E2E_LOW_ORDER_KEY), device not in
 * the signed list (E2E_UNKNOWN_DEVICE), wrong user (E2E_BAD_BUNDLE) or a device list older than one
 * already seen (E2E_STALE_DEVICE_LIST). A changed identity key is not thrown here but reported in
 * `identityStatus`; SessionManager refuses to use it until accepted.
 */
export async function verifyUserBundle(
  prims: Primitives,
  bundle: UserBundle,
  expect: BundleExpectations,
): Promise<VerifiedUserBundle> {
  if (bundle.userId !== expect.userId) throw new CryptoError('E2E_BAD_BUNDLE', 'The bundle is about another user');
  const identityKey = b64Field('identity key', bundle.identityKey, 32);
  // Membership is checked against the list as received; its signature is verified below, together
  // with every device's, and any failure refuses the whole bundle.
  const listed = new Set(Array.isArray(bundle.deviceList?.devices) ? bundle.deviceList.devices : []);
  const seen = new Set<string>();
  for (const d of bundle.devices) {
    if (!listed.has(d.deviceId)) {
      throw new CryptoError('E2E_UNKNOWN_DEVICE', `Device ${d.deviceId} is not in the signed device list`);
    }
    if (seen.has(d.deviceId)) throw new CryptoError('E2E_BAD_BUNDLE', `Device ${d.deviceId} appears twice`);
    seen.add(d.deviceId);
  }
  // All signatures at once: WebCrypto may verify them on several threads.
  const [list, ...devices] = (await Promise.all([
    verifyDeviceList(prims, bundle.userId, identityKey, bundle.deviceList),
    ...bundle.devices.map((d) => verifyDeviceBundle(prims, bundle.userId, identityKey, d)),
  ])) as [DeviceListContent, ...VerifiedDevice[]];

  let identityStatus: IdentityStatus = 'new';
  let change: VerifiedUserBundle['deviceListChange'] = { status: 'first', added: [], removed: [] };
  let previousIdentityKey: Uint8Array | undefined;
  if (expect.store) {
    // Our own account's bundle (to reach our other devices) is checked against our own identity.
    const local = await expect.store.getLocalDevice();
    const own = local?.userId === bundle.userId ? await expect.store.getIdentity() : undefined;
    const trusted = own
      ? { identityKey: own.publicKey, firstSeen: 0, verified: true }
      : await expect.store.getPeerIdentity(bundle.userId);
    if (trusted && equalBytes(trusted.identityKey, identityKey)) {
      identityStatus = trusted.verified ? 'verified' : 'known';
    } else if (trusted) {
      identityStatus = 'changed';
      previousIdentityKey = trusted.identityKey;
    }
    if (identityStatus !== 'changed') {
      // Monotonic versions with history: a server replaying an old list (to hide a new device or
      // keep a removed one) is refused, and so is a second list under a version already seen.
      // Checked before anything is stored, so a refused bundle changes nothing.
      const plan = await checkDeviceList(prims, expect.store, {
        userId: bundle.userId,
        identityKey,
        list: bundle.deviceList,
      });
      if (!trusted) {
        await expect.store.savePeerIdentity(bundle.userId, {
          identityKey,
          firstSeen: expect.now ? expect.now() : 0,
          verified: false,
        });
      }
      await commitDeviceList(expect.store, bundle.userId, plan);
      change = { status: plan.update.status, added: plan.update.added, removed: plan.update.removed };
    }
  }
  const out: VerifiedUserBundle = {
    userId: bundle.userId,
    identityKey,
    identityStatus,
    deviceList: { version: list.version, devices: list.devices, issuedAt: list.issuedAt },
    devices,
    missingDevices: list.devices.filter((d) => !seen.has(d)),
    deviceListChange: change,
  };
  if (previousIdentityKey) out.previousIdentityKey = previousIdentityKey;
  return out;
}

/**
 * Key generation and the statements the identity key signs (X3DH §2.5 "Publishing keys").
 * Deviation from X3DH §2.3 (XEdDSA): the account identity is an Ed25519 key used only to sign;
 * each device has its own X25519 "device key" (signed by the identity) that plays IK's DH role.
 */
import type { OneTimePrekey, PublishKeysBody, SignedDeviceList, SignedPrekey } from '@hush/protocol';
import {
  DEFAULT_ONE_TIME_PREKEY_BATCH,
  LABEL_SIG_DEVICE_KEY,
  LABEL_SIG_ONE_TIME_PREKEY,
  LABEL_SIG_SIGNED_PREKEY,
  SIGNED_PREKEY_GRACE_MS,
} from './constants.js';
import { signDeviceList } from './device-list.js';
import { checkDeviceList, commitDeviceList } from './device-list-history.js';
import { concat, lpString, toBase64, u32be, u64be } from './encoding.js';
import { CryptoError } from './errors.js';
import type { Now, Primitives, RandomBytes } from './primitives/types.js';
import type { CryptoStore, IdentityKeyPair, KeyPair, LocalDeviceRecord, SignedPrekeyRecord } from './storage/types.js';

/** Ed25519 identity key from fresh randomness. */
export async function generateIdentity(prims: Primitives, randomBytes: RandomBytes): Promise<IdentityKeyPair> {
  const seed = randomBytes(32);
  return { seed, publicKey: await prims.ed25519PublicKey(seed) };
}

export async function generateX25519KeyPair(prims: Primitives, randomBytes: RandomBytes): Promise<KeyPair> {
  return prims.x25519KeyPair(randomBytes);
}

// ---- signed statements: label ‖ length-prefixed ids ‖ fixed-size fields ----

export function deviceKeyStatement(userId: string, deviceId: string, publicKey: Uint8Array): Uint8Array {
  return concat(lpString(LABEL_SIG_DEVICE_KEY), lpString(userId), lpString(deviceId), publicKey);
}

export function signedPrekeyStatement(
  userId: string,
  deviceId: string,
  keyId: number,
  createdAt: number,
  publicKey: Uint8Array,
): Uint8Array {
  return concat(
    lpString(LABEL_SIG_SIGNED_PREKEY),
    lpString(userId),
    lpString(deviceId),
    u32be(keyId),
    u64be(createdAt),
    publicKey,
  );
}

export function oneTimePrekeyStatement(
  userId: string,
  deviceId: string,
  keyId: number,
  publicKey: Uint8Array,
): Uint8Array {
  return concat(lpString(LABEL_SIG_ONE_TIME_PREKEY), lpString(userId), lpString(deviceId), u32be(keyId), publicKey);
}

async function requireIdentity(store: CryptoStore): Promise<IdentityKeyPair> {
  const id = await store.getIdentity();
  if (!id) throw new CryptoError('E2E_NO_IDENTITY');
  return id;
}

async function requireDevice(store: CryptoStore): Promise<LocalDeviceRecord> {
  const d = await store.getLocalDevice();
  if (!d) throw new CryptoError('E2E_NO_IDENTITY');
  return d;
}

export interface GenerateDeviceOptions {
  userId: string;
  deviceId: string;
  randomBytes: RandomBytes;
  now: Now;
  oneTimePrekeys?: number;
  /**
   * The account's signed device list including this device. Omit for the account's first device:
   * a version-1 list of just this device is signed.
   */
  deviceList?: SignedDeviceList;
}

/**
 * Creates this device's keys, saves the private halves in the store and returns the body of
 * PUT /v1/keys. The identity key must already be in the store (generateIdentity + saveIdentity, or
 * moved over from another device of the account).
 */
export async function generateDeviceKeys(
  prims: Primitives,
  store: CryptoStore,
  opts: GenerateDeviceOptions,
): Promise<PublishKeysBody> {
  const identity = await requireIdentity(store);
  const deviceList =
    opts.deviceList ??
    (await signDeviceList(prims, identity, {
      userId: opts.userId,
      version: 1,
      devices: [opts.deviceId],
      issuedAt: opts.now(),
    }));
  // Our own list is checked and remembered like a peer's: it travels in our prekey messages, and
  // the next change (addDeviceToList / removeDeviceFromList) builds on it.
  const plan = await checkDeviceList(prims, store, {
    userId: opts.userId,
    identityKey: identity.publicKey,
    list: deviceList,
  });
  if (!plan.update.devices.includes(opts.deviceId)) {
    throw new CryptoError('E2E_UNKNOWN_DEVICE', 'The device list handed to a new device must include it');
  }
  await commitDeviceList(store, opts.userId, plan);
  const deviceKey = await generateX25519KeyPair(prims, opts.randomBytes);
  const deviceKeySignature = await prims.ed25519Sign(
    identity,
    deviceKeyStatement(opts.userId, opts.deviceId, deviceKey.publicKey),
  );
  await store.saveLocalDevice({
    userId: opts.userId,
    deviceId: opts.deviceId,
    deviceKey,
    deviceKeySignature,
    nextSignedPrekeyId: 1,
    nextOneTimePrekeyId: 1,
  });
  const signedPrekey = await rotateSignedPrekey(prims, store, { randomBytes: opts.randomBytes, now: opts.now });
  const oneTimePrekeys = await generateOneTimePrekeys(prims, store, {
    randomBytes: opts.randomBytes,
    count: opts.oneTimePrekeys ?? DEFAULT_ONE_TIME_PREKEY_BATCH,
  });
  return {
    identityKey: toBase64(identity.publicKey),
    deviceKey: { publicKey: toBase64(deviceKey.publicKey), signature: toBase64(deviceKeySignature) },
    signedPrekey,
    oneTimePrekeys,
    deviceList,
  };
}

/** A new batch of one-time prekeys (top-up), saved in the store; returns their public halves. */
export async function generateOneTimePrekeys(
  prims: Primitives,
  store: CryptoStore,
  opts: { randomBytes: RandomBytes; count: number },
): Promise<OneTimePrekey[]> {
  const identity = await requireIdentity(store);
  const device = await requireDevice(store);
  const out: OneTimePrekey[] = [];
  let keyId = device.nextOneTimePrekeyId;
  for (let i = 0; i < opts.count; i++, keyId++) {
    const keyPair = await generateX25519KeyPair(prims, opts.randomBytes);
    const signature = await prims.ed25519Sign(
      identity,
      oneTimePrekeyStatement(device.userId, device.deviceId, keyId, keyPair.publicKey),
    );
    await store.saveOneTimePrekey({ keyId, keyPair, signature });
    out.push({ keyId, publicKey: toBase64(keyPair.publicKey), signature: toBase64(signature) });
  }
  await store.saveLocalDevice({ ...device, nextOneTimePrekeyId: keyId });
  return out;
}

/**
 * Ids of signed prekeys whose grace period is over at `now`: each key except the newest was
 * replaced when the next newer one was made, and is kept SIGNED_PREKEY_GRACE_MS after that (not
 * after its own creation) so prekey messages made just before the rotation still decrypt.
 */
export function expiredSignedPrekeys(records: SignedPrekeyRecord[], now: number): number[] {
  const sorted = [...records].sort((a, b) => a.createdAt - b.createdAt || a.keyId - b.keyId);
  const out: number[] = [];
  for (let i = 0; i + 1 < sorted.length; i++) {
    if (sorted[i + 1]!.createdAt + SIGNED_PREKEY_GRACE_MS <= now) out.push(sorted[i]!.keyId);
  }
  return out;
}

/**
 * A new signed prekey (X3DH §4.2: replace it periodically; when, see maintainSignedPrekey).
 * Earlier ones are kept SIGNED_PREKEY_GRACE_MS after their replacement so in-flight prekey
 * messages still decrypt, then deleted (forward secrecy for first messages).
 */
export async function rotateSignedPrekey(
  prims: Primitives,
  store: CryptoStore,
  opts: { randomBytes: RandomBytes; now: Now },
): Promise<SignedPrekey> {
  const identity = await requireIdentity(store);
  const device = await requireDevice(store);
  const keyId = device.nextSignedPrekeyId;
  const createdAt = opts.now();
  const keyPair = await generateX25519KeyPair(prims, opts.randomBytes);
  const signature = await prims.ed25519Sign(
    identity,
    signedPrekeyStatement(device.userId, device.deviceId, keyId, createdAt, keyPair.publicKey),
  );
  const record: SignedPrekeyRecord = { keyId, keyPair, createdAt, signature };
  await store.saveSignedPrekey(record);
  for (const id of expiredSignedPrekeys(await store.listSignedPrekeys(), createdAt)) await store.removeSignedPrekey(id);
  await store.saveLocalDevice({ ...device, nextSignedPrekeyId: keyId + 1 });
  return { keyId, publicKey: toBase64(keyPair.publicKey), createdAt, signature: toBase64(signature) };
}

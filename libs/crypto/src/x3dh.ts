/**
 * X3DH key agreement (Signal's X3DH specification, §3), with one structural deviation:
 * the identity key IK is split in two. The account's Ed25519 identity key signs; each device's
 * X25519 "device key" DK (signed by the identity key) does IK's Diffie-Hellman role. The spec
 * instead uses one X25519 key for both, signing with XEdDSA (§2.3); see PROTOCOL.md.
 *
 *   DH1 = DH(DK_A, SPK_B)   DH2 = DH(EK_A, DK_B)   DH3 = DH(EK_A, SPK_B)   DH4 = DH(EK_A, OPK_B)
 *   SK  = KDF(DH1 ‖ DH2 ‖ DH3 [‖ DH4])                                               (§3.3)
 *   AD  = IK_A ‖ DK_A ‖ IK_B ‖ DK_B   (both identities and both device keys, §3.3)
 */
import type { VerifiedDevice } from './bundle.js';
import { concat } from './encoding.js';
import { kdfX3dh } from './kdf.js';
import { generateX25519KeyPair } from './keys.js';
import type { Primitives, RandomBytes } from './primitives/types.js';
import type { KeyPair } from './storage/types.js';

export interface X3dhLocal {
  identityKey: Uint8Array;
  deviceKey: KeyPair;
}

export interface X3dhResult {
  sharedKey: Uint8Array;
  ad: Uint8Array;
}

export function x3dhAssociatedData(
  initiatorIdentity: Uint8Array,
  initiatorDeviceKey: Uint8Array,
  responderIdentity: Uint8Array,
  responderDeviceKey: Uint8Array,
): Uint8Array {
  return concat(initiatorIdentity, initiatorDeviceKey, responderIdentity, responderDeviceKey);
}

/** X3DH §3.3, Alice's side. The DHs run concurrently (WebCrypto may use several threads). */
export async function x3dhInitiate(
  prims: Primitives,
  randomBytes: RandomBytes,
  local: X3dhLocal,
  remote: VerifiedDevice,
): Promise<X3dhResult & { baseKey: KeyPair }> {
  const baseKey = await generateX25519KeyPair(prims, randomBytes);
  const dhs = [
    prims.x25519(local.deviceKey, remote.signedPrekey.publicKey),
    prims.x25519(baseKey, remote.deviceKey),
    prims.x25519(baseKey, remote.signedPrekey.publicKey),
  ];
  if (remote.oneTimePrekey) dhs.push(prims.x25519(baseKey, remote.oneTimePrekey.publicKey));
  const outs = await Promise.all(dhs);
  const sharedKey = kdfX3dh(outs);
  for (const o of outs) o.fill(0);
  return {
    sharedKey,
    ad: x3dhAssociatedData(local.identityKey, local.deviceKey.publicKey, remote.identityKey, remote.deviceKey),
    baseKey,
  };
}

/** X3DH §3.4, Bob's side, from the prekey message's keys and our prekeys it names. */
export async function x3dhRespond(
  prims: Primitives,
  local: X3dhLocal,
  signedPrekey: KeyPair,
  oneTimePrekey: KeyPair | null,
  remote: { identityKey: Uint8Array; deviceKey: Uint8Array; baseKey: Uint8Array },
): Promise<X3dhResult> {
  const dhs = [
    prims.x25519(signedPrekey, remote.deviceKey),
    prims.x25519(local.deviceKey, remote.baseKey),
    prims.x25519(signedPrekey, remote.baseKey),
  ];
  if (oneTimePrekey) dhs.push(prims.x25519(oneTimePrekey, remote.baseKey));
  const outs = await Promise.all(dhs);
  const sharedKey = kdfX3dh(outs);
  for (const o of outs) o.fill(0);
  return {
    sharedKey,
    ad: x3dhAssociatedData(remote.identityKey, remote.deviceKey, local.identityKey, local.deviceKey.publicKey),
  };
}

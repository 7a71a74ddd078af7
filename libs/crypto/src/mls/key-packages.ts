/**
 * A device's MLS leaf signer and its key packages (RFC 9420 §10).
 *
 * Each device has one leaf signature key, bound once to the account identity (see binding.ts);
 * every key package it publishes carries that credential. A key package is used once (§16.8:
 * reusing one weakens the joiner's initial forward secrecy), so keydir hands each out once, with
 * one "last resort" package for when none are left, like Signal's last-resort prekey (RFC 9420
 * §16.8 allows a last-resort package; the joiner should then commit an update soon after joining).
 */
import {
  type CiphersuiteImpl,
  decodeMlsMessage,
  defaultCapabilities,
  encodeMlsMessage,
  generateKeyPackageWithKey,
  type KeyPackage,
  type Lifetime,
} from 'ts-mls';
import { makeKeyPackageRef } from 'ts-mls/keyPackage.js';
import { toBase64 } from '../encoding.js';
import { CryptoError } from '../errors.js';
import type { Now, Primitives } from '../primitives/types.js';
import type { IdentityKeyPair } from '../storage/types.js';
import { signLeafBinding } from './binding.js';

/** A device's MLS signing identity; secret (holds the leaf signature private key). */
export interface LeafSigner {
  userId: string;
  deviceId: string;
  /** Ed25519 leaf signature key pair as ts-mls/WebCrypto encode it (PKCS#8 private key). */
  signaturePublicKey: Uint8Array;
  signaturePrivateKey: Uint8Array;
  /** The credential bytes (our leaf binding) every leaf of this device carries. */
  credential: Uint8Array;
}

/** A key package with its private keys, kept by the device until a welcome consumes it. */
export interface LocalKeyPackage {
  /** RFC 9420 §5.2 KeyPackageRef, base64: the id keydir and welcomes use. */
  ref: string;
  /** The public key package as an MLSMessage (what is published). */
  publicMessage: Uint8Array;
  initPrivateKey: Uint8Array;
  hpkePrivateKey: Uint8Array;
  lastResort: boolean;
}

/** Key packages live at most this long (RFC 9420 §7.2 lifetime); devices republish well before. */
export const KEY_PACKAGE_LIFETIME_MS = 28 * 24 * 3600 * 1000;

export async function createLeafSigner(
  prims: Primitives,
  suite: CiphersuiteImpl,
  identity: IdentityKeyPair,
  userId: string,
  deviceId: string,
): Promise<LeafSigner> {
  const { signKey, publicKey } = await suite.signature.keygen();
  const credential = await signLeafBinding(prims, identity, userId, deviceId, publicKey);
  if (credential.credentialType !== 'basic') throw new CryptoError('E2E_BAD_STATE');
  return {
    userId,
    deviceId,
    signaturePublicKey: publicKey,
    signaturePrivateKey: signKey,
    credential: credential.identity,
  };
}

function lifetime(now: Now): Lifetime {
  const s = BigInt(Math.floor(now() / 1000));
  // A little slack before now, for members whose clock is behind ours.
  return { notBefore: s - 3600n, notAfter: s + BigInt(KEY_PACKAGE_LIFETIME_MS / 1000) };
}

export async function generateKeyPackages(
  suite: CiphersuiteImpl,
  signer: LeafSigner,
  count: number,
  now: Now,
  opts: { lastResort?: boolean } = {},
): Promise<LocalKeyPackage[]> {
  const out: LocalKeyPackage[] = [];
  for (let i = 0; i < count; i++) {
    const { publicPackage, privatePackage } = await generateKeyPackageWithKey(
      { credentialType: 'basic', identity: signer.credential },
      defaultCapabilities(),
      lifetime(now),
      [],
      { signKey: signer.signaturePrivateKey, publicKey: signer.signaturePublicKey },
      suite,
    );
    out.push({
      ref: toBase64(await makeKeyPackageRef(publicPackage, suite.hash)),
      publicMessage: encodeMlsMessage({ wireformat: 'mls_key_package', version: 'mls10', keyPackage: publicPackage }),
      initPrivateKey: privatePackage.initPrivateKey,
      hpkePrivateKey: privatePackage.hpkePrivateKey,
      lastResort: opts.lastResort === true,
    });
  }
  return out;
}

/** Decodes a published key package; throws E2E_GROUP_REJECTED for anything else. */
export function decodeKeyPackage(bytes: Uint8Array): KeyPackage {
  let decoded: ReturnType<typeof decodeMlsMessage>;
  try {
    decoded = decodeMlsMessage(bytes, 0);
  } catch (e) {
    throw new CryptoError('E2E_GROUP_REJECTED', 'Malformed key package', { cause: e });
  }
  if (decoded === undefined || decoded[1] !== bytes.length || decoded[0].wireformat !== 'mls_key_package') {
    throw new CryptoError('E2E_GROUP_REJECTED', 'Not a key package');
  }
  return decoded[0].keyPackage;
}

export async function keyPackageRef(suite: CiphersuiteImpl, bytes: Uint8Array): Promise<string> {
  return toBase64(await makeKeyPackageRef(decodeKeyPackage(bytes), suite.hash));
}

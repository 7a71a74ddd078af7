/**
 * Key derivation: HKDF-SHA-256 (RFC 5869) and HMAC-SHA-256 (RFC 2104) from @noble/hashes, arranged
 * as the Double Ratchet's KDF_RK and KDF_CK (Double Ratchet §5.2) and X3DH's KDF (X3DH §2.2).
 */
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  CHAIN_MESSAGE_KEY_INPUT,
  CHAIN_NEXT_KEY_INPUT,
  LABEL_MESSAGE_KEY,
  LABEL_ROOT,
  LABEL_X3DH,
} from './constants.js';
import { concat } from './encoding.js';

export function hkdfSha256(
  ikm: Uint8Array,
  salt: Uint8Array | undefined,
  info: Uint8Array,
  length: number,
): Uint8Array {
  return hkdf(sha256, ikm, salt, info, length);
}

export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  return hmac(sha256, key, data);
}

/**
 * X3DH §2.2: KDF(KM) = HKDF(F || KM) with F = 32 0xFF bytes (for X25519), salt = 32 zero bytes,
 * info = our label. Returns the 32-byte shared secret SK.
 */
export function kdfX3dh(dhOutputs: Uint8Array[]): Uint8Array {
  const f = new Uint8Array(32).fill(0xff);
  const km = concat(f, ...dhOutputs);
  const sk = hkdfSha256(km, new Uint8Array(32), LABEL_X3DH, 32);
  km.fill(0);
  return sk;
}

/**
 * Double Ratchet §5.2 KDF_RK(rk, dh_out): HKDF with salt = rk, ikm = dh_out, 64 bytes out ->
 * (new root key, new chain key).
 */
export function kdfRoot(rootKey: Uint8Array, dhOut: Uint8Array): { rootKey: Uint8Array; chainKey: Uint8Array } {
  const out = hkdfSha256(dhOut, rootKey, LABEL_ROOT, 64);
  return { rootKey: out.slice(0, 32), chainKey: out.slice(32, 64) };
}

/**
 * Double Ratchet §5.2 KDF_CK(ck): message key = HMAC(ck, 0x01), next chain key = HMAC(ck, 0x02).
 */
export function kdfChain(chainKey: Uint8Array): { chainKey: Uint8Array; messageKey: Uint8Array } {
  return {
    messageKey: hmacSha256(chainKey, CHAIN_MESSAGE_KEY_INPUT),
    chainKey: hmacSha256(chainKey, CHAIN_NEXT_KEY_INPUT),
  };
}

/**
 * Double Ratchet §5.2 (ENCRYPT): expand the message key with HKDF into the AEAD key. The nonce is
 * random and travels in the header (not derived here): a message key used twice after a state
 * rollback must not repeat (key, nonce) (PROTOCOL.md deviation 3).
 */
export function messageKey(mk: Uint8Array): Uint8Array {
  return hkdfSha256(mk, new Uint8Array(32), LABEL_MESSAGE_KEY, 32);
}

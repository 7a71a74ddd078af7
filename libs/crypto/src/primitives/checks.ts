/** Input checks shared by both primitive implementations, so both refuse exactly the same things. */
import { CryptoError } from '../errors.js';

export function isAllZero(b: Uint8Array): boolean {
  let acc = 0;
  for (const x of b) acc |= x;
  return acc === 0;
}

export function need32(name: string, b: Uint8Array): void {
  if (!(b instanceof Uint8Array) || b.length !== 32) throw new CryptoError('E2E_BAD_KEY', `${name} must be 32 bytes`);
}

/** The field prime of Curve25519 and Ed25519 (RFC 7748 §4.1, RFC 8032 §5.1). */
const P = 2n ** 255n - 19n;

/** The order L of the Ed25519 base point, little-endian (RFC 8032 §5.1). */
const L = new Uint8Array([
  0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0,
  0, 0, 0, 0, 0, 0, 0, 0, 0x10,
]);

/**
 * RFC 8032 §5.1.7 step 1: "If ... S >= L, the signature is invalid". tweetnacl skips this check,
 * which makes signatures malleable (Wycheproof "SignatureMalleability").
 */
export function isCanonicalS(sig: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i]!;
    const l = L[i]!;
    if (s < l) return true;
    if (s > l) return false;
  }
  return false; // S == L
}

/** The y-coordinate of an Ed25519 point encoding (RFC 8032 §5.1.3: bit 255 is the sign of x). */
function edY(enc: Uint8Array): bigint {
  let y = 0n;
  for (let i = 31; i >= 0; i--) y = (y << 8n) | BigInt(i === 31 ? enc[i]! & 0x7f : enc[i]!);
  return y;
}

/**
 * The y-coordinates of the Ed25519 points of order 1, 2, 4 and 8: 1, p-1, 0 and the pair ±y8
 * (y8 + (-y8) = p). libsodium's ge25519_has_small_order compares against exactly these encodings,
 * plus the non-canonical p and p+1 (= 0 and 1), ignoring the sign bit; reducing mod p below
 * covers those two the same way.
 */
const Y8 = 2707385501144840649318225287225658788936804267575313519463743609750303402022n;
const SMALL_ORDER_Y = new Set<bigint>([0n, 1n, P - 1n, Y8, P - Y8]);

/** True for an encoding of a point of small order (libsodium's blocklist). */
export function isSmallOrderEd25519(enc: Uint8Array): boolean {
  return SMALL_ORDER_Y.has(edY(enc) % P);
}

/** True when the encoded y is below p (libsodium's ge25519_is_canonical). */
export function isCanonicalEd25519(enc: Uint8Array): boolean {
  return edY(enc) < P;
}

/**
 * Checks run before either implementation's verify, as libsodium's crypto_sign_verify_detached
 * does: lengths; S < L (RFC 8032 §5.1.7); a canonical public key of large order; an R of large
 * order. RFC 8032's cofactorless equation [S]B = R + [k]A holds for small-order A and R without
 * the private key (A = R = identity, S = 0 "signs" every message), so both are refused.
 */
export function verifyInputsOk(publicKey: Uint8Array, signature: Uint8Array): boolean {
  return (
    publicKey instanceof Uint8Array &&
    publicKey.length === 32 &&
    signature instanceof Uint8Array &&
    signature.length === 64 &&
    isCanonicalS(signature) &&
    isCanonicalEd25519(publicKey) &&
    !isSmallOrderEd25519(publicKey) &&
    !isSmallOrderEd25519(signature.subarray(0, 32))
  );
}

export function lowOrder(): CryptoError {
  return new CryptoError('E2E_LOW_ORDER_KEY');
}

/**
 * The u-coordinates of the points of order 1, 2, 4 and 8 on Curve25519 (its whole small subgroup):
 * 0, 1, p-1 and the two of order 8. Any public key that reduces to one of them gives an all-zero
 * or attacker-predictable X25519 output (RFC 7748 §7), so bundles carrying one are refused up front.
 */
const LOW_ORDER_U = new Set<bigint>([
  0n,
  1n,
  P - 1n,
  325606250916557431795983626356110631294008115727848805560023387167927233504n,
  39382357235489614581723060781553021112529911719440698176882885853963445705823n,
]);

/** True when an X25519 public key (bit 255 masked, reduced mod p, RFC 7748 §5) has low order. */
export function isLowOrderX25519(publicKey: Uint8Array): boolean {
  let u = 0n;
  for (let i = 31; i >= 0; i--) u = (u << 8n) | BigInt(i === 31 ? publicKey[i]! & 0x7f : publicKey[i]!);
  return LOW_ORDER_U.has(u % P);
}

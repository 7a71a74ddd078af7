/**
 * Safety numbers in Signal's format (libsignal `fingerprint`, displayable version 0):
 * per side, h = SHA-512(0x0000 ‖ identityKey ‖ stableId ‖ identityKey), then h = SHA-512(h ‖ identityKey) until
 * 5200 hashes in all; the first 30 bytes become 6 groups of 5 digits (each 5-byte big-endian
 * chunk mod 100000). The two 30-digit halves are sorted and joined: both users see the same 60 digits.
 *
 * Deviation: Signal hashes its 33-byte "0x05 ‖ Curve25519" key encoding; we hash the 32-byte
 * Ed25519 identity key (our tests check the construction against libsignal with its encoding).
 *
 * QR payload (versioned, ours): "HUSHQR" ‖ version(1) ‖ len(u16) ‖ stableId ‖ identityKey(32)
 * ‖ len(u16) ‖ peer stableId ‖ peer identityKey(32). Comparing a scanned payload with our own view
 * tells 'match', 'mismatch' or 'wrong-version'.
 */
import { QR_MAGIC, QR_PAYLOAD_VERSION, SAFETY_NUMBER_ITERATIONS, SAFETY_NUMBER_VERSION } from './constants.js';
import { concat, equalBytes, lpString, utf8 } from './encoding.js';
import { CryptoError } from './errors.js';
import { iteratedSha512 } from './sha512.js';

export interface SafetyNumberSide {
  /** Stable account id (our userId). */
  stableId: string;
  /** The account's identity public key. */
  identityKey: Uint8Array;
}

/** One side's 30 digits. `keyBytes` is the key exactly as hashed (exposed for cross-checking). */
export function fingerprintDigits(
  keyBytes: Uint8Array,
  stableId: Uint8Array,
  iterations = SAFETY_NUMBER_ITERATIONS,
): string {
  const start = concat(new Uint8Array([0, SAFETY_NUMBER_VERSION]), keyBytes, stableId, keyBytes);
  const h = iteratedSha512(start, keyBytes, iterations);
  let out = '';
  for (let i = 0; i < 30; i += 5) {
    // 40-bit big-endian chunk: exact in a double.
    const n = h[i]! * 2 ** 32 + ((h[i + 1]! << 24) >>> 0) + (h[i + 2]! << 16) + (h[i + 3]! << 8) + h[i + 4]!;
    out += String(n % 100000).padStart(5, '0');
  }
  return out;
}

/** The 60-digit safety number both users see for their conversation. */
export function safetyNumber(local: SafetyNumberSide, remote: SafetyNumberSide): string {
  const a = fingerprintDigits(local.identityKey, utf8(local.stableId));
  const b = fingerprintDigits(remote.identityKey, utf8(remote.stableId));
  return a <= b ? a + b : b + a;
}

/** Splits the 60 digits into 12 groups of 5 for display. */
export function formatSafetyNumber(digits: string): string {
  return digits.match(/.{1,5}/g)?.join(' ') ?? digits;
}

/** What we encode in our QR code: our view of (us, them). */
export function qrPayload(local: SafetyNumberSide, remote: SafetyNumberSide): Uint8Array {
  return concat(
    QR_MAGIC,
    new Uint8Array([QR_PAYLOAD_VERSION]),
    lpString(local.stableId),
    local.identityKey,
    lpString(remote.stableId),
    remote.identityKey,
  );
}

export type QrComparison = 'match' | 'mismatch' | 'wrong-version';

/**
 * Compares a payload scanned from the peer's screen with our view. The peer encoded (them, us), so
 * it matches when its halves equal our (remote, local). A malformed payload is a mismatch.
 */
export function compareQrPayload(scanned: Uint8Array, local: SafetyNumberSide, remote: SafetyNumberSide): QrComparison {
  if (scanned.length < QR_MAGIC.length + 1 || !equalBytes(scanned.subarray(0, QR_MAGIC.length), QR_MAGIC)) {
    return 'mismatch';
  }
  if (scanned[QR_MAGIC.length] !== QR_PAYLOAD_VERSION) return 'wrong-version';
  const expected = qrPayload(remote, local);
  return equalBytes(scanned, expected) ? 'match' : 'mismatch';
}

export function assertSafetyNumber(digits: string): void {
  if (!/^\d{60}$/.test(digits)) throw new CryptoError('E2E_BAD_STATE', 'A safety number is 60 digits');
}

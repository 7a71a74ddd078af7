/**
 * Padding to fixed buckets before encryption, so ciphertext lengths reveal only a coarse size class.
 * Layout: plaintext ‖ 0x80 ‖ 0x00* up to the bucket size (ISO/IEC 7816-4, as Signal pads).
 * Buckets: 256 bytes, then powers of two up to MAX_PLAINTEXT_BYTES + 1.
 */
import { MAX_PLAINTEXT_BYTES } from './constants.js';
import { CryptoError } from './errors.js';

/** Smallest bucket (most chat messages fit in one). */
export const MIN_PAD_BUCKET = 256;

export function paddedLength(n: number): number {
  let b = MIN_PAD_BUCKET;
  while (b < n + 1) b *= 2;
  return b;
}

export function pad(plaintext: Uint8Array): Uint8Array {
  if (plaintext.length > MAX_PLAINTEXT_BYTES) throw new CryptoError('E2E_BAD_PADDING', 'Plaintext too large');
  const out = new Uint8Array(paddedLength(plaintext.length));
  out.set(plaintext, 0);
  out[plaintext.length] = 0x80;
  return out;
}

export function unpad(padded: Uint8Array): Uint8Array {
  if (padded.length < MIN_PAD_BUCKET || padded.length !== paddedLength(padded.length - 1)) {
    throw new CryptoError('E2E_BAD_PADDING');
  }
  let i = padded.length - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0 || padded[i] !== 0x80) throw new CryptoError('E2E_BAD_PADDING');
  return padded.slice(0, i);
}

/**
 * AEAD: XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha) from @noble/ciphers. Its associated data is
 * the caller's AD ‖ the message header, so neither can be changed without the tag failing
 * (Double Ratchet §3.4 ENCRYPT(mk, plaintext, CONCAT(AD, header))).
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { AEAD_TAG_BYTES, XCHACHA_NONCE_BYTES } from './constants.js';
import { CryptoError } from './errors.js';

export function aeadEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  return xchacha20poly1305(key, nonce, ad).encrypt(plaintext);
}

/** Throws E2E_DECRYPT_FAILED on any tag mismatch or wrong size. */
export function aeadDecrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  if (key.length !== 32 || nonce.length !== XCHACHA_NONCE_BYTES || ciphertext.length < AEAD_TAG_BYTES) {
    throw new CryptoError('E2E_DECRYPT_FAILED');
  }
  try {
    return xchacha20poly1305(key, nonce, ad).decrypt(ciphertext);
  } catch (e) {
    throw new CryptoError('E2E_DECRYPT_FAILED', undefined, { cause: e });
  }
}

/**
 * Zero-knowledge backup (PROTOCOL.md §12): the recovery key, the keys derived from it, and the
 * sealing of backup objects (the manifest and the chunks it lists). Pure: randomness is a
 * parameter, compression is the caller's (the bytes handed in may already be deflated).
 *
 * The recovery key is 32 random bytes (full entropy), so HKDF (RFC 5869) is enough to derive
 * keys from it: there is nothing for a password hash to stretch. The server stores a hash of the
 * authenticator only, which lets it count wrong keys without being able to test a guess faster
 * than a brute force of the whole 256-bit key.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { aeadDecrypt, aeadEncrypt } from './aead.js';
import { XCHACHA_NONCE_BYTES } from './constants.js';
import { concat, utf8 } from './encoding.js';
import { CryptoError } from './errors.js';
import { hkdfSha256 } from './kdf.js';
import type { RandomBytes } from './primitives/index.js';

export const RECOVERY_KEY_BYTES = 32;
/** 64 hexadecimal digits, shown as 16 groups of 4. */
export const RECOVERY_KEY_DIGITS = 64;
export const RECOVERY_KEY_GROUP = 4;
export const BACKUP_VERSION = 1;
/** Smallest padded size of a sealed object: one chat message in a chunk pads to this. */
export const BACKUP_MIN_PAD = 1024;
/** Largest plaintext (compressed) one backup object may hold before padding. */
export const BACKUP_MAX_PLAINTEXT = 1024 * 1024;

const enc = (s: string) => utf8(s);
export const LABEL_BACKUP_ENCRYPTION = enc('hush/backup/encryption/v1');
export const LABEL_BACKUP_AUTH = enc('hush/backup/authenticator/v1');
export const LABEL_BACKUP_VERIFIER = enc('hush/backup/verifier/v1');
export const LABEL_BACKUP_AD = enc('hush/backup/object/v1');

/** The keys a device that backs up keeps (the recovery key itself is shown once and dropped). */
export interface BackupKeys {
  /** XChaCha20-Poly1305 key of every backup object. */
  encryption: Uint8Array;
  /** Proves knowledge of the recovery key to the server (sent on backup reads and writes). */
  authenticator: Uint8Array;
  /** SHA-256 over the authenticator: what the server stores to check it. */
  verifier: Uint8Array;
}

export function generateRecoveryKey(randomBytes: RandomBytes): Uint8Array {
  return randomBytes(RECOVERY_KEY_BYTES);
}

/** "3f9a 0c11 …": 16 groups of 4 lowercase hexadecimal digits. */
export function formatRecoveryKey(key: Uint8Array): string {
  if (key.length !== RECOVERY_KEY_BYTES) throw new CryptoError('E2E_BAD_KEY', 'A recovery key is 32 bytes');
  const hex = [...key].map((b) => b.toString(16).padStart(2, '0')).join('');
  return hex.match(/.{4}/g)!.join(' ');
}

/**
 * Reads a typed or pasted recovery key: spaces, dashes and line breaks are ignored, case too.
 * Throws E2E_BAD_KEY unless exactly 64 hexadecimal digits remain.
 */
export function parseRecoveryKey(text: string): Uint8Array {
  const hex = text.replace(/[\s-]/g, '').toLowerCase();
  if (hex.length !== RECOVERY_KEY_DIGITS || !/^[0-9a-f]+$/.test(hex)) {
    throw new CryptoError('E2E_BAD_KEY', `A recovery key is ${RECOVERY_KEY_DIGITS} digits 0-9 and letters a-f`);
  }
  const out = new Uint8Array(RECOVERY_KEY_BYTES);
  for (let i = 0; i < RECOVERY_KEY_BYTES; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * §12.2: encryption = HKDF(ikm = recovery key, salt = utf8(userId), info = LABEL_BACKUP_ENCRYPTION, 32);
 * authenticator = HKDF(same ikm and salt, info = LABEL_BACKUP_AUTH, 32);
 * verifier = SHA-256(LABEL_BACKUP_VERIFIER ‖ authenticator). The salt binds the keys to the
 * account: the same recovery key on another account opens nothing.
 */
export function deriveBackupKeys(recoveryKey: Uint8Array, userId: string): BackupKeys {
  if (recoveryKey.length !== RECOVERY_KEY_BYTES) throw new CryptoError('E2E_BAD_KEY', 'A recovery key is 32 bytes');
  const salt = utf8(userId);
  const encryption = hkdfSha256(recoveryKey, salt, LABEL_BACKUP_ENCRYPTION, 32);
  const authenticator = hkdfSha256(recoveryKey, salt, LABEL_BACKUP_AUTH, 32);
  return { encryption, authenticator, verifier: backupVerifier(authenticator) };
}

export function backupVerifier(authenticator: Uint8Array): Uint8Array {
  return sha256(concat(LABEL_BACKUP_VERIFIER, authenticator));
}

/** Power-of-two buckets from BACKUP_MIN_PAD: a chunk's size says little about how many messages it holds. */
export function backupPaddedLength(n: number): number {
  let b = BACKUP_MIN_PAD;
  while (b < n + 1) b *= 2;
  return b;
}

function pad(plaintext: Uint8Array): Uint8Array {
  if (plaintext.length > BACKUP_MAX_PLAINTEXT) throw new CryptoError('E2E_BAD_PADDING', 'Backup object too large');
  const out = new Uint8Array(backupPaddedLength(plaintext.length));
  out.set(plaintext, 0);
  out[plaintext.length] = 0x80; // ISO/IEC 7816-4, as padding.ts
  return out;
}

function unpad(padded: Uint8Array): Uint8Array {
  let i = padded.length - 1;
  while (i >= 0 && padded[i] === 0) i--;
  if (i < 0 || padded[i] !== 0x80 || padded.length !== backupPaddedLength(i)) throw new CryptoError('E2E_BAD_PADDING');
  return padded.slice(0, i);
}

/** AD = LABEL_BACKUP_AD ‖ 0x00 ‖ userId ‖ 0x00 ‖ name: an object cannot move to another name or account. */
function objectAd(userId: string, name: string): Uint8Array {
  return concat(LABEL_BACKUP_AD, new Uint8Array([0]), utf8(userId), new Uint8Array([0]), utf8(name));
}

/**
 * §12.3: 0x01 ‖ nonce (24 random bytes) ‖ XChaCha20-Poly1305(encryption key, nonce, pad(plaintext), AD).
 * `name` is "manifest" or "chunk:<id>".
 */
export function sealBackupObject(
  keys: Pick<BackupKeys, 'encryption'>,
  userId: string,
  name: string,
  plaintext: Uint8Array,
  randomBytes: RandomBytes,
): Uint8Array {
  const nonce = randomBytes(XCHACHA_NONCE_BYTES);
  const ct = aeadEncrypt(keys.encryption, nonce, pad(plaintext), objectAd(userId, name));
  return concat(new Uint8Array([BACKUP_VERSION]), nonce, ct);
}

/** Throws E2E_DECRYPT_FAILED for a wrong key, another name or account, or any altered byte. */
export function openBackupObject(
  keys: Pick<BackupKeys, 'encryption'>,
  userId: string,
  name: string,
  sealed: Uint8Array,
): Uint8Array {
  if (sealed.length < 1 + XCHACHA_NONCE_BYTES || sealed[0] !== BACKUP_VERSION) {
    throw new CryptoError('E2E_DECRYPT_FAILED', 'Not a backup object of a known version');
  }
  const nonce = sealed.subarray(1, 1 + XCHACHA_NONCE_BYTES);
  const padded = aeadDecrypt(keys.encryption, nonce, sealed.subarray(1 + XCHACHA_NONCE_BYTES), objectAd(userId, name));
  return unpad(padded);
}

/** Wipes derived keys a caller is done with (STYLE.md habit 9). */
export function wipeBackupKeys(keys: BackupKeys): void {
  keys.encryption.fill(0);
  keys.authenticator.fill(0);
}

/**
 * Attachment encryption (files, images, voice notes), after Signal's attachment scheme: each file
 * gets a fresh random key, only ciphertext goes to the server, and the key and a digest of the
 * ciphertext travel inside the end-to-end encrypted message, so the server can neither read the
 * file nor swap it for another (the recipient checks the digest before it decrypts).
 *
 * Deviations from Signal (which uses AES-256-CBC + HMAC-SHA256 over the whole file): the file is
 * cut into CHUNK-byte chunks, each sealed with XChaCha20-Poly1305 under a nonce that binds the
 * chunk's index and whether it is the last one — the STREAM construction (Hoang, Reyhanitabar,
 * Rogaway, Vizár, "Online Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance",
 * CRYPTO 2015, §7), as age and Tink use it — so chunks cannot be reordered, dropped or truncated
 * without a tag failing, and a large file can be decrypted piece by piece. The plaintext is padded
 * with zeros to a Padmé length (Nikitin et al., "Reducing Metadata Leakage from Encrypted Files and
 * Communication with PURBs", PETS 2019, §4) so the stored size reveals little; the real size travels
 * in the message.
 *
 * Blob layout: version(1)=1 ‖ chunkSize(u32) ‖ sealed chunk 0 ‖ … ‖ sealed chunk n-1, where each
 * sealed chunk is ciphertext ‖ 16-byte tag. digest = SHA-256(blob).
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { aeadDecrypt, aeadEncrypt } from './aead.js';
import { AEAD_TAG_BYTES, XCHACHA_NONCE_BYTES } from './constants.js';
import { equalBytes, utf8 } from './encoding.js';
import { CryptoError } from './errors.js';
import { hkdfSha256 } from './kdf.js';
import type { RandomBytes } from './primitives/types.js';

export const ATTACHMENT_VERSION = 1;
/** Plaintext bytes per chunk: small enough for steady progress, large enough that tags cost 0.02 %. */
export const ATTACHMENT_CHUNK_BYTES = 64 * 1024;
/** The largest file a user may send (the product's limit; the gateway enforces it on the blob). */
export const ATTACHMENT_MAX_BYTES = 100 * 1024 * 1024;
const HEADER_BYTES = 5;
const INFO = utf8('hush/attachment/v1');

/** What the sender puts in the end-to-end message besides the file's name and type. */
export interface AttachmentSecrets {
  /** 32 random bytes: the only key to this file. */
  key: Uint8Array;
  /** SHA-256 of the whole blob as uploaded. */
  digest: Uint8Array;
  /** The file's real size in bytes (the blob is padded). */
  size: number;
}

/** The largest blob a file of `size` bytes makes (the gateway's upload bound). */
export function attachmentBlobBytes(size: number): number {
  const padded = padme(Math.max(size, 1));
  const chunks = Math.ceil(padded / ATTACHMENT_CHUNK_BYTES);
  return HEADER_BYTES + padded + chunks * AEAD_TAG_BYTES;
}

/**
 * Padmé (PURBs §4.1): rounds L up so that only the top ~log2(log2(L)) + 1 bits of the length
 * are significant; at most 12 % overhead, usually far less.
 */
export function padme(length: number): number {
  if (length < 2) return length;
  const e = Math.floor(Math.log2(length));
  const s = Math.floor(Math.log2(e)) + 1;
  const lastBits = e - s;
  const mask = 2 ** lastBits - 1;
  // (L + mask) & ~mask, in floating point because L may exceed 2^31.
  return Math.ceil(length / (mask + 1)) * (mask + 1);
}

function keys(key: Uint8Array): { enc: Uint8Array; prefix: Uint8Array } {
  if (key.length !== 32) throw new CryptoError('E2E_BAD_KEY', 'An attachment key is 32 bytes');
  const okm = hkdfSha256(key, undefined, INFO, 32 + 16);
  return { enc: okm.subarray(0, 32), prefix: okm.subarray(32) };
}

/** STREAM nonce: prefix(16) ‖ index(u32 BE) ‖ last(1) ‖ 0(3). */
function nonce(prefix: Uint8Array, index: number, last: boolean): Uint8Array {
  const n = new Uint8Array(XCHACHA_NONCE_BYTES);
  n.set(prefix, 0);
  new DataView(n.buffer).setUint32(16, index);
  n[20] = last ? 1 : 0;
  return n;
}

/** Progress of a long encryption or decryption, in plaintext bytes. */
export type AttachmentProgress = (done: number, total: number) => void;

/**
 * The encryption as steps, one per chunk, so a caller can pause between chunks (a page keeps
 * drawing its progress bar) or run them all at once. The digest is computed as the chunks are
 * sealed (SHA-256 is incremental), so the blob is read once.
 */
function* encryptSteps(
  plaintext: Uint8Array,
  opts: { randomBytes: RandomBytes; chunkBytes?: number },
): Generator<number, { blob: Uint8Array; secrets: AttachmentSecrets }> {
  if (plaintext.length > ATTACHMENT_MAX_BYTES) {
    throw new CryptoError('E2E_BAD_MESSAGE', `A file may be at most ${ATTACHMENT_MAX_BYTES} bytes`);
  }
  const chunkBytes = opts.chunkBytes ?? ATTACHMENT_CHUNK_BYTES;
  const key = opts.randomBytes(32);
  const { enc, prefix } = keys(key);
  const padded = padme(Math.max(plaintext.length, 1));
  const chunks = Math.ceil(padded / chunkBytes);
  const blob = new Uint8Array(HEADER_BYTES + padded + chunks * AEAD_TAG_BYTES);
  blob[0] = ATTACHMENT_VERSION;
  new DataView(blob.buffer).setUint32(1, chunkBytes);
  const hash = sha256.create().update(blob.subarray(0, HEADER_BYTES));
  const source = new Uint8Array(padded);
  source.set(plaintext);
  let out = HEADER_BYTES;
  for (let i = 0; i < chunks; i++) {
    const piece = source.subarray(i * chunkBytes, Math.min(padded, (i + 1) * chunkBytes));
    const sealed = aeadEncrypt(enc, nonce(prefix, i, i === chunks - 1), piece, new Uint8Array(0));
    blob.set(sealed, out);
    hash.update(sealed);
    out += sealed.length;
    yield Math.min(plaintext.length, (i + 1) * chunkBytes);
  }
  return { blob, secrets: { key, digest: hash.digest(), size: plaintext.length } };
}

/** Encrypts a whole file; returns the blob to upload and what the message carries. */
export function encryptAttachment(
  plaintext: Uint8Array,
  opts: { randomBytes: RandomBytes; chunkBytes?: number },
): { blob: Uint8Array; secrets: AttachmentSecrets } {
  return drain(encryptSteps(plaintext, opts));
}

/**
 * encryptAttachment for a page: reports progress and awaits `pause()` every `every` chunks
 * (1 MiB by default), so the event loop runs while a large file is encrypted. Same blob format.
 */
export function encryptAttachmentAsync(
  plaintext: Uint8Array,
  opts: { randomBytes: RandomBytes; onProgress?: AttachmentProgress; pause: () => Promise<void>; every?: number },
): Promise<{ blob: Uint8Array; secrets: AttachmentSecrets }> {
  return drainAsync(encryptSteps(plaintext, opts), plaintext.length, opts);
}

/**
 * Checks the blob against the digest from the message (E2E_DECRYPT_FAILED on a mismatch: the
 * server or the network changed it), then decrypts every chunk in order and returns the file.
 * A reordered, dropped or truncated chunk fails its tag; a file that does not end on a chunk
 * marked last is refused. Steps: the digest first (nothing is decrypted before it matches), then
 * one step per chunk.
 */
function* decryptSteps(blob: Uint8Array, secrets: AttachmentSecrets): Generator<number, Uint8Array> {
  const hash = sha256.create();
  const step = 16 * ATTACHMENT_CHUNK_BYTES;
  for (let at = 0; at < blob.length; at += step) {
    hash.update(blob.subarray(at, Math.min(blob.length, at + step)));
    yield 0;
  }
  if (secrets.digest.length !== 32 || !equalBytes(hash.digest(), secrets.digest)) {
    throw new CryptoError('E2E_DECRYPT_FAILED', 'The attachment does not match its digest');
  }
  if (blob.length < HEADER_BYTES || blob[0] !== ATTACHMENT_VERSION) {
    throw new CryptoError('E2E_BAD_MESSAGE', 'Unknown attachment format');
  }
  const chunkBytes = new DataView(blob.buffer, blob.byteOffset).getUint32(1);
  if (chunkBytes < 1 || chunkBytes > 16 * 1024 * 1024) throw new CryptoError('E2E_BAD_MESSAGE', 'Bad chunk size');
  const sealedBytes = chunkBytes + AEAD_TAG_BYTES;
  const body = blob.subarray(HEADER_BYTES);
  const chunks = Math.ceil(body.length / sealedBytes);
  if (chunks === 0) throw new CryptoError('E2E_BAD_MESSAGE', 'Empty attachment');
  const plainBytes = body.length - chunks * AEAD_TAG_BYTES;
  if (secrets.size > plainBytes || secrets.size < 0) throw new CryptoError('E2E_BAD_MESSAGE', 'Bad attachment size');
  const { enc, prefix } = keys(secrets.key);
  const out = new Uint8Array(plainBytes);
  for (let i = 0; i < chunks; i++) {
    const sealed = body.subarray(i * sealedBytes, Math.min(body.length, (i + 1) * sealedBytes));
    if (sealed.length <= AEAD_TAG_BYTES) throw new CryptoError('E2E_DECRYPT_FAILED', 'Truncated attachment');
    out.set(aeadDecrypt(enc, nonce(prefix, i, i === chunks - 1), sealed, new Uint8Array(0)), i * chunkBytes);
    yield Math.min(secrets.size, (i + 1) * chunkBytes);
  }
  return out.subarray(0, secrets.size);
}

export function decryptAttachment(blob: Uint8Array, secrets: AttachmentSecrets): Uint8Array {
  return drain(decryptSteps(blob, secrets));
}

/** decryptAttachment for a page: progress, and a pause every `every` steps (see encryptAttachmentAsync). */
export function decryptAttachmentAsync(
  blob: Uint8Array,
  secrets: AttachmentSecrets,
  opts: { onProgress?: AttachmentProgress; pause: () => Promise<void>; every?: number },
): Promise<Uint8Array> {
  return drainAsync(decryptSteps(blob, secrets), secrets.size, opts);
}

function drain<T>(steps: Generator<number, T>): T {
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

async function drainAsync<T>(
  steps: Generator<number, T>,
  total: number,
  opts: { onProgress?: AttachmentProgress; pause: () => Promise<void>; every?: number },
): Promise<T> {
  const every = opts.every ?? 16;
  for (let n = 1; ; n++) {
    const r = steps.next();
    if (r.done) return r.value;
    if (r.value > 0) opts.onProgress?.(r.value, total);
    if (n % every === 0) await opts.pause();
  }
}

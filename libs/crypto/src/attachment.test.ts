import { sha256 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import {
  ATTACHMENT_CHUNK_BYTES,
  ATTACHMENT_MAX_BYTES,
  attachmentBlobBytes,
  decryptAttachment,
  decryptAttachmentAsync,
  encryptAttachment,
  encryptAttachmentAsync,
  padme,
} from './attachment.js';
import { isCryptoError } from './errors.js';

const rng = (n: number) => crypto.getRandomValues(new Uint8Array(n));
const file = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65_536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65_536)));
  return b;
};
const refused = (f: () => unknown, code: string) => {
  try {
    f();
  } catch (e) {
    expect(isCryptoError(e), String(e)).toBe(true);
    expect((e as { code: string }).code).toBe(code);
    return;
  }
  throw new Error('not refused');
};

describe('attachments (chunked STREAM over XChaCha20-Poly1305, digest of the ciphertext)', () => {
  it('round-trips files of every shape: empty, one byte, a chunk exactly, several chunks, uneven', () => {
    for (const n of [0, 1, 100, ATTACHMENT_CHUNK_BYTES - 1, ATTACHMENT_CHUNK_BYTES, 3 * ATTACHMENT_CHUNK_BYTES + 17]) {
      const pt = file(n);
      const { blob, secrets } = encryptAttachment(pt, { randomBytes: rng });
      expect(secrets.size).toBe(n);
      expect(blob.length).toBe(attachmentBlobBytes(n));
      expect(decryptAttachment(blob, secrets)).toEqual(pt);
    }
  });

  it('uses a fresh key per file: the same file encrypts to unrelated blobs', () => {
    const pt = file(1000);
    const a = encryptAttachment(pt, { randomBytes: rng });
    const b = encryptAttachment(pt, { randomBytes: rng });
    expect(a.secrets.key).not.toEqual(b.secrets.key);
    expect(a.blob).not.toEqual(b.blob);
  });

  it('pads to a Padmé length so the stored size says little (at most 12 % more)', () => {
    expect(padme(1)).toBe(1);
    expect(padme(1000)).toBe(1024);
    expect(padme(1_000_000)).toBe(1_015_808);
    for (const n of [9, 77, 5000, 123_456, 10_000_000]) {
      expect(padme(n)).toBeGreaterThanOrEqual(n);
      expect(padme(n) / n).toBeLessThan(1.12);
    }
    // Files of nearby sizes share one stored size.
    expect(attachmentBlobBytes(1_000_001)).toBe(attachmentBlobBytes(1_010_000));
  });

  it('refuses a blob the server changed, swapped, reordered or truncated, and a wrong key', () => {
    const pt = file(3 * ATTACHMENT_CHUNK_BYTES);
    const { blob, secrets } = encryptAttachment(pt, { randomBytes: rng });
    const flipped = blob.slice();
    flipped[100] = flipped[100]! ^ 1;
    refused(() => decryptAttachment(flipped, secrets), 'E2E_DECRYPT_FAILED');
    const other = encryptAttachment(file(10), { randomBytes: rng });
    refused(() => decryptAttachment(other.blob, secrets), 'E2E_DECRYPT_FAILED');
    // Even with a digest that matches (a sender who lies to itself), the STREAM nonces catch
    // reordering and truncation.
    const sealed = ATTACHMENT_CHUNK_BYTES + 16;
    const swapped = blob.slice();
    swapped.set(blob.subarray(5, 5 + sealed), 5 + sealed);
    swapped.set(blob.subarray(5 + sealed, 5 + 2 * sealed), 5);
    refused(() => decryptAttachment(swapped, { ...secrets, digest: digestOf(swapped) }), 'E2E_DECRYPT_FAILED');
    const cut = blob.subarray(0, 5 + 2 * sealed);
    refused(() => decryptAttachment(cut, { ...secrets, size: 10, digest: digestOf(cut) }), 'E2E_DECRYPT_FAILED');
    refused(() => decryptAttachment(blob, { ...secrets, key: rng(32) }), 'E2E_DECRYPT_FAILED');
    refused(() => decryptAttachment(blob, { ...secrets, size: blob.length }), 'E2E_BAD_MESSAGE');
  });

  it('refuses a file over the limit before doing any work', () => {
    const big = { length: ATTACHMENT_MAX_BYTES + 1 } as Uint8Array;
    refused(() => encryptAttachment(big, { randomBytes: rng }), 'E2E_BAD_MESSAGE');
  });

  it('encrypts and decrypts step by step with progress and pauses, in the same format as the one-shot calls', async () => {
    // Nine chunks and a pause every four: the steps, not the size, are under test (40 chunks of pure-JS
    // XChaCha20 took 44 s on a loaded CI machine and ran into the test timeout).
    const f = file(ATTACHMENT_CHUNK_BYTES * 9 + 123);
    const progress: number[] = [];
    let pauses = 0;
    const pause = async () => {
      pauses++;
    };
    const sealed = await encryptAttachmentAsync(f, {
      randomBytes: rng,
      onProgress: (d) => progress.push(d),
      pause,
      every: 4,
    });
    // One progress report per chunk, growing to the file's size; a pause every 4 chunks.
    expect(progress.at(-1)).toBe(f.length);
    expect(progress.every((d, i) => i === 0 || d > progress[i - 1]!)).toBe(true);
    expect(pauses).toBeGreaterThanOrEqual(2);
    expect(sealed.secrets.digest).toEqual(digestOf(sealed.blob));
    expect(decryptAttachment(sealed.blob, sealed.secrets)).toEqual(f);
    const back: number[] = [];
    const opened = await decryptAttachmentAsync(sealed.blob, sealed.secrets, {
      onProgress: (d) => back.push(d),
      pause,
      every: 4,
    });
    expect(opened).toEqual(f);
    expect(back.at(-1)).toBe(f.length);
    // A changed byte is refused before anything is decrypted: no progress reported.
    const bad = sealed.blob.slice();
    bad[bad.length - 1]! ^= 1;
    const none: number[] = [];
    await expect(
      decryptAttachmentAsync(bad, sealed.secrets, { onProgress: (d) => none.push(d), pause, every: 4 }),
    ).rejects.toMatchObject({ code: 'E2E_DECRYPT_FAILED' });
    expect(none).toEqual([]);
  });
});

function digestOf(b: Uint8Array): Uint8Array {
  return sha256(b);
}

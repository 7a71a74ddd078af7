/**
 * Memo of signatures that verified. Ed25519 verification is deterministic, so a (public key,
 * message, signature) triple that verified once verifies forever: a re-fetched bundle whose device
 * list, device key and signed prekey did not change costs one verification (its fresh one-time
 * prekey) instead of four. Only successes are remembered, keyed by SHA-256 of the whole triple
 * (length-prefixed), so nothing unverified can ever be served from here.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concat, u32be } from './encoding.js';
import type { Primitives } from './primitives/types.js';

/** Bounded so memory stays small (~100 bytes an entry); oldest forgotten first. */
export const VERIFY_CACHE_SIZE = 4096;

const verified = new Map<string, true>();

function keyOf(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): string {
  const d = sha256(concat(publicKey, signature, u32be(message.length), message));
  return String.fromCharCode(...d);
}

export async function verifyCached(
  prims: Primitives,
  publicKey: Uint8Array,
  message: Uint8Array,
  signature: Uint8Array,
): Promise<boolean> {
  const k = keyOf(publicKey, message, signature);
  if (verified.has(k)) return true;
  const ok = await prims.ed25519Verify(publicKey, message, signature);
  if (ok) {
    verified.set(k, true);
    if (verified.size > VERIFY_CACHE_SIZE) verified.delete(verified.keys().next().value!);
  }
  return ok;
}

/** Forget everything (benchmarks measure cold verification with it). */
export function clearVerifyCache(): void {
  verified.clear();
}

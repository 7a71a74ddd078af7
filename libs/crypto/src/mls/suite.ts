/**
 * The one MLS ciphersuite Hush uses, with the caller's randomness plugged in.
 *
 * MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (RFC 9420 §17.1, id 0x0001) is the suite every
 * implementation must support, and it runs on WebCrypto in Node 20 and current browsers (X25519,
 * Ed25519, AES-GCM, SHA-256), so ts-mls needs no optional peer packages for it.
 */
import { type CiphersuiteImpl, getCiphersuiteFromName, getCiphersuiteImpl } from 'ts-mls';
import type { RandomBytes } from '../primitives/types.js';

export const MLS_CIPHERSUITE = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519' as const;

/**
 * The ciphersuite implementation with `randomBytes` as its generator (ts-mls draws init, leaf and
 * path secrets from `rng`). Deviation to know: HPKE encapsulation inside @hpke/core and Ed25519
 * key generation inside WebCrypto use the platform generator, not `randomBytes`.
 */
export async function mlsSuite(randomBytes: RandomBytes): Promise<CiphersuiteImpl> {
  const impl = await getCiphersuiteImpl(getCiphersuiteFromName(MLS_CIPHERSUITE));
  return { ...impl, rng: { randomBytes } };
}

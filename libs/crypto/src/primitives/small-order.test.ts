/**
 * Ed25519 small-order points, as libsodium refuses them (crypto_sign_verify_detached:
 * ge25519_has_small_order on the public key and on R, ge25519_is_canonical on the public key).
 * RFC 8032's cofactorless verification accepts them: with the identity point as public key,
 * R = identity and S = 0 "verify" every message, so anybody could forge for such a key.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hex } from '../../test/helpers.js';
import { isCanonicalEd25519, isSmallOrderEd25519 } from './checks.js';
import { tweetnaclPrimitives, webcryptoPrimitives } from './index.js';
import type { Primitives } from './types.js';

const impls: Primitives[] = [tweetnaclPrimitives(), webcryptoPrimitives()];

/** libsodium's blocklist (crypto_core/ed25519/ref10/ed25519_ref10.c, ge25519_has_small_order). */
const BLOCKLIST = [
  '0000000000000000000000000000000000000000000000000000000000000000', // 0 (order 4)
  '0100000000000000000000000000000000000000000000000000000000000000', // 1 (order 1)
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05', // order 8
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a', // order 8
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p-1 (order 2)
  'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p (= 0, order 4)
  'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f', // p+1 (= 1, order 1)
].map(hex);
/** The same points with the sign bit set (libsodium ignores it in the comparison). */
const signed = (b: Uint8Array) => {
  const c = b.slice();
  c[31]! |= 0x80;
  return c;
};
const IDENTITY = BLOCKLIST[1]!;
const msg = new TextEncoder().encode('transfer everything to mallory');

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const le = (b: Uint8Array) => b.reduceRight((acc, x) => (acc << 8n) | BigInt(x), 0n);
const toLe = (n: bigint) => Uint8Array.from({ length: 32 }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const sha512 = (...parts: Uint8Array[]) => {
  const h = createHash('sha512');
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

/**
 * A signature by the real key whose R is the identity point: S = H(R || A || M) * a mod L
 * satisfies [S]B = R + [H]A in cofactorless verification (RFC 8032 §5.1.7) for any message.
 */
function signatureWithIdentityR(seed: Uint8Array, publicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const h = sha512(seed);
  h[0]! &= 248;
  h[31]! &= 127;
  h[31]! |= 64;
  const a = le(h.subarray(0, 32));
  const k = le(sha512(IDENTITY, publicKey, message)) % L;
  const sig = new Uint8Array(64);
  sig.set(IDENTITY, 0);
  sig.set(toLe((k * a) % L), 32);
  return sig;
}

describe('Ed25519 small-order checks (libsodium)', () => {
  it('flag exactly libsodium’s blocklist, with or without the sign bit, and no ordinary key', async () => {
    for (const b of BLOCKLIST) {
      expect(isSmallOrderEd25519(b)).toBe(true);
      expect(isSmallOrderEd25519(signed(b))).toBe(true);
    }
    const ordinary = await tweetnaclPrimitives().ed25519PublicKey(new Uint8Array(32).fill(7));
    expect(isSmallOrderEd25519(ordinary)).toBe(false);
    expect(isCanonicalEd25519(ordinary)).toBe(true);
    expect(isCanonicalEd25519(hex('efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'))).toBe(false);
  });
});

describe.each(impls.map((p) => [p.name, p] as const))('%s Ed25519 verify', (_name, p) => {
  it('refuses the identity public key with R = identity and S = 0, which would verify any message', async () => {
    const forged = new Uint8Array(64);
    forged.set(IDENTITY, 0);
    expect(await p.ed25519Verify(IDENTITY, msg, forged)).toBe(false);
  });

  it('refuses every small-order public key of the blocklist', async () => {
    for (const key of [...BLOCKLIST, ...BLOCKLIST.map(signed)]) {
      const sig = new Uint8Array(64);
      sig.set(key, 0);
      expect(await p.ed25519Verify(key, msg, sig)).toBe(false);
    }
  });

  it('refuses a signature whose R has small order, though the key is real and the equation holds', async () => {
    const seed = new Uint8Array(32).fill(11);
    const publicKey = await p.ed25519PublicKey(seed);
    const sig = signatureWithIdentityR(seed, publicKey, msg);
    expect(await p.ed25519Verify(publicKey, msg, sig)).toBe(false);
    // The real signature of the same key and message still verifies.
    expect(await p.ed25519Verify(publicKey, msg, await p.ed25519Sign({ seed, publicKey }, msg))).toBe(true);
  });

  it('refuses a public key whose y is not below p (non-canonical encoding)', async () => {
    const key = hex('efffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'); // p + 2
    expect(await p.ed25519Verify(key, msg, new Uint8Array(64))).toBe(false);
  });
});

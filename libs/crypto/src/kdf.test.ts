/**
 * KDF and AEAD against published vectors: RFC 5869 (HKDF-SHA-256, embedded) and Wycheproof
 * hkdf_sha256, hmac_sha256, xchacha20_poly1305 (vendored in test/vectors/wycheproof).
 */
import { describe, expect, it } from 'vitest';
import { hex, loadWycheproof } from '../test/helpers.js';
import { aeadDecrypt, aeadEncrypt } from './aead.js';
import { toHex } from './encoding.js';
import { isCryptoError } from './errors.js';
import { hkdfSha256, hmacSha256, kdfChain, kdfRoot } from './kdf.js';

const range = (a: number, b: number) => Uint8Array.from({ length: b - a + 1 }, (_, i) => a + i);

describe('HKDF-SHA-256', () => {
  it('matches RFC 5869 test case 1 (basic)', () => {
    const okm = hkdfSha256(new Uint8Array(22).fill(0x0b), range(0x00, 0x0c), range(0xf0, 0xf9), 42);
    expect(toHex(okm)).toBe('3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865');
  });

  it('matches RFC 5869 test case 2 (long inputs)', () => {
    const okm = hkdfSha256(range(0x00, 0x4f), range(0x60, 0xaf), range(0xb0, 0xff), 82);
    expect(toHex(okm)).toBe(
      'b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87',
    );
  });

  it('matches RFC 5869 test case 3 (empty salt and info)', () => {
    const okm = hkdfSha256(new Uint8Array(22).fill(0x0b), undefined, new Uint8Array(0), 42);
    expect(toHex(okm)).toBe('8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8');
  });

  it('matches every valid Wycheproof hkdf_sha256 case and refuses every invalid one', () => {
    let valid = 0;
    let invalid = 0;
    for (const g of loadWycheproof('hkdf_sha256')) {
      for (const t of g.tests) {
        const run = () =>
          hkdfSha256(hex(t.ikm as string), hex(t.salt as string), hex(t.info as string), t.size as number);
        if (t.result === 'valid') {
          expect(toHex(run()), `tc ${t.tcId}`).toBe(t.okm);
          valid++;
        } else {
          expect(run, `tc ${t.tcId}`).toThrow();
          invalid++;
        }
      }
    }
    expect([valid, invalid]).toEqual([83, 3]);
  });
});

describe('HMAC-SHA-256', () => {
  it('matches every valid Wycheproof hmac_sha256 tag and rejects every modified one', () => {
    let valid = 0;
    let invalid = 0;
    for (const g of loadWycheproof('hmac_sha256')) {
      const tagBytes = (g.tagSize as number) / 8;
      for (const t of g.tests) {
        const tag = toHex(hmacSha256(hex(t.key as string), hex(t.msg as string)).subarray(0, tagBytes));
        if (t.result === 'valid') {
          expect(tag, `tc ${t.tcId}`).toBe(t.tag);
          valid++;
        } else {
          expect(tag, `tc ${t.tcId}`).not.toBe(t.tag);
          invalid++;
        }
      }
    }
    expect([valid, invalid]).toEqual([66, 108]);
  });
});

describe('XChaCha20-Poly1305', () => {
  it('matches every valid Wycheproof case and refuses every invalid one with E2E_DECRYPT_FAILED', () => {
    let valid = 0;
    let invalid = 0;
    for (const g of loadWycheproof('xchacha20_poly1305')) {
      for (const t of g.tests) {
        const key = hex(t.key as string);
        const iv = hex(t.iv as string);
        const aad = hex(t.aad as string);
        const sealed = hex(`${t.ct as string}${t.tag as string}`);
        if (t.result === 'valid') {
          expect(toHex(aeadEncrypt(key, iv, hex(t.msg as string), aad)), `tc ${t.tcId}`).toBe(toHex(sealed));
          expect(toHex(aeadDecrypt(key, iv, sealed, aad)), `tc ${t.tcId}`).toBe(t.msg);
          valid++;
        } else {
          let err: unknown;
          try {
            aeadDecrypt(key, iv, sealed, aad);
          } catch (e) {
            err = e;
          }
          expect(isCryptoError(err, 'E2E_DECRYPT_FAILED'), `tc ${t.tcId} ${t.flags}`).toBe(true);
          invalid++;
        }
      }
    }
    expect([valid, invalid]).toEqual([246, 69]);
  });
});

describe('Double Ratchet KDFs', () => {
  it('derive distinct root, chain and message keys (Double Ratchet §5.2)', () => {
    const rk = new Uint8Array(32).fill(1);
    const { rootKey, chainKey } = kdfRoot(rk, new Uint8Array(32).fill(2));
    const step = kdfChain(chainKey);
    const all = [rk, rootKey, chainKey, step.chainKey, step.messageKey].map(toHex);
    expect(new Set(all).size).toBe(5);
    // KDF_CK is HMAC(ck, 0x01) / HMAC(ck, 0x02), as the spec recommends.
    expect(toHex(step.messageKey)).toBe(toHex(hmacSha256(chainKey, new Uint8Array([1]))));
    expect(toHex(step.chainKey)).toBe(toHex(hmacSha256(chainKey, new Uint8Array([2]))));
  });
});

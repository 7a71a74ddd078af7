/**
 * Published vectors for both primitive implementations: RFC 7748 (X25519), RFC 8032 (Ed25519) and
 * Wycheproof x25519 / ed25519 (vendored in test/vectors/wycheproof). Then: both implementations are
 * byte-identical on random inputs and refuse the same bad inputs.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hex, loadWycheproof } from '../../test/helpers.js';
import { isCryptoError } from '../errors.js';
import { isLowOrderX25519 } from './checks.js';
import { createPrimitives, tweetnaclPrimitives, webcryptoPrimitives } from './index.js';
import type { Primitives } from './types.js';

const impls: Primitives[] = [tweetnaclPrimitives(), webcryptoPrimitives()];
/** The key pair object the interface wants, its public half computed by the implementation under test. */
const pairOf = async (p: Primitives, privateKey: Uint8Array) => ({
  privateKey,
  publicKey: await p.x25519PublicKey(privateKey),
});
const edPair = async (p: Primitives, seed: Uint8Array) => ({ seed, publicKey: await p.ed25519PublicKey(seed) });
const toHex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');

const x25519Groups = loadWycheproof('x25519');
const ed25519Groups = loadWycheproof('ed25519');

describe.each(impls.map((p) => [p.name, p] as const))('%s primitives', (_name, p) => {
  it('match the RFC 7748 §5.2 scalar-multiplication vectors', async () => {
    expect(
      toHex(
        await p.x25519(
          await pairOf(p, hex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4')),
          hex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'),
        ),
      ),
    ).toBe('c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552');
  });

  it('match the RFC 7748 §5.2 iterated vector after 1 and 1000 iterations', async () => {
    let k = hex('0900000000000000000000000000000000000000000000000000000000000000');
    let u = k;
    for (let i = 1; i <= 1000; i++) {
      const r = await p.x25519(await pairOf(p, k), u);
      u = k;
      k = r;
      if (i === 1) expect(toHex(k)).toBe('422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079');
    }
    expect(toHex(k)).toBe('684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51');
  });

  it('match the RFC 7748 §6.1 Diffie-Hellman example', async () => {
    const a = hex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const b = hex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    const A = await p.x25519PublicKey(a);
    const B = await p.x25519PublicKey(b);
    expect(toHex(A)).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(B)).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const k = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(toHex(await p.x25519({ privateKey: a, publicKey: A }, B))).toBe(k);
    expect(toHex(await p.x25519({ privateKey: b, publicKey: B }, A))).toBe(k);
  });

  it.each([
    [
      '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
      '',
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
    ],
    [
      '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
      '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
      '72',
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
    ],
    [
      'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
      'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
      'af82',
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
    ],
  ])('match RFC 8032 §7.1 Ed25519 test vector with seed %s', async (seed, pub, msg, sig) => {
    expect(toHex(await p.ed25519PublicKey(hex(seed)))).toBe(pub);
    expect(toHex(await p.ed25519Sign(await edPair(p, hex(seed)), hex(msg)))).toBe(sig);
    expect(await p.ed25519Verify(hex(pub), hex(msg), hex(sig))).toBe(true);
    const bad = hex(sig);
    bad[0]! ^= 1;
    expect(await p.ed25519Verify(hex(pub), hex(msg), bad)).toBe(false);
  });

  it('agree with every Wycheproof x25519 case and refuse every low-order public key', async () => {
    let valid = 0;
    let refused = 0;
    for (const g of x25519Groups) {
      for (const t of g.tests) {
        const priv = hex(t.private as string);
        const pub = hex(t.public as string);
        const zero = /^0+$/.test(t.shared as string);
        let out: Uint8Array | undefined;
        let err: unknown;
        try {
          out = await p.x25519(await pairOf(p, priv), pub);
        } catch (e) {
          err = e;
        }
        if (zero) {
          // ZeroSharedSecret / LowOrderPublic: must be refused with the typed error.
          expect(isCryptoError(err, 'E2E_LOW_ORDER_KEY'), `tc ${t.tcId}`).toBe(true);
          expect(isLowOrderX25519(pub), `tc ${t.tcId}`).toBe(true);
          refused++;
        } else {
          // valid and the other "acceptable" cases (twist, non-canonical u): the RFC 7748 result.
          expect(err, `tc ${t.tcId} ${t.flags}`).toBeUndefined();
          expect(toHex(out!), `tc ${t.tcId}`).toBe(t.shared);
          expect(isLowOrderX25519(pub), `tc ${t.tcId}`).toBe(false);
          valid++;
        }
      }
    }
    expect(valid + refused).toBe(518);
    expect(refused).toBe(31);
  });

  it('accept every valid and refuse every invalid Wycheproof ed25519 signature (incl. non-canonical S)', async () => {
    const counts = { valid: 0, invalid: 0, malleable: 0 };
    for (const g of ed25519Groups) {
      const pub = hex((g.publicKey as { pk: string }).pk);
      for (const t of g.tests) {
        const ok = await p.ed25519Verify(pub, hex(t.msg as string), hex(t.sig as string));
        expect(ok, `tc ${t.tcId} ${t.comment}`).toBe(t.result === 'valid');
        if (t.result === 'valid') counts.valid++;
        else counts.invalid++;
        if (t.flags.includes('SignatureMalleability')) counts.malleable++;
      }
    }
    expect(counts).toEqual({ valid: 88, invalid: 63, malleable: 8 });
  });

  it('refuse keys of the wrong length with a typed error', async () => {
    const good = await pairOf(p, new Uint8Array(32).fill(1));
    await expect(p.x25519({ ...good, privateKey: new Uint8Array(31) }, good.publicKey)).rejects.toMatchObject({
      code: 'E2E_BAD_KEY',
    });
    await expect(p.x25519(good, new Uint8Array(33))).rejects.toMatchObject({ code: 'E2E_BAD_KEY' });
    await expect(
      p.ed25519Sign({ seed: new Uint8Array(64), publicKey: new Uint8Array(32) }, new Uint8Array(1)),
    ).rejects.toMatchObject({
      code: 'E2E_BAD_KEY',
    });
    expect(await p.ed25519Verify(new Uint8Array(31), new Uint8Array(0), new Uint8Array(64))).toBe(false);
    expect(await p.ed25519Verify(new Uint8Array(32), new Uint8Array(0), new Uint8Array(63))).toBe(false);
  });
});

describe('the two implementations', () => {
  const [nacl, wc] = impls as [Primitives, Primitives];
  const key = fc.uint8Array({ minLength: 32, maxLength: 32 });

  it('give byte-identical X25519 public keys and shared secrets', async () => {
    await fc.assert(
      fc.asyncProperty(key, key, async (a, b) => {
        const [A1, A2] = [await nacl.x25519PublicKey(a), await wc.x25519PublicKey(a)];
        expect(toHex(A2)).toBe(toHex(A1));
        const B = await nacl.x25519PublicKey(b);
        const self = { privateKey: a, publicKey: A1 };
        expect(toHex(await wc.x25519(self, B))).toBe(toHex(await nacl.x25519(self, B)));
      }),
      { numRuns: 40 },
    );
  });

  it('give byte-identical Ed25519 keys and signatures, and each verifies the other', async () => {
    await fc.assert(
      fc.asyncProperty(key, fc.uint8Array({ maxLength: 300 }), async (seed, msg) => {
        const pub = await nacl.ed25519PublicKey(seed);
        expect(toHex(await wc.ed25519PublicKey(seed))).toBe(toHex(pub));
        const s1 = await nacl.ed25519Sign({ seed, publicKey: pub }, msg);
        const s2 = await wc.ed25519Sign({ seed, publicKey: pub }, msg);
        expect(toHex(s2)).toBe(toHex(s1));
        expect(await wc.ed25519Verify(pub, msg, s1)).toBe(true);
        expect(await nacl.ed25519Verify(pub, msg, s2)).toBe(true);
      }),
      { numRuns: 15 },
    );
  });

  it('refuse the same tampered signatures', async () => {
    const seed = new Uint8Array(32).fill(3);
    const msg = new Uint8Array([1, 2, 3]);
    const pub = await nacl.ed25519PublicKey(seed);
    const sig = await nacl.ed25519Sign({ seed, publicKey: pub }, msg);
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 64 * 8 - 1 }), async (bit) => {
        const bad = sig.slice();
        bad[bit >> 3]! ^= 1 << (bit & 7);
        expect(await nacl.ed25519Verify(pub, msg, bad)).toBe(false);
        expect(await wc.ed25519Verify(pub, msg, bad)).toBe(false);
      }),
      { numRuns: 30 },
    );
  });

  it('refuse the same low-order public keys', async () => {
    const self = await pairOf(nacl, new Uint8Array(32).fill(9));
    for (const g of x25519Groups) {
      for (const t of g.tests.filter((t) => t.flags.includes('LowOrderPublic'))) {
        await expect(nacl.x25519(self, hex(t.public as string))).rejects.toMatchObject({ code: 'E2E_LOW_ORDER_KEY' });
        await expect(wc.x25519(self, hex(t.public as string))).rejects.toMatchObject({ code: 'E2E_LOW_ORDER_KEY' });
      }
    }
  });

  it('generate key pairs whose halves belong together', async () => {
    for (const p of impls) {
      const kp = await p.x25519KeyPair(() => new Uint8Array(32).fill(4));
      expect(toHex(await nacl.x25519PublicKey(kp.privateKey))).toBe(toHex(kp.publicKey));
    }
  });

  it('createPrimitives picks WebCrypto on Node 20', async () => {
    expect((await createPrimitives()).name).toBe('webcrypto');
    expect((await createPrimitives({ prefer: 'tweetnacl' })).name).toBe('tweetnacl');
  });
});

/**
 * The fast implementation: the platform's WebCrypto (X25519 and Ed25519 are native in Node 20 and
 * in current Chromium). Raw 32-byte private keys are wrapped in a fixed PKCS#8 prefix to import them
 * (RFC 8410 §7), so results are byte-identical with tweetnacl for the same private bytes.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { CryptoError } from '../errors.js';
import { isAllZero, lowOrder, need32, verifyInputsOk } from './checks.js';
import type { Ed25519KeyPair, Primitives, X25519KeyPair } from './types.js';

// PKCS#8 PrivateKeyInfo header for a 32-byte CurvePrivateKey: OID 1.3.101.110 (X25519), 1.3.101.112 (Ed25519).
const PKCS8_X25519 = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20,
]);
const PKCS8_ED25519 = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);
/** The X25519 base point u = 9 (RFC 7748 §4.1): X25519(k, 9) is k's public key. */
const BASE_POINT = (() => {
  const b = new Uint8Array(32);
  b[0] = 9;
  return b;
})();

/** Bounded cache of imported public keys (identity keys are verified again and again). */
const PUBLIC_KEY_CACHE_SIZE = 512;
/** Bounded cache of imported private keys (device key, signed prekeys, current ratchet keys). */
const PRIVATE_KEY_CACHE_SIZE = 64;

type Bytes = Uint8Array<ArrayBuffer>;
const ab = (u: Uint8Array): Bytes => (u.buffer instanceof ArrayBuffer ? (u as Bytes) : (new Uint8Array(u) as Bytes));

function pkcs8(prefix: Uint8Array, key: Uint8Array): Bytes {
  const out = new Uint8Array(48);
  out.set(prefix, 0);
  out.set(key, 16);
  return out as Bytes;
}

function toB64url(b: Uint8Array): string {
  let bin = '';
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromB64url(s: string): Uint8Array {
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** LRU of import promises, so concurrent uses of one key share a single import. */
class LruKeys {
  private readonly map = new Map<string, Promise<CryptoKey>>();
  get(k: string, load: () => Promise<CryptoKey>): Promise<CryptoKey> {
    let v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
    } else {
      v = load();
      v.catch(() => this.map.delete(k));
    }
    this.map.set(k, v);
    if (this.map.size > PUBLIC_KEY_CACHE_SIZE) this.map.delete(this.map.keys().next().value!);
    return v;
  }
}

const keyString = (b: Uint8Array): string => String.fromCharCode(...b);

export function webcryptoPrimitives(subtle: SubtleCrypto = globalThis.crypto?.subtle): Primitives {
  if (!subtle) throw new CryptoError('E2E_UNSUPPORTED', 'WebCrypto is not available');
  const edPublic = new LruKeys();
  const xPublic = new LruKeys();
  // Private keys are cached by object identity only, so nothing secret becomes a map key.
  const xPrivate = new WeakMap<Uint8Array, CryptoKey>();
  const edPrivate = new WeakMap<Uint8Array, CryptoKey>();
  let basePointKey: Promise<CryptoKey> | undefined;

  /**
   * Imported private keys, found by object identity first, then by their (public) key: stores hand
   * out fresh copies of long-term keys (device key, signed prekey) on every read. The entry keeps a
   * SHA-256 of the private half, never the half itself, to check the copy is the same key.
   */
  const xPrivateByPublic = new Map<string, { digest: string; key: CryptoKey }>();
  const digestOf = (b: Uint8Array) => keyString(sha256(b));
  function remember(self: X25519KeyPair, k: CryptoKey): void {
    xPrivate.set(self.privateKey, k);
    const id = keyString(self.publicKey);
    xPrivateByPublic.delete(id);
    xPrivateByPublic.set(id, { digest: digestOf(self.privateKey), key: k });
    if (xPrivateByPublic.size > PRIVATE_KEY_CACHE_SIZE) xPrivateByPublic.delete(xPrivateByPublic.keys().next().value!);
  }

  /** JWK with d and x: ~7x cheaper than PKCS#8 in Node 20 (which re-parses ASN.1 through OpenSSL decoders). */
  async function importXPrivate(self: X25519KeyPair): Promise<CryptoKey> {
    let k = xPrivate.get(self.privateKey);
    if (k) return k;
    const hit = xPrivateByPublic.get(keyString(self.publicKey));
    if (hit && hit.digest === digestOf(self.privateKey)) {
      xPrivate.set(self.privateKey, hit.key);
      return hit.key;
    }
    const jwk = { kty: 'OKP', crv: 'X25519', d: toB64url(self.privateKey), x: toB64url(self.publicKey) };
    try {
      k = await subtle.importKey('jwk', jwk, { name: 'X25519' }, false, ['deriveBits']);
    } catch (e) {
      throw new CryptoError('E2E_BAD_KEY', 'X25519 key pair does not match', { cause: e });
    }
    remember(self, k);
    return k;
  }
  function importXPublic(pub: Uint8Array): Promise<CryptoKey> {
    return xPublic.get(keyString(pub), () => subtle.importKey('raw', ab(pub), { name: 'X25519' }, false, []));
  }
  async function derive(priv: CryptoKey, pub: CryptoKey): Promise<Uint8Array> {
    let out: Uint8Array;
    try {
      out = new Uint8Array(await subtle.deriveBits({ name: 'X25519', public: pub }, priv, 256));
    } catch (e) {
      // WebCrypto refuses low-order points by throwing (the all-zero result, RFC 7748 §6.1).
      throw new CryptoError('E2E_LOW_ORDER_KEY', undefined, { cause: e });
    }
    if (isAllZero(out)) throw lowOrder();
    return out;
  }
  async function importEdPrivate(key: Ed25519KeyPair): Promise<CryptoKey> {
    let k = edPrivate.get(key.seed);
    if (!k) {
      const jwk = { kty: 'OKP', crv: 'Ed25519', d: toB64url(key.seed), x: toB64url(key.publicKey) };
      try {
        k = await subtle.importKey('jwk', jwk, { name: 'Ed25519' }, false, ['sign']);
      } catch (e) {
        throw new CryptoError('E2E_BAD_KEY', 'Ed25519 key pair does not match', { cause: e });
      }
      edPrivate.set(key.seed, k);
    }
    return k;
  }

  let prefetched: Promise<X25519KeyPair> | undefined;
  async function generate(): Promise<X25519KeyPair> {
    const kp = (await subtle.generateKey({ name: 'X25519' }, true, ['deriveBits'])) as CryptoKeyPair;
    const jwk = await subtle.exportKey('jwk', kp.privateKey);
    const pair = { privateKey: fromB64url(jwk.d!), publicKey: fromB64url(jwk.x!) };
    remember(pair, kp.privateKey);
    return pair;
  }

  return {
    name: 'webcrypto',
    async x25519PublicKey(privateKey) {
      need32('X25519 private key', privateKey);
      basePointKey ??= subtle.importKey('raw', ab(BASE_POINT), { name: 'X25519' }, false, []);
      const priv = await subtle.importKey('pkcs8', pkcs8(PKCS8_X25519, privateKey), { name: 'X25519' }, false, [
        'deriveBits',
      ]);
      return derive(priv, await basePointKey);
    },
    async x25519KeyPair() {
      // One pair is generated ahead, so the next ratchet step finds it ready (generation runs on
      // WebCrypto's worker threads while we do other work).
      const pair = await (prefetched ?? generate());
      prefetched = generate();
      prefetched.catch(() => undefined);
      return pair;
    },
    async x25519(self, publicKey) {
      need32('X25519 private key', self.privateKey);
      need32('X25519 public key', self.publicKey);
      need32('X25519 public key', publicKey);
      let pub: CryptoKey;
      try {
        pub = await importXPublic(publicKey);
      } catch (e) {
        throw new CryptoError('E2E_LOW_ORDER_KEY', undefined, { cause: e });
      }
      return derive(await importXPrivate(self), pub);
    },
    async ed25519PublicKey(seed) {
      need32('Ed25519 seed', seed);
      const k = await subtle.importKey('pkcs8', pkcs8(PKCS8_ED25519, seed), { name: 'Ed25519' }, true, ['sign']);
      const jwk = await subtle.exportKey('jwk', k);
      return fromB64url(jwk.x!);
    },
    async ed25519Sign(key, message) {
      need32('Ed25519 seed', key.seed);
      need32('Ed25519 public key', key.publicKey);
      return new Uint8Array(await subtle.sign({ name: 'Ed25519' }, await importEdPrivate(key), ab(message)));
    },
    async ed25519Verify(publicKey, message, signature) {
      if (!verifyInputsOk(publicKey, signature)) return false;
      try {
        const k = await edPublic.get(keyString(publicKey), () =>
          subtle.importKey('raw', ab(publicKey), { name: 'Ed25519' }, false, ['verify']),
        );
        return await subtle.verify({ name: 'Ed25519' }, k, ab(signature), ab(message));
      } catch {
        return false;
      }
    },
  };
}

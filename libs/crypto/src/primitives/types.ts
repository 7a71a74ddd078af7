/**
 * The small set of public-key primitives the protocol needs, behind one interface with two
 * implementations: WebCrypto (native, fast, in Node 20 and current browsers) and tweetnacl
 * (portable fallback). Both must give byte-identical results (X25519 and Ed25519 are
 * deterministic) and refuse the same bad inputs; `primitives.test.ts` proves it on published
 * vectors. Async throughout because WebCrypto is.
 */
export interface Primitives {
  readonly name: 'webcrypto' | 'tweetnacl';
  /** X25519 public key for a 32-byte private key (clamped as RFC 7748 §5 says). */
  x25519PublicKey(privateKey: Uint8Array): Promise<Uint8Array>;
  /**
   * A fresh X25519 key pair. tweetnacl draws the private key from `randomBytes`; WebCrypto uses the
   * platform generator (`generateKey`) instead, because turning caller-supplied bytes into a
   * WebCrypto key needs a PKCS#8 import that costs ~1 ms (vs ~0.15 ms), on every ratchet step.
   */
  x25519KeyPair(randomBytes: RandomBytes): Promise<X25519KeyPair>;
  /**
   * X25519(self.privateKey, publicKey) (RFC 7748 §6.1). `self` carries its public key too, so
   * WebCrypto can import it cheaply (JWK d+x). Throws CryptoError E2E_LOW_ORDER_KEY when the result
   * is all zero (the peer sent a low-order point), as RFC 7748 §6.1 allows.
   */
  x25519(self: X25519KeyPair, publicKey: Uint8Array): Promise<Uint8Array>;
  /** Ed25519 public key for a 32-byte seed (RFC 8032 §5.1.5). */
  ed25519PublicKey(seed: Uint8Array): Promise<Uint8Array>;
  /** Ed25519 signature (RFC 8032 §5.1.6); deterministic. `key.publicKey` must belong to `key.seed`. */
  ed25519Sign(key: Ed25519KeyPair, message: Uint8Array): Promise<Uint8Array>;
  /**
   * Ed25519 verification (RFC 8032 §5.1.7). Returns false, never throws, for any malformed input:
   * wrong lengths, S >= L (non-canonical, malleable), or an undecodable point.
   */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean>;
}

export interface X25519KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

export interface Ed25519KeyPair {
  publicKey: Uint8Array;
  /** RFC 8032 32-byte private seed. */
  seed: Uint8Array;
}

/** Randomness is a parameter everywhere (tests pass a seeded generator). */
export type RandomBytes = (n: number) => Uint8Array;
/** Time is a parameter too: Unix milliseconds. */
export type Now = () => number;

/**
 * The portable implementation: tweetnacl, plus the checks it lacks (its scalarMult returns all
 * zeros for a low-order public key without throwing, and its verify accepts a non-canonical S).
 */
import nacl from 'tweetnacl';
import { isAllZero, lowOrder, need32, verifyInputsOk } from './checks.js';
import type { Primitives } from './types.js';

export function tweetnaclPrimitives(): Primitives {
  return {
    name: 'tweetnacl',
    async x25519PublicKey(privateKey) {
      need32('X25519 private key', privateKey);
      return nacl.scalarMult.base(privateKey);
    },
    async x25519KeyPair(randomBytes) {
      const privateKey = randomBytes(32);
      need32('X25519 private key', privateKey);
      return { privateKey, publicKey: nacl.scalarMult.base(privateKey) };
    },
    async x25519(self, publicKey) {
      need32('X25519 private key', self.privateKey);
      need32('X25519 public key', publicKey);
      // tweetnacl returns all zeros for low-order points and does not throw: check it ourselves.
      const out = nacl.scalarMult(self.privateKey, publicKey);
      if (isAllZero(out)) throw lowOrder();
      return out;
    },
    async ed25519PublicKey(seed) {
      need32('Ed25519 seed', seed);
      return nacl.sign.keyPair.fromSeed(seed).publicKey;
    },
    async ed25519Sign(key, message) {
      need32('Ed25519 seed', key.seed);
      const kp = nacl.sign.keyPair.fromSeed(key.seed);
      const sig = nacl.sign.detached(message, kp.secretKey);
      kp.secretKey.fill(0);
      return sig;
    },
    async ed25519Verify(publicKey, message, signature) {
      if (!verifyInputsOk(publicKey, signature)) return false;
      try {
        return nacl.sign.detached.verify(message, signature, publicKey);
      } catch {
        return false;
      }
    },
  };
}

import { tweetnaclPrimitives } from './tweetnacl.js';
import type { Primitives } from './types.js';
import { webcryptoPrimitives } from './webcrypto.js';

export type { Ed25519KeyPair, Now, Primitives, RandomBytes, X25519KeyPair } from './types.js';
export { tweetnaclPrimitives, webcryptoPrimitives };

const same = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/**
 * Picks WebCrypto when the platform really has X25519 and Ed25519 (feature-detected by running
 * each operation once and comparing with tweetnacl, including the refusal of a low-order key),
 * else tweetnacl.
 */
export async function createPrimitives(opts?: { prefer?: 'webcrypto' | 'tweetnacl' }): Promise<Primitives> {
  const nacl = tweetnaclPrimitives();
  if (opts?.prefer === 'tweetnacl') return nacl;
  try {
    const wc = webcryptoPrimitives();
    const k = new Uint8Array(32).fill(7);
    const msg = new Uint8Array([1, 2, 3]);
    const pub = await nacl.ed25519PublicKey(k);
    const sig = await wc.ed25519Sign({ seed: k, publicKey: pub }, msg);
    const pair = await wc.x25519KeyPair(defaultRandomBytes);
    const peer = { privateKey: k, publicKey: await nacl.x25519PublicKey(k) };
    const ok =
      same(sig, await nacl.ed25519Sign({ seed: k, publicKey: pub }, msg)) &&
      (await wc.ed25519Verify(pub, msg, sig)) &&
      same(await wc.x25519(pair, peer.publicKey), await nacl.x25519(peer, pair.publicKey)) &&
      (await wc.x25519(pair, new Uint8Array(32)).then(
        () => false,
        () => true,
      ));
    if (ok) return wc;
  } catch {
    // fall through to the portable implementation
  }
  return nacl;
}

/** Default randomness for callers: the platform CSPRNG (Node 20 and browsers). */
export function defaultRandomBytes(n: number): Uint8Array {
  const out = new Uint8Array(n);
  for (let o = 0; o < n; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(n, o + 65536)));
  return out;
}

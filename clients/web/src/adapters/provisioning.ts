import {
  decodeLinkCode,
  decodeOpening,
  defaultRandomBytes,
  encodeLinkCode,
  encodeOpening,
  fromBase64,
  newChannelId,
  openProvisioningChannel,
  PROVISIONING_VERSION,
  type Primitives,
  type ProvisioningCipher,
  toBase64,
} from '@hush/crypto';
import type { LinkCipher, LinkJoin, LinkStart } from '../engine/ports.js';

/** The engine's view of a provisioning channel: bodies in base64 as the relay carries them. */
function wrap(c: ProvisioningCipher): LinkCipher {
  return {
    code: c.code,
    seal: (pt) => toBase64(c.seal(pt)),
    open: (body) => c.open(fromBase64(body)),
    destroy: () => c.destroy(),
  };
}

/**
 * The provisioning half of CryptoPort over libs/crypto's provisioning cipher (ephemeral X25519 +
 * HKDF + XChaCha20-Poly1305; PROTOCOL.md §10). Ephemeral keys live only in this closure.
 */
export function provisioningMethods(prims: Promise<Primitives>) {
  return {
    async linkStart(userId: string): Promise<LinkStart> {
      const p = await prims;
      const kp = await p.x25519KeyPair(defaultRandomBytes);
      const channel = newChannelId(defaultRandomBytes);
      const code = encodeLinkCode({
        version: PROVISIONING_VERSION,
        userId,
        channelId: channel,
        publicKey: kp.publicKey,
      });
      return {
        code,
        channel,
        async accept(opening: string) {
          const { oldPublic, sealed } = decodeOpening(fromBase64(opening));
          const c = await openProvisioningChannel(p, kp, oldPublic, 'new', channel, defaultRandomBytes);
          return { cipher: wrap(c), first: c.open(sealed) };
        },
      };
    },

    async linkJoin(text: string, first: Uint8Array, userId: string): Promise<LinkJoin> {
      const p = await prims;
      const code = decodeLinkCode(text);
      // Another account's code (someone sent theirs): refused before any key is derived.
      if (code.userId !== userId) {
        throw new Error('This link code belongs to another account. Sign in with this account on the new device.');
      }
      const kp = await p.x25519KeyPair(defaultRandomBytes);
      const c = await openProvisioningChannel(p, kp, code.publicKey, 'old', code.channelId, defaultRandomBytes);
      return {
        userId: code.userId,
        channel: code.channelId,
        cipher: wrap(c),
        opening: toBase64(encodeOpening(kp.publicKey, c.seal(first))),
      };
    },
  };
}

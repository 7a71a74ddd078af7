/**
 * The provisioning cipher: moves an account's identity and recent history from a device that is
 * already linked ("old") to a new one ("new") through a server that only relays ciphertext. Shaped
 * after Signal's provisioning cipher (libsignal `ProvisioningCipher`, the linked-device QR code):
 *
 *   1. The new device draws an ephemeral X25519 key pair and a random channel id, and shows both
 *      in a link code (QR code or text to paste). That code travels through the user's eyes and
 *      hands, never through the server, so it is the trust anchor of the whole exchange.
 *   2. The old device draws its own ephemeral pair, and both compute X25519 (RFC 7748 §6.1), then
 *      HKDF-SHA-256 (RFC 5869) with both public keys and the channel id in `info`, giving one
 *      XChaCha20-Poly1305 key per direction and a short comparison code.
 *   3. Every message is sealed with a random 24-byte nonce and the direction and sequence number
 *      in the associated data, so the relay can neither reorder, replay, drop (the receiver wants
 *      exactly the next sequence number) nor turn a message around.
 *
 * Deviations from Signal (see PROTOCOL.md §10): XChaCha20-Poly1305 instead of AES-256-CBC +
 * HMAC-SHA256, keys for both directions (Signal's channel is one-way: the new device answers over
 * its normal registration), and a 6-digit code derived from the shared secret so the user can
 * check on both screens that the device they approve is the one in front of them.
 */
import { isUserId } from '@hush/protocol';
import { aeadDecrypt, aeadEncrypt } from './aead.js';
import { KEY_BYTES, XCHACHA_NONCE_BYTES } from './constants.js';
import { checkLength, concat, lpString, u32be } from './encoding.js';
import { CryptoError } from './errors.js';
import { hkdfSha256 } from './kdf.js';
import type { Primitives, RandomBytes, X25519KeyPair } from './primitives/types.js';

/** First byte of every sealed provisioning message and the version field of link codes. */
export const PROVISIONING_VERSION = 1;
/** HKDF info label of the channel keys and AEAD associated-data label (domain separation). */
export const LABEL_PROVISIONING = 'hush/provisioning/v1';
/** Channel ids: 16 random bytes, base64url without padding (22 characters): unguessable. */
export const PROVISIONING_CHANNEL_BYTES = 16;
export const PROVISIONING_CHANNEL_PATTERN = '^[A-Za-z0-9_-]{22}$';
/** Digits of the comparison code (10^6: a one-in-a-million chance that a wrong device matches). */
export const PROVISIONING_CODE_DIGITS = 6;
/** Prefix of the link code, so a pasted safety-number payload or URL is told apart at once. */
export const LINK_CODE_PREFIX = 'hush-link';

export type ProvisioningRole = 'new' | 'old';

/** What the new device shows as QR code and text (the new device's half of the handshake). */
export interface LinkCode {
  version: number;
  userId: string;
  channelId: string;
  /** The new device's ephemeral X25519 public key. */
  publicKey: Uint8Array;
}

const CHANNEL_RE = new RegExp(PROVISIONING_CHANNEL_PATTERN);
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

function toBase64Url(b: Uint8Array): string {
  let out = '';
  let bits = 0;
  let acc = 0;
  for (const byte of b) {
    acc = (acc << 8) | byte;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out += B64URL[(acc >> bits) & 63];
    }
  }
  if (bits > 0) out += B64URL[(acc << (6 - bits)) & 63];
  return out;
}

function fromBase64Url(s: string): Uint8Array {
  const out: number[] = [];
  let bits = 0;
  let acc = 0;
  for (const ch of s) {
    const v = B64URL.indexOf(ch);
    if (v < 0) throw new CryptoError('E2E_BAD_KEY', 'Malformed link code');
    acc = ((acc << 6) | v) & 0xffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push((acc >> bits) & 255);
    }
  }
  // Non-canonical trailing bits would let two texts name the same key.
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) throw new CryptoError('E2E_BAD_KEY', 'Malformed link code');
  return new Uint8Array(out);
}

/** A fresh channel id from the caller's randomness. */
export function newChannelId(randomBytes: RandomBytes): string {
  return toBase64Url(randomBytes(PROVISIONING_CHANNEL_BYTES));
}

/** `hush-link:1:<userId>:<channelId>:<publicKey base64url>`: short enough for a small QR code. */
export function encodeLinkCode(c: LinkCode): string {
  checkLength('link public key', c.publicKey, KEY_BYTES);
  if (!isUserId(c.userId) || !CHANNEL_RE.test(c.channelId)) {
    throw new CryptoError('E2E_BAD_KEY', 'Malformed link code fields');
  }
  return [LINK_CODE_PREFIX, String(c.version), c.userId, c.channelId, toBase64Url(c.publicKey)].join(':');
}

/** Parses a scanned or pasted link code; throws E2E_BAD_KEY on anything else (whitespace is ignored). */
export function decodeLinkCode(text: string): LinkCode {
  const parts = text.replace(/\s+/g, '').split(':');
  if (parts.length !== 5 || parts[0] !== LINK_CODE_PREFIX) {
    throw new CryptoError('E2E_BAD_KEY', 'This is not a link code');
  }
  const [, version, userId, channelId, key] = parts as [string, string, string, string, string];
  if (version !== String(PROVISIONING_VERSION)) {
    throw new CryptoError('E2E_BAD_KEY', 'This link code comes from a newer version of Hush');
  }
  if (!isUserId(userId) || !CHANNEL_RE.test(channelId)) {
    throw new CryptoError('E2E_BAD_KEY', 'Malformed link code fields');
  }
  const publicKey = fromBase64Url(key);
  checkLength('link public key', publicKey, KEY_BYTES);
  return { version: PROVISIONING_VERSION, userId, channelId, publicKey };
}

/** The keys of one provisioning channel, as both sides derive them. */
export interface ProvisioningKeys {
  /** Seals old -> new. */
  toNew: Uint8Array;
  /** Seals new -> old. */
  toOld: Uint8Array;
  /** The comparison code both screens show, `PROVISIONING_CODE_DIGITS` digits. */
  code: string;
}

/**
 * X25519 + HKDF: `info` = label ‖ channel id ‖ new public ‖ old public, salt = 32 zero bytes
 * (RFC 5869 §3.1: no salt available), 72 bytes out = toNew ‖ toOld ‖ 8 code bytes. A low-order
 * peer key (all-zero shared secret) throws E2E_LOW_ORDER_KEY from the primitive.
 */
export async function deriveProvisioningKeys(
  prims: Primitives,
  self: X25519KeyPair,
  peerPublic: Uint8Array,
  role: ProvisioningRole,
  channelId: string,
): Promise<ProvisioningKeys> {
  checkLength('peer ephemeral key', peerPublic, KEY_BYTES);
  if (!CHANNEL_RE.test(channelId)) throw new CryptoError('E2E_BAD_KEY', 'Malformed channel id');
  const shared = await prims.x25519(self, peerPublic);
  const [newPub, oldPub] = role === 'new' ? [self.publicKey, peerPublic] : [peerPublic, self.publicKey];
  const info = concat(lpString(LABEL_PROVISIONING), lpString(channelId), newPub, oldPub);
  const okm = hkdfSha256(shared, new Uint8Array(32), info, 2 * KEY_BYTES + 8);
  shared.fill(0);
  const codeBytes = okm.subarray(64, 72);
  // 64 bits reduced mod 10^6: the bias is below 2^-44, far under what a user could notice.
  let n = 0n;
  for (const b of codeBytes) n = (n << 8n) | BigInt(b);
  const code = (n % 10n ** BigInt(PROVISIONING_CODE_DIGITS)).toString().padStart(PROVISIONING_CODE_DIGITS, '0');
  const keys = { toNew: okm.slice(0, 32), toOld: okm.slice(32, 64), code };
  okm.fill(0);
  return keys;
}

const HEADER_BYTES = 1 + 4 + XCHACHA_NONCE_BYTES;

/**
 * One side of an established channel. `seal` numbers its messages 0, 1, 2, ...; `open` accepts only
 * the next number from the other side, so the relay cannot replay, reorder or silently drop.
 */
export class ProvisioningCipher {
  private sendSeq = 0;
  private recvSeq = 0;

  constructor(
    private readonly keys: ProvisioningKeys,
    readonly role: ProvisioningRole,
    private readonly channelId: string,
    private readonly randomBytes: RandomBytes,
  ) {}

  get code(): string {
    return this.keys.code;
  }

  private ad(direction: ProvisioningRole, seq: number): Uint8Array {
    // The direction is the receiver's role: a message can never be reflected back to its sender.
    return concat(lpString(LABEL_PROVISIONING), lpString(this.channelId), lpString(direction), u32be(seq));
  }

  /** version ‖ seq (u32) ‖ nonce (24) ‖ XChaCha20-Poly1305(plaintext). */
  seal(plaintext: Uint8Array): Uint8Array {
    const to: ProvisioningRole = this.role === 'old' ? 'new' : 'old';
    const seq = this.sendSeq++;
    const nonce = this.randomBytes(XCHACHA_NONCE_BYTES);
    const key = to === 'new' ? this.keys.toNew : this.keys.toOld;
    const ct = aeadEncrypt(key, nonce, plaintext, this.ad(to, seq));
    return concat(new Uint8Array([PROVISIONING_VERSION]), u32be(seq), nonce, ct);
  }

  /** Throws E2E_BAD_MESSAGE (format, out-of-order) or E2E_DECRYPT_FAILED (forged, other key). */
  open(sealed: Uint8Array): Uint8Array {
    if (sealed.length < HEADER_BYTES + 16 || sealed[0] !== PROVISIONING_VERSION) {
      throw new CryptoError('E2E_BAD_MESSAGE', 'Malformed provisioning message');
    }
    const seq = new DataView(sealed.buffer, sealed.byteOffset + 1, 4).getUint32(0);
    if (seq !== this.recvSeq) {
      throw new CryptoError('E2E_BAD_MESSAGE', `Provisioning message ${seq} out of order (wanted ${this.recvSeq})`);
    }
    const key = this.role === 'new' ? this.keys.toNew : this.keys.toOld;
    const nonce = sealed.subarray(5, HEADER_BYTES);
    const pt = aeadDecrypt(key, nonce, sealed.subarray(HEADER_BYTES), this.ad(this.role, seq));
    this.recvSeq++;
    return pt;
  }

  /** Wipes both channel keys (call when the exchange ends either way). */
  destroy(): void {
    this.keys.toNew.fill(0);
    this.keys.toOld.fill(0);
  }
}

/**
 * The old device's first message: its ephemeral public key in the clear (the new device needs it
 * to derive the keys), then a sealed message. `PROVISIONING_VERSION ‖ 0xff ‖ old public ‖ sealed`.
 */
export function encodeOpening(oldPublic: Uint8Array, sealed: Uint8Array): Uint8Array {
  checkLength('old ephemeral key', oldPublic, KEY_BYTES);
  return concat(new Uint8Array([PROVISIONING_VERSION, 0xff]), oldPublic, sealed);
}

export function decodeOpening(bytes: Uint8Array): { oldPublic: Uint8Array; sealed: Uint8Array } {
  if (bytes.length < 2 + KEY_BYTES + HEADER_BYTES + 16 || bytes[0] !== PROVISIONING_VERSION || bytes[1] !== 0xff) {
    throw new CryptoError('E2E_BAD_MESSAGE', 'Malformed provisioning opening');
  }
  return { oldPublic: bytes.slice(2, 2 + KEY_BYTES), sealed: bytes.subarray(2 + KEY_BYTES) };
}

/** Convenience for both sides: derive the keys and wrap them in a cipher. */
export async function openProvisioningChannel(
  prims: Primitives,
  self: X25519KeyPair,
  peerPublic: Uint8Array,
  role: ProvisioningRole,
  channelId: string,
  randomBytes: RandomBytes,
): Promise<ProvisioningCipher> {
  const keys = await deriveProvisioningKeys(prims, self, peerPublic, role, channelId);
  return new ProvisioningCipher(keys, role, channelId, randomBytes);
}

/**
 * Message byte layouts (all integers big-endian; see PROTOCOL.md §Messages):
 *
 *   normal (type 1):  version(1)=1 ‖ type(1)=1 ‖ dh(32) ‖ pn(u32) ‖ n(u32) ‖ aead ciphertext+tag
 *   prekey (type 2):  version(1)=1 ‖ type(1)=2 ‖ identityKey(32, Ed25519) ‖ deviceKey(32, X25519)
 *                     ‖ deviceKeySignature(64) ‖ baseKey(32) ‖ signedPrekeyId(u32) ‖ hasOneTime(1)
 *                     ‖ oneTimePrekeyId(u32) ‖ dh(32) ‖ pn(u32) ‖ n(u32) ‖ aead ciphertext+tag
 *
 * The "header" is every byte before the ciphertext; the AEAD's associated data is AD ‖ header,
 * so flipping any bit of it makes the tag fail (Double Ratchet §3.4, §7.1 header authenticated).
 */
import { AEAD_TAG_BYTES, MESSAGE_VERSION } from '../constants.js';
import { CryptoError } from '../errors.js';

export const TYPE_NORMAL = 1;
export const TYPE_PREKEY = 2;
const RATCHET_HEADER_BYTES = 32 + 4 + 4;
export const NORMAL_HEADER_BYTES = 2 + RATCHET_HEADER_BYTES;
const PREKEY_PREFIX_BYTES = 32 + 32 + 64 + 32 + 4 + 1 + 4;
export const PREKEY_HEADER_BYTES = 2 + PREKEY_PREFIX_BYTES + RATCHET_HEADER_BYTES;

export interface RatchetHeader {
  dh: Uint8Array;
  pn: number;
  n: number;
}

export interface PrekeyInfo {
  identityKey: Uint8Array;
  deviceKey: Uint8Array;
  deviceKeySignature: Uint8Array;
  baseKey: Uint8Array;
  signedPrekeyId: number;
  oneTimePrekeyId: number | null;
}

export interface ParsedMessage {
  type: typeof TYPE_NORMAL | typeof TYPE_PREKEY;
  prekey: PrekeyInfo | null;
  header: RatchetHeader;
  /** Every byte before the ciphertext (authenticated as associated data). */
  headerBytes: Uint8Array;
  ciphertext: Uint8Array;
}

export function encodeHeader(header: RatchetHeader, prekey: PrekeyInfo | null): Uint8Array {
  const out = new Uint8Array(prekey ? PREKEY_HEADER_BYTES : NORMAL_HEADER_BYTES);
  const dv = new DataView(out.buffer);
  out[0] = MESSAGE_VERSION;
  out[1] = prekey ? TYPE_PREKEY : TYPE_NORMAL;
  let o = 2;
  if (prekey) {
    out.set(prekey.identityKey, o);
    out.set(prekey.deviceKey, o + 32);
    out.set(prekey.deviceKeySignature, o + 64);
    out.set(prekey.baseKey, o + 128);
    dv.setUint32(o + 160, prekey.signedPrekeyId);
    out[o + 164] = prekey.oneTimePrekeyId === null ? 0 : 1;
    dv.setUint32(o + 165, prekey.oneTimePrekeyId ?? 0);
    o += PREKEY_PREFIX_BYTES;
  }
  out.set(header.dh, o);
  dv.setUint32(o + 32, header.pn);
  dv.setUint32(o + 36, header.n);
  return out;
}

export function parseMessage(msg: Uint8Array): ParsedMessage {
  if (!(msg instanceof Uint8Array) || msg.length < NORMAL_HEADER_BYTES + AEAD_TAG_BYTES) {
    throw new CryptoError('E2E_BAD_MESSAGE', 'Message too short');
  }
  if (msg[0] !== MESSAGE_VERSION) throw new CryptoError('E2E_BAD_MESSAGE', `Unknown message version ${msg[0]}`);
  const type = msg[1];
  if (type !== TYPE_NORMAL && type !== TYPE_PREKEY) throw new CryptoError('E2E_BAD_MESSAGE', 'Unknown message type');
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  let o = 2;
  let prekey: PrekeyInfo | null = null;
  if (type === TYPE_PREKEY) {
    if (msg.length < PREKEY_HEADER_BYTES + AEAD_TAG_BYTES)
      throw new CryptoError('E2E_BAD_MESSAGE', 'Message too short');
    const has = msg[o + 164];
    if (has !== 0 && has !== 1) throw new CryptoError('E2E_BAD_MESSAGE', 'Bad one-time prekey flag');
    const otkId = dv.getUint32(o + 165);
    if (has === 0 && otkId !== 0) throw new CryptoError('E2E_BAD_MESSAGE', 'Bad one-time prekey id');
    prekey = {
      identityKey: msg.slice(o, o + 32),
      deviceKey: msg.slice(o + 32, o + 64),
      deviceKeySignature: msg.slice(o + 64, o + 128),
      baseKey: msg.slice(o + 128, o + 160),
      signedPrekeyId: dv.getUint32(o + 160),
      oneTimePrekeyId: has === 1 ? otkId : null,
    };
    o += PREKEY_PREFIX_BYTES;
  }
  const header = { dh: msg.slice(o, o + 32), pn: dv.getUint32(o + 32), n: dv.getUint32(o + 36) };
  o += RATCHET_HEADER_BYTES;
  return { type, prekey, header, headerBytes: msg.subarray(0, o), ciphertext: msg.subarray(o) };
}

/**
 * Message byte layouts, version 2 (all integers big-endian; see PROTOCOL.md §4):
 *
 *   normal (type 1):  version(1)=2 ‖ type(1)=1 ‖ dh(32) ‖ pn(u32) ‖ n(u32) ‖ nonce(24) ‖ aead ciphertext+tag
 *   prekey (type 2):  version(1)=2 ‖ type(1)=2 ‖ identityKey(32, Ed25519) ‖ deviceKey(32, X25519)
 *                     ‖ deviceKeySignature(64) ‖ baseKey(32) ‖ signedPrekeyId(u32) ‖ hasOneTime(1)
 *                     ‖ oneTimePrekeyId(u32) ‖ the sender's signed device list ‖ dh(32) ‖ pn(u32) ‖ n(u32)
 *                     ‖ nonce(24) ‖ aead ciphertext+tag
 *   device list:      version(u64) ‖ issuedAt(u64) ‖ count(u8) ‖ lp(deviceId)… ‖ signature(64)
 *
 * The "header" is every byte before the ciphertext, the nonce included; the AEAD's associated data
 * is AD ‖ header, so flipping any bit of it makes the tag fail (Double Ratchet §3.4). The nonce is
 * random, not derived from the message key, so a rolled-back state that reuses a message key never
 * reuses (key, nonce) (PROTOCOL.md deviation 3).
 */
import type { SignedDeviceList } from '@hush/protocol';
import { AEAD_TAG_BYTES, MAX_DEVICES_PER_ACCOUNT, MESSAGE_VERSION, XCHACHA_NONCE_BYTES } from '../constants.js';
import { b64Field, concat, fromUtf8, lpString, toBase64, u64be } from '../encoding.js';
import { CryptoError } from '../errors.js';

export const TYPE_NORMAL = 1;
export const TYPE_PREKEY = 2;
const RATCHET_HEADER_BYTES = 32 + 4 + 4;
export const NORMAL_HEADER_BYTES = 2 + RATCHET_HEADER_BYTES + XCHACHA_NONCE_BYTES;
const PREKEY_FIXED_BYTES = 32 + 32 + 64 + 32 + 4 + 1 + 4;
const LIST_FIXED_BYTES = 8 + 8 + 1 + 64;

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
  /** The sender account's signed device list, so the receiver can check the sender is a member. */
  deviceList: SignedDeviceList;
}

export interface ParsedMessage {
  type: typeof TYPE_NORMAL | typeof TYPE_PREKEY;
  prekey: PrekeyInfo | null;
  header: RatchetHeader;
  nonce: Uint8Array;
  /** Every byte before the ciphertext (authenticated as associated data). */
  headerBytes: Uint8Array;
  ciphertext: Uint8Array;
}

function encodeList(l: SignedDeviceList): Uint8Array {
  return concat(
    u64be(l.version),
    u64be(l.issuedAt),
    new Uint8Array([l.devices.length]),
    ...l.devices.map(lpString),
    b64Field('device list signature', l.signature, 64),
  );
}

export function encodeHeader(header: RatchetHeader, prekey: PrekeyInfo | null, nonce: Uint8Array): Uint8Array {
  const ratchet = new Uint8Array(RATCHET_HEADER_BYTES);
  const rv = new DataView(ratchet.buffer);
  ratchet.set(header.dh, 0);
  rv.setUint32(32, header.pn);
  rv.setUint32(36, header.n);
  if (!prekey) return concat(new Uint8Array([MESSAGE_VERSION, TYPE_NORMAL]), ratchet, nonce);
  const fixed = new Uint8Array(PREKEY_FIXED_BYTES);
  const dv = new DataView(fixed.buffer);
  fixed.set(prekey.identityKey, 0);
  fixed.set(prekey.deviceKey, 32);
  fixed.set(prekey.deviceKeySignature, 64);
  fixed.set(prekey.baseKey, 128);
  dv.setUint32(160, prekey.signedPrekeyId);
  fixed[164] = prekey.oneTimePrekeyId === null ? 0 : 1;
  dv.setUint32(165, prekey.oneTimePrekeyId ?? 0);
  return concat(new Uint8Array([MESSAGE_VERSION, TYPE_PREKEY]), fixed, encodeList(prekey.deviceList), ratchet, nonce);
}

function bad(why: string): never {
  throw new CryptoError('E2E_BAD_MESSAGE', why);
}

/** Reads the device list at `o`; returns it and the offset after it. */
function parseList(msg: Uint8Array, dv: DataView, o: number): { list: SignedDeviceList; end: number } {
  if (msg.length < o + LIST_FIXED_BYTES) bad('Message too short');
  const hi = dv.getUint32(o);
  const hi2 = dv.getUint32(o + 8);
  if (hi >= 2 ** 21 || hi2 >= 2 ** 21) bad('Device list integer out of range');
  const version = hi * 2 ** 32 + dv.getUint32(o + 4);
  const issuedAt = hi2 * 2 ** 32 + dv.getUint32(o + 12);
  const count = msg[o + 16]!;
  if (count === 0 || count > MAX_DEVICES_PER_ACCOUNT) bad('Bad device count');
  let p = o + 17;
  const devices: string[] = [];
  for (let i = 0; i < count; i++) {
    if (msg.length < p + 2) bad('Message too short');
    const len = dv.getUint16(p);
    if (msg.length < p + 2 + len) bad('Message too short');
    try {
      devices.push(fromUtf8(msg.subarray(p + 2, p + 2 + len)));
    } catch (e) {
      throw new CryptoError('E2E_BAD_MESSAGE', 'Device id is not UTF-8', { cause: e });
    }
    p += 2 + len;
  }
  if (msg.length < p + 64) bad('Message too short');
  const signature = toBase64(msg.subarray(p, p + 64));
  return { list: { version, issuedAt, devices, signature }, end: p + 64 };
}

export function parseMessage(msg: Uint8Array): ParsedMessage {
  if (!(msg instanceof Uint8Array) || msg.length < NORMAL_HEADER_BYTES + AEAD_TAG_BYTES) bad('Message too short');
  if (msg[0] !== MESSAGE_VERSION) bad(`Unknown message version ${msg[0]}`);
  const type = msg[1];
  if (type !== TYPE_NORMAL && type !== TYPE_PREKEY) bad('Unknown message type');
  const dv = new DataView(msg.buffer, msg.byteOffset, msg.byteLength);
  let o = 2;
  let prekey: PrekeyInfo | null = null;
  if (type === TYPE_PREKEY) {
    if (msg.length < o + PREKEY_FIXED_BYTES) bad('Message too short');
    const has = msg[o + 164];
    if (has !== 0 && has !== 1) bad('Bad one-time prekey flag');
    const otkId = dv.getUint32(o + 165);
    if (has === 0 && otkId !== 0) bad('Bad one-time prekey id');
    const fixed = {
      identityKey: msg.slice(o, o + 32),
      deviceKey: msg.slice(o + 32, o + 64),
      deviceKeySignature: msg.slice(o + 64, o + 128),
      baseKey: msg.slice(o + 128, o + 160),
      signedPrekeyId: dv.getUint32(o + 160),
      oneTimePrekeyId: has === 1 ? otkId : null,
    };
    const { list, end } = parseList(msg, dv, o + PREKEY_FIXED_BYTES);
    prekey = { ...fixed, deviceList: list };
    o = end;
  }
  if (msg.length < o + RATCHET_HEADER_BYTES + XCHACHA_NONCE_BYTES + AEAD_TAG_BYTES) bad('Message too short');
  const header = { dh: msg.slice(o, o + 32), pn: dv.getUint32(o + 32), n: dv.getUint32(o + 36) };
  o += RATCHET_HEADER_BYTES;
  const nonce = msg.slice(o, o + XCHACHA_NONCE_BYTES);
  o += XCHACHA_NONCE_BYTES;
  return { type, prekey, header, nonce, headerBytes: msg.subarray(0, o), ciphertext: msg.subarray(o) };
}

/**
 * Retry requests (as WhatsApp's retry receipts): a device that cannot decrypt a message asks its
 * sender to encrypt it again, and hands over fresh keys for that, so the sender can run X3DH anew
 * without the key directory and the message is never silently lost.
 *
 * The request is authenticated, not encrypted: the requester may hold no working session with the
 * sender (that is why it asks), and it holds nothing secret — a message id, the attempt number and
 * public keys. It is signed with the account identity key and binds both devices, the message id,
 * the attempt and the time, so the server can neither forge one nor move one to another message
 * or device; a replayed request is at worst answered again (bounded by MAX_RETRY_ATTEMPTS per
 * message and device, which the caller counts) and only ever re-encrypts to the requester's own keys.
 *
 *   version(1)=2 ‖ type(1)=6 ‖ lp(requester user) ‖ lp(requester device) ‖ lp(sender user)
 *   ‖ lp(sender device) ‖ lp(message id) ‖ attempt(u8) ‖ issuedAt(u64)
 *   ‖ deviceKey(32) ‖ deviceKeySignature(64)
 *   ‖ signedPrekeyId(u32) ‖ signedPrekeyCreatedAt(u64) ‖ signedPrekey(32) ‖ signedPrekeySignature(64)
 *   ‖ oneTimePrekeyId(u32) ‖ oneTimePrekey(32) ‖ oneTimePrekeySignature(64)
 *   ‖ signature(64) by the identity key over lp("hush/sig/retry-request/v1") ‖ every preceding byte
 */
import type { DeviceBundle } from '@hush/protocol';
import { type VerifiedDevice, verifyDeviceBundle } from './bundle.js';
import {
  LABEL_SIG_RETRY_REQUEST,
  MAX_RETRY_ATTEMPTS,
  MESSAGE_VERSION,
  RETRY_REQUEST_MAX_AGE_MS,
  RETRY_REQUEST_MAX_SKEW_MS,
} from './constants.js';
import { requireListedDevice } from './device-list-history.js';
import { concat, fromUtf8, lpString, toBase64, u32be, u64be } from './encoding.js';
import { CryptoError, isCryptoError } from './errors.js';
import { generateOneTimePrekeys } from './keys.js';
import type { Now, Primitives, RandomBytes } from './primitives/types.js';
import type { Address, CryptoStore } from './storage/types.js';

export const TYPE_RETRY_REQUEST = 6;

export interface RetryRequest {
  /** The device that could not decrypt. */
  requester: Address;
  /** The device that sent the message (and is asked to send it again). */
  sender: Address;
  messageId: string;
  /** 1 for the first request for this message, then 2, 3, … up to MAX_RETRY_ATTEMPTS. */
  attempt: number;
  issuedAt: number;
}

/** True when `bytes` is a retry request (rather than an encrypted message): route it to openRetryRequest. */
export function isRetryRequest(bytes: Uint8Array): boolean {
  return bytes.length > 2 && bytes[0] === MESSAGE_VERSION && bytes[1] === TYPE_RETRY_REQUEST;
}

/**
 * Decrypt failures a retry request can repair: the session is missing or out of step (state lost or
 * restored, prekey gone, key already used by a rolled-back sender, too far ahead). Not: a changed
 * identity (the user decides), a device outside its signed list (it may not send), a missing device
 * list (fetch the sender's keys and decrypt again), a malformed message (nothing a new session mends).
 */
export function isRetryableDecryptError(e: unknown): boolean {
  return (
    isCryptoError(e) &&
    [
      'E2E_SESSION_NOT_FOUND',
      'E2E_DECRYPT_FAILED',
      'E2E_DUPLICATE_MESSAGE',
      'E2E_TOO_MANY_SKIPPED',
      'E2E_PREKEY_NOT_FOUND',
      'E2E_BAD_STATE',
    ].includes(e.code)
  );
}

function statementOf(body: Uint8Array): Uint8Array {
  return concat(lpString(LABEL_SIG_RETRY_REQUEST), body);
}

/**
 * Builds a signed retry request for `messageId` from `to` (the device that sent it). A fresh
 * one-time prekey is made and kept for the sender's new session (it is not published to keydir).
 */
export async function createRetryRequest(
  prims: Primitives,
  store: CryptoStore,
  opts: { to: Address; messageId: string; attempt: number; randomBytes: RandomBytes; now: Now },
): Promise<Uint8Array> {
  if (!Number.isInteger(opts.attempt) || opts.attempt < 1 || opts.attempt > MAX_RETRY_ATTEMPTS) {
    throw new CryptoError('E2E_BAD_MESSAGE', `attempt must be 1..${MAX_RETRY_ATTEMPTS}`);
  }
  const [identity, device, spks] = await Promise.all([
    store.getIdentity(),
    store.getLocalDevice(),
    store.listSignedPrekeys(),
  ]);
  if (!identity || !device) throw new CryptoError('E2E_NO_IDENTITY');
  const spk = spks.reduce<(typeof spks)[number] | undefined>((a, b) => (!a || b.keyId > a.keyId ? b : a), undefined);
  if (!spk) throw new CryptoError('E2E_NO_IDENTITY', 'No signed prekey');
  const [opk] = await generateOneTimePrekeys(prims, store, { randomBytes: opts.randomBytes, count: 1 });
  const opkRecord = await store.getOneTimePrekey(opk!.keyId);
  const body = concat(
    new Uint8Array([MESSAGE_VERSION, TYPE_RETRY_REQUEST]),
    lpString(device.userId),
    lpString(device.deviceId),
    lpString(opts.to.userId),
    lpString(opts.to.deviceId),
    lpString(opts.messageId),
    new Uint8Array([opts.attempt]),
    u64be(opts.now()),
    device.deviceKey.publicKey,
    device.deviceKeySignature,
    u32be(spk.keyId),
    u64be(spk.createdAt),
    spk.keyPair.publicKey,
    spk.signature,
    u32be(opkRecord!.keyId),
    opkRecord!.keyPair.publicKey,
    opkRecord!.signature,
  );
  return concat(body, await prims.ed25519Sign(identity, statementOf(body)));
}

/** Sequential reader over a request's bytes; any overrun is E2E_BAD_MESSAGE. */
class Reader {
  private o = 2;
  private readonly dv: DataView;
  constructor(private readonly b: Uint8Array) {
    this.dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  }
  /** Start offset of the next `n` bytes, which are then consumed. */
  private take(n: number): number {
    if (this.o + n > this.b.length) throw new CryptoError('E2E_BAD_MESSAGE', 'Retry request too short');
    this.o += n;
    return this.o - n;
  }
  bytes(n: number): Uint8Array {
    const at = this.take(n);
    return this.b.slice(at, at + n);
  }
  u8(): number {
    return this.b[this.take(1)]!;
  }
  u32(): number {
    return this.dv.getUint32(this.take(4));
  }
  u64(): number {
    const hi = this.u32();
    const lo = this.u32();
    if (hi >= 2 ** 21) throw new CryptoError('E2E_BAD_MESSAGE', 'Integer out of range');
    return hi * 2 ** 32 + lo;
  }
  str(): string {
    const len = this.dv.getUint16(this.take(2));
    try {
      return fromUtf8(this.bytes(len));
    } catch (e) {
      if (isCryptoError(e)) throw e;
      throw new CryptoError('E2E_BAD_MESSAGE', 'Not UTF-8', { cause: e });
    }
  }
  get offset(): number {
    return this.o;
  }
}

/**
 * Checks a retry request that arrived from `from` (as authenticated by the transport) and returns
 * it with the requester's verified keys, ready for `SessionManager.encrypt(from, plaintext,
 * bundle, { freshSession: true })`. Refused with a typed error when: malformed or not for this
 * device (E2E_BAD_MESSAGE), attempt out of range or too old/new (E2E_BAD_MESSAGE), the requester's
 * identity is not the one we trust (E2E_UNTRUSTED_IDENTITY), a signature fails (E2E_BAD_SIGNATURE),
 * a key is of low order (E2E_LOW_ORDER_KEY), or the requester is not in its account's newest
 * signed device list (E2E_DEVICE_REMOVED / E2E_UNKNOWN_DEVICE / E2E_NO_DEVICE_LIST).
 * Whether this (message, device, attempt) was answered already is the caller's to remember.
 */
export async function openRetryRequest(
  prims: Primitives,
  store: CryptoStore,
  from: Address,
  bytes: Uint8Array,
  opts: { now: Now },
): Promise<{ request: RetryRequest; bundle: VerifiedDevice }> {
  if (!isRetryRequest(bytes) || bytes.length < 64) throw new CryptoError('E2E_BAD_MESSAGE', 'Not a retry request');
  const r = new Reader(bytes.subarray(0, bytes.length - 64));
  const requester = { userId: r.str(), deviceId: r.str() };
  const sender = { userId: r.str(), deviceId: r.str() };
  const messageId = r.str();
  const attempt = r.u8();
  const issuedAt = r.u64();
  const deviceKey = r.bytes(32);
  const deviceKeySignature = r.bytes(64);
  const spkId = r.u32();
  const spkCreatedAt = r.u64();
  const spk = r.bytes(32);
  const spkSig = r.bytes(64);
  const opkId = r.u32();
  const opk = r.bytes(32);
  const opkSig = r.bytes(64);
  if (r.offset !== bytes.length - 64) throw new CryptoError('E2E_BAD_MESSAGE', 'Trailing bytes in retry request');

  const [identity, device] = await Promise.all([store.getIdentity(), store.getLocalDevice()]);
  if (!identity || !device) throw new CryptoError('E2E_NO_IDENTITY');
  if (requester.userId !== from.userId || requester.deviceId !== from.deviceId) {
    throw new CryptoError('E2E_BAD_MESSAGE', 'The retry request names another requester than its transport sender');
  }
  if (sender.userId !== device.userId || sender.deviceId !== device.deviceId) {
    throw new CryptoError('E2E_BAD_MESSAGE', 'The retry request is for another device');
  }
  if (attempt < 1 || attempt > MAX_RETRY_ATTEMPTS) throw new CryptoError('E2E_BAD_MESSAGE', 'Bad retry attempt');
  const now = opts.now();
  if (issuedAt < now - RETRY_REQUEST_MAX_AGE_MS || issuedAt > now + RETRY_REQUEST_MAX_SKEW_MS) {
    throw new CryptoError('E2E_BAD_MESSAGE', 'The retry request is too old or dated in the future');
  }
  const identityKey =
    from.userId === device.userId ? identity.publicKey : (await store.getPeerIdentity(from.userId))?.identityKey;
  if (!identityKey) {
    throw new CryptoError('E2E_UNTRUSTED_IDENTITY', 'No identity key known for the requester', {
      details: { userId: from.userId, known: false },
    });
  }
  const wire: DeviceBundle = {
    deviceId: from.deviceId,
    deviceKey: { publicKey: toBase64(deviceKey), signature: toBase64(deviceKeySignature) },
    signedPrekey: { keyId: spkId, publicKey: toBase64(spk), createdAt: spkCreatedAt, signature: toBase64(spkSig) },
    oneTimePrekey: { keyId: opkId, publicKey: toBase64(opk), signature: toBase64(opkSig) },
  };
  const body = bytes.subarray(0, bytes.length - 64);
  const [signed, bundle] = await Promise.all([
    prims.ed25519Verify(identityKey, statementOf(body), bytes.subarray(bytes.length - 64)),
    verifyDeviceBundle(prims, from.userId, identityKey, wire),
  ]);
  if (!signed) throw new CryptoError('E2E_BAD_SIGNATURE', 'The retry request is not signed by the requester');
  await requireListedDevice(store, from, identityKey);
  return { request: { requester, sender, messageId, attempt, issuedAt }, bundle };
}

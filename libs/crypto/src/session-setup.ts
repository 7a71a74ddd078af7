/**
 * Session setup for SessionManager (session-cipher.ts): its public types, the Sesame rule for where
 * a received session goes, trust on first use, and X3DH on both sides without writes.
 */
import type { VerifiedDevice } from './bundle.js';
import { MAX_SESSIONS_PER_DEVICE } from './constants.js';
import { checkDeviceList, type DeviceListUpdate, heldDeviceList, requireListed } from './device-list-history.js';
import { equalBytes, toHex } from './encoding.js';
import { CryptoError } from './errors.js';
import { deviceKeyStatement } from './keys.js';
import { unpad } from './padding.js';
import { isLowOrderX25519 } from './primitives/checks.js';
import type { Now, Primitives, RandomBytes } from './primitives/types.js';
import {
  initInitiator,
  initResponder,
  type RatchetLimits,
  ratchetDecrypt,
  ratchetKeyAndDh,
} from './ratchet/double-ratchet.js';
import type { ParsedMessage, PrekeyInfo } from './ratchet/message.js';
import type { SessionState } from './ratchet/state.js';
import type { Address, CryptoStore, IdentityKeyPair, LocalDeviceRecord } from './storage/types.js';
import { verifyCached } from './verify-cache.js';
import { x3dhInitiate, x3dhRespond } from './x3dh.js';

/** What session setup reads from its SessionManager. */
export interface SetupContext {
  prims: Primitives;
  randomBytes: RandomBytes;
  now: Now;
  store: CryptoStore;
  limits: RatchetLimits;
  padding: boolean;
}

export interface SessionManagerOptions {
  primitives: Primitives;
  store: CryptoStore;
  randomBytes: RandomBytes;
  now: Now;
  /** Override the skipped-key bounds (tests use small ones); defaults from constants.ts. */
  limits?: Partial<RatchetLimits>;
  /** Pad plaintext to fixed buckets before encryption (default true). */
  padding?: boolean;
}

export interface DecryptResult {
  plaintext: Uint8Array;
  /** The sender account's identity key (as bound into the session's associated data). */
  identityKey: Uint8Array;
  /** Id of the session that decrypted it (hex of the X3DH base key). */
  sessionId: string;
  /** True when this message created a new session (a prekey message). */
  newSession: boolean;
  /**
   * For a message that created a session: how the sender's signed device list it carried compares
   * with the one held (`added` devices deserve a notice; our own account's too).
   */
  deviceList?: Pick<DeviceListUpdate, 'status' | 'version' | 'added' | 'removed'>;
}

export interface EncryptOptions {
  /**
   * Run X3DH with `bundle` even when a session exists, and make the new session active: the answer
   * to a retry request (the peer could not decrypt in the session we hold).
   */
  freshSession?: boolean;
}

export interface SessionInfo {
  sessionId: string;
  role: 'initiator' | 'responder';
  peerIdentityKey: Uint8Array;
  mutual: boolean;
}

/** The active session is sessions[0]; the oldest inactive ones beyond the limit are dropped. */
export const trim = (sessions: SessionState[]) => sessions.slice(0, MAX_SESSIONS_PER_DEVICE);

/** Sesame §3 with the simultaneous-initiation rule (see the file comment): where `fresh` goes. */
export function withReceivedSession(fresh: SessionState, others: SessionState[]): SessionState[] {
  const active = others[0];
  const simultaneous = active?.role === 'initiator' && active.pending !== null;
  if (simultaneous && active.id < fresh.id) return trim([active, fresh, ...others.slice(1)]);
  return trim([fresh, ...others]);
}

/**
 * Trust on first use, then explicit: a key different from the one we know (or, for our own
 * account, from our own identity) is refused with E2E_UNTRUSTED_IDENTITY, never used silently.
 * Returns the write that records a first-seen key, for the caller to run once the message or
 * bundle is otherwise accepted (a refused message changes no state).
 */
export async function checkTrust(
  store: CryptoStore,
  now: Now,
  userId: string,
  identityKey: Uint8Array,
  own: IdentityKeyPair,
  ownUserId: string,
): Promise<() => Promise<void>> {
  const none = async () => {};
  if (userId === ownUserId) {
    if (!equalBytes(identityKey, own.publicKey)) {
      throw new CryptoError('E2E_UNTRUSTED_IDENTITY', 'A device claims our account with another identity key', {
        details: { userId, identityKey, previousIdentityKey: own.publicKey },
      });
    }
    return none;
  }
  const trusted = await store.getPeerIdentity(userId);
  if (!trusted) {
    return () => store.savePeerIdentity(userId, { identityKey, firstSeen: now(), verified: false });
  }
  if (!equalBytes(trusted.identityKey, identityKey)) {
    throw new CryptoError('E2E_UNTRUSTED_IDENTITY', undefined, {
      details: { userId, identityKey, previousIdentityKey: trusted.identityKey },
    });
  }
  return none;
}

/** X3DH §3.3: Alice starts a session with a verified bundle (the first ratchet DH runs alongside). */
export async function initiateSession(
  c: SetupContext,
  identity: IdentityKeyPair,
  device: LocalDeviceRecord,
  bundle: VerifiedDevice,
): Promise<SessionState> {
  // X3DH's DHs and the first ratchet DH (with the same signed prekey) run concurrently.
  const [x, first] = await Promise.all([
    x3dhInitiate(c.prims, c.randomBytes, { identityKey: identity.publicKey, deviceKey: device.deviceKey }, bundle),
    ratchetKeyAndDh(c.prims, c.randomBytes, bundle.signedPrekey.publicKey),
  ]);
  const ratchet = initInitiator(x.sharedKey, bundle.signedPrekey.publicKey, first);
  x.sharedKey.fill(0);
  return {
    id: toHex(x.baseKey.publicKey),
    role: 'initiator',
    ad: x.ad,
    peerIdentityKey: bundle.identityKey,
    peerDeviceKey: bundle.deviceKey,
    ratchet,
    pending: {
      signedPrekeyId: bundle.signedPrekey.keyId,
      oneTimePrekeyId: bundle.oneTimePrekey?.keyId ?? null,
      baseKey: x.baseKey.publicKey,
    },
    confirmed: false,
    createdAt: c.now(),
  };
}

/**
 * X3DH §3.4: Bob checks an initial message and decrypts it, writing nothing: the sender's device
 * list and membership, our prekeys, the device-key signature, X3DH and the first ratchet step. The
 * caller stores the session, the list and the trust record, and deletes the one-time prekey, only
 * once all of this succeeded.
 */
export async function respondToPrekey(
  c: SetupContext,
  from: Address,
  msg: ParsedMessage,
  pk: PrekeyInfo,
  identity: IdentityKeyPair,
  device: LocalDeviceRecord,
) {
  if (isLowOrderX25519(pk.deviceKey) || isLowOrderX25519(pk.baseKey)) throw new CryptoError('E2E_LOW_ORDER_KEY');
  // Membership first (before any DH): the list the sender carries may lag behind ours
  // (allowOlder); the sender is checked against whichever is newer. Nothing is stored yet.
  const plan = await checkDeviceList(c.prims, c.store, {
    userId: from.userId,
    identityKey: pk.identityKey,
    list: pk.deviceList,
    allowOlder: true,
  });
  requireListed(plan.record ?? (await heldDeviceList(c.store, from.userId, pk.identityKey)), from);
  const spk = await c.store.getSignedPrekey(pk.signedPrekeyId);
  if (!spk) throw new CryptoError('E2E_PREKEY_NOT_FOUND', `No signed prekey ${pk.signedPrekeyId}`);
  let opk = null;
  if (pk.oneTimePrekeyId !== null) {
    opk = await c.store.getOneTimePrekey(pk.oneTimePrekeyId);
    if (!opk) throw new CryptoError('E2E_PREKEY_NOT_FOUND', `No one-time prekey ${pk.oneTimePrekeyId}`);
  }
  // The device-key signature check runs alongside X3DH; nothing is kept unless both succeed.
  const [signed, x] = await Promise.all([
    verifyCached(
      c.prims,
      pk.identityKey,
      deviceKeyStatement(from.userId, from.deviceId, pk.deviceKey),
      pk.deviceKeySignature,
    ),
    x3dhRespond(
      c.prims,
      { identityKey: identity.publicKey, deviceKey: device.deviceKey },
      spk.keyPair,
      opk?.keyPair ?? null,
      pk,
    ),
  ]);
  if (!signed) throw new CryptoError('E2E_BAD_SIGNATURE', "The sender's device key is not signed by its identity");
  const session: SessionState = {
    id: toHex(pk.baseKey),
    role: 'responder',
    ad: x.ad,
    peerIdentityKey: pk.identityKey,
    peerDeviceKey: pk.deviceKey,
    ratchet: initResponder(x.sharedKey, spk.keyPair),
    pending: null,
    confirmed: true,
    createdAt: c.now(),
  };
  const body = await ratchetDecrypt(c.prims, c.randomBytes, session.ratchet, msg, session.ad, c.limits);
  const plaintext = c.padding ? unpad(body) : body;
  return { session, plaintext, plan, opk };
}

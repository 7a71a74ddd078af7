/**
 * Sessions per (user, device) pair, as in Sesame (§2-§3): encrypt to a device (running X3DH when
 * there is no session yet), decrypt from a device (creating a responder session from a prekey
 * message), several sessions per device with one active, identity trust checks, and the device-list
 * check on every message (a device outside its account's newest signed list is refused both ways).
 *
 * Active session (Sesame §3: the session a device last started, or last received an initiation
 * in, is the one it sends in):
 * - a session we initiate becomes active;
 * - a session created by an authenticated prekey message becomes active — the peer started it
 *   after losing state, restoring a backup or answering our retry request, so it is the one the
 *   peer holds — except during simultaneous initiation: when our active session is one we initiated
 *   and the peer has never answered, both sides keep the one with the smaller id (its X3DH base
 *   key), so both make the same choice;
 * - a normal message decrypting in an inactive session changes nothing (it was in flight before
 *   the switch), so crossing messages cannot make the choice flip back and forth.
 */
import type { VerifiedDevice } from './bundle.js';
import { MAX_SESSIONS_PER_DEVICE } from './constants.js';
import {
  checkDeviceList,
  commitDeviceList,
  type DeviceListUpdate,
  heldDeviceList,
  requireListed,
  requireListedDevice,
} from './device-list-history.js';
import { equalBytes, toHex } from './encoding.js';
import { CryptoError, isCryptoError } from './errors.js';
import { deviceKeyStatement } from './keys.js';
import { ownDeviceList } from './own-device-list.js';
import { pad, unpad } from './padding.js';
import { isLowOrderX25519 } from './primitives/checks.js';
import type { Now, Primitives, RandomBytes } from './primitives/types.js';
import type { RatchetLimits } from './ratchet/double-ratchet.js';
import {
  DEFAULT_LIMITS,
  initInitiator,
  initResponder,
  ratchetDecrypt,
  ratchetEncrypt,
  ratchetKeyAndDh,
} from './ratchet/double-ratchet.js';
import { type ParsedMessage, type PrekeyInfo, parseMessage } from './ratchet/message.js';
import {
  cloneSession,
  deserializeSessionSet,
  type SessionSet,
  type SessionState,
  serializeSessionSet,
} from './ratchet/state.js';
import type { Address, CryptoStore, IdentityKeyPair, LocalDeviceRecord } from './storage/types.js';
import { verifyCached } from './verify-cache.js';
import { x3dhInitiate, x3dhRespond } from './x3dh.js';

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

const addrKey = (a: Address) => `${a.userId}\u0000${a.deviceId}`;

/** The active session is sessions[0]; the oldest inactive ones beyond the limit are dropped. */
const trim = (sessions: SessionState[]) => sessions.slice(0, MAX_SESSIONS_PER_DEVICE);

/** Sesame §3 with the simultaneous-initiation rule (see the file comment): where `fresh` goes. */
function withReceivedSession(fresh: SessionState, others: SessionState[]): SessionState[] {
  const active = others[0];
  const simultaneous = active?.role === 'initiator' && active.pending !== null;
  if (simultaneous && active.id < fresh.id) return trim([active, fresh, ...others.slice(1)]);
  return trim([fresh, ...others]);
}

export class SessionManager {
  private readonly prims: Primitives;
  private readonly store: CryptoStore;
  private readonly randomBytes: RandomBytes;
  private readonly now: Now;
  private readonly limits: RatchetLimits;
  private readonly padding: boolean;
  /** Operations run one at a time: each is a read-modify-write of stored state. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Parsed copy of the last state we wrote per peer, reused while the store still holds it. */
  private readonly cache = new Map<string, { json: string; set: SessionSet }>();

  constructor(opts: SessionManagerOptions) {
    this.prims = opts.primitives;
    this.store = opts.store;
    this.randomBytes = opts.randomBytes;
    this.now = opts.now;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.padding = opts.padding ?? true;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
  }

  private async load(peer: Address): Promise<SessionSet> {
    const json = await this.store.loadSessions(peer);
    if (json === undefined) return { sessions: [] };
    const hit = this.cache.get(addrKey(peer));
    if (hit && hit.json === json) return { sessions: [...hit.set.sessions] };
    const set = deserializeSessionSet(json);
    this.cache.set(addrKey(peer), { json, set: { sessions: [...set.sessions] } });
    return set;
  }

  private async save(peer: Address, set: SessionSet): Promise<void> {
    const json = serializeSessionSet(set);
    await this.store.storeSessions(peer, json);
    this.cache.set(addrKey(peer), { json, set: { sessions: [...set.sessions] } });
  }

  /**
   * This device's identity and device key. Read once: they do not change for the life of a device
   * (a device that is reset gets new keys and a new SessionManager).
   */
  private localCache: { identity: IdentityKeyPair; device: LocalDeviceRecord } | undefined;
  private async local(): Promise<{ identity: IdentityKeyPair; device: LocalDeviceRecord }> {
    if (this.localCache) return this.localCache;
    const [identity, device] = await Promise.all([this.store.getIdentity(), this.store.getLocalDevice()]);
    if (!identity || !device) throw new CryptoError('E2E_NO_IDENTITY');
    this.localCache = { identity, device };
    return this.localCache;
  }

  /**
   * Trust on first use, then explicit: a key different from the one we know (or, for our own
   * account, from our own identity) is refused with E2E_UNTRUSTED_IDENTITY, never used silently.
   * Returns the write that records a first-seen key, for the caller to run once the message or
   * bundle is otherwise accepted (a refused message changes no state).
   */
  private async checkTrust(
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
    const trusted = await this.store.getPeerIdentity(userId);
    if (!trusted) {
      return () => this.store.savePeerIdentity(userId, { identityKey, firstSeen: this.now(), verified: false });
    }
    if (!equalBytes(trusted.identityKey, identityKey)) {
      throw new CryptoError('E2E_UNTRUSTED_IDENTITY', undefined, {
        details: { userId, identityKey, previousIdentityKey: trusted.identityKey },
      });
    }
    return none;
  }

  /** The identity key we hold for an account (our own, or the trusted peer key), if any. */
  private async knownIdentity(userId: string): Promise<Uint8Array | undefined> {
    const { identity, device } = await this.local();
    if (userId === device.userId) return identity.publicKey;
    return (await this.store.getPeerIdentity(userId))?.identityKey;
  }

  /** True when we hold a session with that device. */
  hasSession(peer: Address): Promise<boolean> {
    return this.serial(async () => (await this.load(peer)).sessions.length > 0);
  }

  /** The active session with a device, if any (for UI state and tests). */
  sessionInfo(peer: Address): Promise<SessionInfo | undefined> {
    return this.serial(async () => {
      const s = (await this.load(peer)).sessions[0];
      return (
        s && {
          sessionId: s.id,
          role: s.role,
          peerIdentityKey: s.peerIdentityKey,
          mutual: s.confirmed || s.role === 'responder',
        }
      );
    });
  }

  deleteSessions(peer: Address): Promise<void> {
    return this.serial(async () => {
      this.cache.delete(addrKey(peer));
      await this.store.deleteSessions(peer);
    });
  }

  /**
   * The user accepted a peer's new identity key (after E2E_UNTRUSTED_IDENTITY): record it,
   * unverified, and drop sessions made under the old one so the next encrypt runs X3DH again.
   */
  acceptIdentity(userId: string, identityKey: Uint8Array): Promise<void> {
    return this.serial(async () => {
      await this.store.savePeerIdentity(userId, { identityKey, firstSeen: this.now(), verified: false });
      for (const deviceId of await this.store.listSessionDevices(userId)) {
        const set = await this.load({ userId, deviceId });
        const keep = set.sessions.filter((s) => equalBytes(s.peerIdentityKey, identityKey));
        if (keep.length === set.sessions.length) continue;
        if (keep.length === 0) {
          this.cache.delete(addrKey({ userId, deviceId }));
          await this.store.deleteSessions({ userId, deviceId });
        } else await this.save({ userId, deviceId }, { sessions: keep });
      }
    });
  }

  /** Marks a peer's identity key verified (safety number compared); false if the key is not the trusted one. */
  markVerified(userId: string, identityKey: Uint8Array): Promise<boolean> {
    return this.serial(async () => {
      const t = await this.store.getPeerIdentity(userId);
      if (!t || !equalBytes(t.identityKey, identityKey)) return false;
      await this.store.savePeerIdentity(userId, { ...t, verified: true });
      return true;
    });
  }

  /**
   * Encrypts for one peer device. With no session, `bundle` (from verifyUserBundle) is required
   * and X3DH runs; the first messages carry the prekey header (with our signed device list) until
   * the peer answers. The device must be in its account's newest signed device list we hold
   * (E2E_DEVICE_REMOVED, E2E_UNKNOWN_DEVICE, E2E_NO_DEVICE_LIST otherwise). The new session state
   * is stored before the ciphertext is returned (commit before it leaves).
   */
  encrypt(
    peer: Address,
    plaintext: Uint8Array,
    bundle?: VerifiedDevice,
    opts: EncryptOptions = {},
  ): Promise<Uint8Array> {
    return this.serial(async () => {
      const { identity, device } = await this.local();
      if (bundle && (bundle.userId !== peer.userId || bundle.deviceId !== peer.deviceId)) {
        throw new CryptoError('E2E_BAD_BUNDLE', 'The bundle is for another device');
      }
      const set = await this.load(peer);
      let session = set.sessions[0];
      const peerIdentity = bundle?.identityKey ?? session?.peerIdentityKey;
      if (!peerIdentity) throw new CryptoError('E2E_SESSION_NOT_FOUND');
      await (await this.checkTrust(peer.userId, peerIdentity, identity, device.userId))();
      await requireListedDevice(this.store, peer, peerIdentity);
      if (
        bundle &&
        (!session ||
          opts.freshSession ||
          !equalBytes(session.peerIdentityKey, bundle.identityKey) ||
          !equalBytes(session.peerDeviceKey, bundle.deviceKey))
      ) {
        session = await this.initiate(identity, device, bundle);
        // Sessions under another device key (a reset device) or identity (accepted change): drop them.
        set.sessions = set.sessions.filter(
          (s) => equalBytes(s.peerDeviceKey, bundle.deviceKey) && equalBytes(s.peerIdentityKey, bundle.identityKey),
        );
        set.sessions.unshift(session);
      }
      if (!session) throw new CryptoError('E2E_SESSION_NOT_FOUND');
      const work = cloneSession(session);
      let prekey: PrekeyInfo | null = null;
      if (work.pending) {
        const deviceList = await ownDeviceList(this.store);
        if (!deviceList) {
          throw new CryptoError('E2E_NO_DEVICE_LIST', 'Our own device list is not stored: fetch our own keys first');
        }
        prekey = {
          identityKey: identity.publicKey,
          deviceKey: device.deviceKey.publicKey,
          deviceKeySignature: device.deviceKeySignature,
          baseKey: work.pending.baseKey,
          signedPrekeyId: work.pending.signedPrekeyId,
          oneTimePrekeyId: work.pending.oneTimePrekeyId,
          deviceList,
        };
      }
      const body = this.padding ? pad(plaintext) : plaintext;
      const out = ratchetEncrypt(work.ratchet, body, work.ad, prekey, this.randomBytes);
      set.sessions[set.sessions.indexOf(session)] = work;
      await this.save(peer, { sessions: trim(set.sessions) });
      return out;
    });
  }

  private async initiate(
    identity: IdentityKeyPair,
    device: LocalDeviceRecord,
    bundle: VerifiedDevice,
  ): Promise<SessionState> {
    // X3DH's DHs and the first ratchet DH (with the same signed prekey) run concurrently.
    const [x, first] = await Promise.all([
      x3dhInitiate(
        this.prims,
        this.randomBytes,
        { identityKey: identity.publicKey, deviceKey: device.deviceKey },
        bundle,
      ),
      ratchetKeyAndDh(this.prims, this.randomBytes, bundle.signedPrekey.publicKey),
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
      createdAt: this.now(),
    };
  }

  /**
   * Decrypts a message from a peer device. Refusals are typed (E2E_DECRYPT_FAILED,
   * E2E_DUPLICATE_MESSAGE, E2E_TOO_MANY_SKIPPED, E2E_UNTRUSTED_IDENTITY, E2E_PREKEY_NOT_FOUND, ...)
   * and leave every stored state exactly as it was.
   */
  decrypt(from: Address, ciphertext: Uint8Array): Promise<DecryptResult> {
    return this.serial(async () => {
      const msg = parseMessage(ciphertext);
      const set = await this.load(from);
      if (msg.prekey) {
        const id = toHex(msg.prekey.baseKey);
        const existing = set.sessions.find((s) => s.id === id);
        if (!existing) return this.acceptPrekeyMessage(from, msg, msg.prekey, set);
        return this.decryptIn(from, msg, set, [existing]);
      }
      if (set.sessions.length === 0) {
        // A removed device whose sessions were deleted is named as such, not as a lost session.
        const known = await this.knownIdentity(from.userId);
        const held = known && (await heldDeviceList(this.store, from.userId, known));
        if (held) requireListed(held, from);
        throw new CryptoError('E2E_SESSION_NOT_FOUND');
      }
      return this.decryptIn(from, msg, set, set.sessions);
    });
  }

  private async decryptIn(
    from: Address,
    msg: ParsedMessage,
    set: SessionSet,
    candidates: SessionState[],
  ): Promise<DecryptResult> {
    // The sender must still be in its account's newest signed list (a removed device cannot send).
    await requireListedDevice(this.store, from, candidates[0]!.peerIdentityKey);
    // Sessions that know this ratchet key first; the DH-ratchet path in the others after.
    const dh = toHex(msg.header.dh);
    const knows = (s: SessionState) =>
      (s.ratchet.dhRemote !== null && toHex(s.ratchet.dhRemote) === dh) ||
      s.ratchet.oldChains.has(dh) ||
      s.ratchet.skipped.has(`${dh}:${msg.header.n}`);
    const ordered = [...candidates.filter(knows), ...candidates.filter((s) => !knows(s))];
    let firstError: unknown;
    for (const session of ordered) {
      const work = cloneSession(session);
      try {
        const body = await ratchetDecrypt(this.prims, this.randomBytes, work.ratchet, msg, work.ad, this.limits);
        const plaintext = this.padding ? unpad(body) : body;
        work.confirmed = true;
        work.pending = null; // the peer answered: stop sending the prekey header (X3DH §3.3)
        set.sessions[set.sessions.indexOf(session)] = work;
        // Sesame §3: decrypting in an inactive session does not make it active (file comment).
        await this.save(from, { sessions: set.sessions });
        return { plaintext, identityKey: work.peerIdentityKey, sessionId: work.id, newSession: false };
      } catch (e) {
        if (!isCryptoError(e)) throw e;
        // A session that recognised the ratchet key gives the most precise reason.
        firstError ??= e;
      }
    }
    throw firstError ?? new CryptoError('E2E_DECRYPT_FAILED');
  }

  /** X3DH §3.4: Bob receives the initial message. */
  private async acceptPrekeyMessage(
    from: Address,
    msg: ParsedMessage,
    pk: PrekeyInfo,
    set: SessionSet,
  ): Promise<DecryptResult> {
    const { identity, device } = await this.local();
    if (isLowOrderX25519(pk.deviceKey) || isLowOrderX25519(pk.baseKey)) throw new CryptoError('E2E_LOW_ORDER_KEY');
    // Membership first (before any DH): the list the sender carries may lag behind ours
    // (allowOlder); the sender is checked against whichever is newer. Nothing is stored yet.
    const plan = await checkDeviceList(this.prims, this.store, {
      userId: from.userId,
      identityKey: pk.identityKey,
      list: pk.deviceList,
      allowOlder: true,
    });
    requireListed(plan.record ?? (await heldDeviceList(this.store, from.userId, pk.identityKey)), from);
    const spk = await this.store.getSignedPrekey(pk.signedPrekeyId);
    if (!spk) throw new CryptoError('E2E_PREKEY_NOT_FOUND', `No signed prekey ${pk.signedPrekeyId}`);
    let opk = null;
    if (pk.oneTimePrekeyId !== null) {
      opk = await this.store.getOneTimePrekey(pk.oneTimePrekeyId);
      if (!opk) throw new CryptoError('E2E_PREKEY_NOT_FOUND', `No one-time prekey ${pk.oneTimePrekeyId}`);
    }
    // The device-key signature check runs alongside X3DH; nothing is kept unless both succeed.
    const [signed, x] = await Promise.all([
      verifyCached(
        this.prims,
        pk.identityKey,
        deviceKeyStatement(from.userId, from.deviceId, pk.deviceKey),
        pk.deviceKeySignature,
      ),
      x3dhRespond(
        this.prims,
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
      createdAt: this.now(),
    };
    const body = await ratchetDecrypt(this.prims, this.randomBytes, session.ratchet, msg, session.ad, this.limits);
    const plaintext = this.padding ? unpad(body) : body;
    // Only an authenticated message may change trust state, device lists or consume a prekey; and
    // nothing is written unless every check passed.
    const recordTrust = await this.checkTrust(from.userId, pk.identityKey, identity, device.userId);
    const kept = set.sessions.filter(
      (s) => equalBytes(s.peerDeviceKey, pk.deviceKey) && equalBytes(s.peerIdentityKey, pk.identityKey),
    );
    await recordTrust();
    await commitDeviceList(this.store, from.userId, plan);
    await this.save(from, { sessions: withReceivedSession(session, kept) });
    // X3DH §3.4: delete the one-time prekey's private half once it has been used.
    if (opk) await this.store.removeOneTimePrekey(opk.keyId);
    const { status, version, added, removed } = plan.update;
    return {
      plaintext,
      identityKey: pk.identityKey,
      sessionId: session.id,
      newSession: true,
      deviceList: { status, version, added, removed },
    };
  }
}

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
import { commitDeviceList, heldDeviceList, requireListed, requireListedDevice } from './device-list-history.js';
import { equalBytes, toHex } from './encoding.js';
import { CryptoError, isCryptoError } from './errors.js';
import { ownDeviceList } from './own-device-list.js';
import { pad, unpad } from './padding.js';
import type { Now, Primitives, RandomBytes } from './primitives/types.js';
import type { RatchetLimits } from './ratchet/double-ratchet.js';
import { DEFAULT_LIMITS, ratchetDecrypt, ratchetEncrypt } from './ratchet/double-ratchet.js';
import { type ParsedMessage, type PrekeyInfo, parseMessage } from './ratchet/message.js';
import { cloneSession, type SessionSet, type SessionState } from './ratchet/state.js';
import { SessionRecords } from './session-records.js';
import {
  checkTrust,
  type DecryptResult,
  type EncryptOptions,
  initiateSession,
  respondToPrekey,
  type SessionInfo,
  type SessionManagerOptions,
  type SetupContext,
  trim,
  withReceivedSession,
} from './session-setup.js';
import type { Address, CryptoStore, IdentityKeyPair, LocalDeviceRecord } from './storage/types.js';

export type { DecryptResult, EncryptOptions, SessionInfo, SessionManagerOptions } from './session-setup.js';

export class SessionManager {
  private readonly prims: Primitives;
  private readonly store: CryptoStore;
  private readonly randomBytes: RandomBytes;
  private readonly now: Now;
  private readonly limits: RatchetLimits;
  private readonly padding: boolean;
  /** Operations run one at a time: each is a read-modify-write of stored state. */
  private tail: Promise<unknown> = Promise.resolve();
  /** Stored session sets, parsed once per write. */
  private readonly records: SessionRecords;

  constructor(opts: SessionManagerOptions) {
    this.prims = opts.primitives;
    this.store = opts.store;
    this.randomBytes = opts.randomBytes;
    this.now = opts.now;
    this.limits = { ...DEFAULT_LIMITS, ...opts.limits };
    this.padding = opts.padding ?? true;
    this.records = new SessionRecords(opts.store);
  }

  /** What session setup (session-setup.ts) needs from this manager. */
  private setup(): SetupContext {
    const { prims, randomBytes, now, store, limits, padding } = this;
    return { prims, randomBytes, now, store, limits, padding };
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.tail.then(fn, fn);
    this.tail = run.catch(() => undefined);
    return run;
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

  /** The identity key we hold for an account (our own, or the trusted peer key), if any. */
  private async knownIdentity(userId: string): Promise<Uint8Array | undefined> {
    const { identity, device } = await this.local();
    if (userId === device.userId) return identity.publicKey;
    return (await this.store.getPeerIdentity(userId))?.identityKey;
  }

  /** True when we hold a session with that device. */
  hasSession(peer: Address): Promise<boolean> {
    return this.serial(async () => (await this.records.load(peer)).sessions.length > 0);
  }

  /** The active session with a device, if any (for UI state and tests). */
  sessionInfo(peer: Address): Promise<SessionInfo | undefined> {
    return this.serial(async () => {
      const s = (await this.records.load(peer)).sessions[0];
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
      this.records.forget(peer);
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
        const set = await this.records.load({ userId, deviceId });
        const keep = set.sessions.filter((s) => equalBytes(s.peerIdentityKey, identityKey));
        if (keep.length === set.sessions.length) continue;
        if (keep.length === 0) {
          this.records.forget({ userId, deviceId });
          await this.store.deleteSessions({ userId, deviceId });
        } else await this.records.save({ userId, deviceId }, { sessions: keep });
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
      const set = await this.records.load(peer);
      let session = set.sessions[0];
      const peerIdentity = bundle?.identityKey ?? session?.peerIdentityKey;
      if (!peerIdentity) throw new CryptoError('E2E_SESSION_NOT_FOUND');
      await (await checkTrust(this.store, this.now, peer.userId, peerIdentity, identity, device.userId))();
      await requireListedDevice(this.store, peer, peerIdentity);
      if (
        bundle &&
        (!session ||
          opts.freshSession ||
          !equalBytes(session.peerIdentityKey, bundle.identityKey) ||
          !equalBytes(session.peerDeviceKey, bundle.deviceKey))
      ) {
        session = await initiateSession(this.setup(), identity, device, bundle);
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
      await this.records.save(peer, { sessions: trim(set.sessions) });
      return out;
    });
  }

  /**
   * Decrypts a message from a peer device. Refusals are typed (E2E_DECRYPT_FAILED,
   * E2E_DUPLICATE_MESSAGE, E2E_TOO_MANY_SKIPPED, E2E_UNTRUSTED_IDENTITY, E2E_PREKEY_NOT_FOUND, ...)
   * and leave every stored state exactly as it was.
   */
  decrypt(from: Address, ciphertext: Uint8Array): Promise<DecryptResult> {
    return this.serial(async () => {
      const msg = parseMessage(ciphertext);
      const set = await this.records.load(from);
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
        await this.records.save(from, { sessions: set.sessions });
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
    const { session, plaintext, plan, opk } = await respondToPrekey(this.setup(), from, msg, pk, identity, device);
    // Only an authenticated message may change trust state, device lists or consume a prekey; and
    // nothing is written unless every check passed.
    const recordTrust = await checkTrust(this.store, this.now, from.userId, pk.identityKey, identity, device.userId);
    const kept = set.sessions.filter(
      (s) => equalBytes(s.peerDeviceKey, pk.deviceKey) && equalBytes(s.peerIdentityKey, pk.identityKey),
    );
    await recordTrust();
    await commitDeviceList(this.store, from.userId, plan);
    await this.records.save(from, { sessions: withReceivedSession(session, kept) });
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

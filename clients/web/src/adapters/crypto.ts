import {
  compareQrPayload,
  createPrimitives,
  createRetryRequest,
  decryptAttachmentAsync,
  defaultRandomBytes,
  encryptAttachmentAsync,
  fromBase64,
  generateDeviceKeys,
  generateIdentity,
  generateOneTimePrekeys,
  isCryptoError,
  isRetryableDecryptError,
  isRetryRequest,
  maintainSignedPrekey,
  openRetryRequest,
  type Primitives,
  qrPayload,
  SessionManager,
  safetyNumber,
  toBase64,
  type VerifiedDevice,
  verifyUserBundle,
} from '@hush/crypto';
import type { OneTimePrekey, PublishKeysBody, SignedDeviceList, UserBundle } from '@hush/protocol';
import type { CryptoPort, DecryptOutcome, DeviceAddress } from '../engine/ports.js';

/** Refusals that say nothing about the message: this device has no keys, or lacks a primitive. */
const LOCAL_FAILURES = new Set(['E2E_NO_IDENTITY', 'E2E_UNSUPPORTED']);
/** Yields to the event loop (a macrotask, so rendering and input get their turn). */
const nextTask = () =>
  new Promise<void>((resolve) => {
    // A message, not setTimeout: timers in a hidden tab wait a second each.
    const c = new MessageChannel();
    c.port1.onmessage = () => resolve();
    c.port2.postMessage(null);
  });

import { forgetAllSessions, forgetPeerDeviceList, VaultCryptoStore } from '../store/crypto-store.js';
import type { Vault } from '../store/vault.js';
import { deviceKeysUnder, ownDeviceMethods } from './own-devices.js';
import { provisioningMethods } from './provisioning.js';

/**
 * CryptoPort over @hush/crypto: WebCrypto primitives where the browser has X25519/Ed25519
 * (tweetnacl otherwise), keys and sessions in the vault (IndexedDB, encrypted at rest).
 *
 * This adapter decides nothing about trust: a changed identity key is reported to the engine
 * (bundle status 'changed', decrypt reason 'identity-changed'), which applies core/trust.ts and
 * calls acceptIdentity when the policy says so.
 */
export function createCryptoPort(getVault: () => Vault): CryptoPort {
  const prims: Promise<Primitives> = createPrimitives();
  let bound: { vault: Vault; store: VaultCryptoStore; mgr: SessionManager } | null = null;
  /** Verified bundles of devices we have no session with yet (X3DH needs them once). */
  const fresh = new Map<string, VerifiedDevice>();
  /** Keys from retry requests, for the fresh session that answers each (PROTOCOL.md §5.3). */
  const retryKeys = new Map<string, VerifiedDevice>();
  const akey = (u: string, d: string) => `${u}/${d}`;

  const ctx = async () => {
    const vault = getVault();
    if (!bound || bound.vault !== vault) {
      const store = new VaultCryptoStore(vault);
      const mgr = new SessionManager({
        primitives: await prims,
        store,
        randomBytes: defaultRandomBytes,
        now: Date.now,
      });
      bound = { vault, store, mgr };
      fresh.clear();
    }
    return bound;
  };

  const side = (stableId: string, identityKey: Uint8Array) => ({ stableId, identityKey });
  return {
    ...provisioningMethods(prims),
    ...ownDeviceMethods(prims, async () => (await ctx()).store),
    async hasDevice(userId, deviceId) {
      const { store } = await ctx();
      const [id, dev] = await Promise.all([store.getIdentity(), store.getLocalDevice()]);
      return Boolean(id && dev && dev.userId === userId && dev.deviceId === deviceId);
    },

    async createDevice(userId, deviceId, now, oneTimePrekeys): Promise<PublishKeysBody> {
      const { store } = await ctx();
      const p = await prims;
      await store.saveIdentity(await generateIdentity(p, defaultRandomBytes));
      return generateDeviceKeys(p, store, {
        userId,
        deviceId,
        randomBytes: defaultRandomBytes,
        now: () => now,
        oneTimePrekeys,
      });
    },

    async generatePrekeys(n): Promise<OneTimePrekey[]> {
      const { store } = await ctx();
      return generateOneTimePrekeys(await prims, store, { randomBytes: defaultRandomBytes, count: n });
    },

    async sealAttachment(bytes, onProgress) {
      // Chunk by chunk with a pause every MiB, so the page draws its progress bar meanwhile.
      const { blob, secrets } = await encryptAttachmentAsync(bytes, {
        randomBytes: defaultRandomBytes,
        pause: nextTask,
        ...(onProgress ? { onProgress } : {}),
      });
      return { blob, key: toBase64(secrets.key), digest: toBase64(secrets.digest), size: secrets.size };
    },

    async openAttachment(blob, ref, onProgress) {
      const secrets = { key: fromBase64(ref.key), digest: fromBase64(ref.digest), size: ref.size };
      return decryptAttachmentAsync(blob, secrets, { pause: nextTask, ...(onProgress ? { onProgress } : {}) });
    },

    async maintainSignedPrekey(now) {
      const { store } = await ctx();
      const r = await maintainSignedPrekey(await prims, store, { randomBytes: defaultRandomBytes, now });
      const newest = (await store.listSignedPrekeys())
        .sort((a, b) => a.createdAt - b.createdAt || a.keyId - b.keyId)
        .at(-1);
      if (!newest) throw new Error('no signed prekey');
      const current = {
        keyId: newest.keyId,
        publicKey: toBase64(newest.keyPair.publicKey),
        createdAt: newest.createdAt,
        signature: toBase64(newest.signature),
      };
      return { current, rotated: r.rotated !== null, nextCheckAt: r.nextCheckAt };
    },

    async acceptBundle(bundle: UserBundle, now) {
      const { store } = await ctx();
      const p = await prims;
      const v = await verifyUserBundle(p, bundle, { userId: bundle.userId, store, now: () => now });
      // Devices under an identity we do not trust (yet) are not prepared for encryption, and
      // leave what we had untouched.
      if (v.identityStatus !== 'changed') {
        for (const [k] of fresh) if (k.startsWith(`${bundle.userId}/`)) fresh.delete(k);
        for (const d of v.devices) fresh.set(akey(d.userId, d.deviceId), d);
      }
      return {
        identityKey: toBase64(v.identityKey),
        status: v.identityStatus,
        devices: v.devices.map((d) => d.deviceId),
      };
    },

    async acceptIdentity(userId, identityKey) {
      const { mgr, vault } = await ctx();
      await mgr.acceptIdentity(userId, fromBase64(identityKey));
      await forgetPeerDeviceList(vault, userId);
    },

    async knownDevices(userId) {
      const { store } = await ctx();
      const list = await store.getPeerDeviceList(userId);
      if (!list) return null;
      const withSession = new Set(await store.listSessionDevices(userId));
      // Our own account's list names this device too: it needs no session with itself.
      const local = await store.getLocalDevice();
      const listed = list.devices.filter((d) => !(local?.userId === userId && local.deviceId === d));
      const usable = listed.filter((d) => withSession.has(d) || fresh.has(akey(userId, d)));
      // A listed device we cannot reach yet: ask for a fresh bundle first.
      return usable.length === listed.length ? usable : null;
    },

    async batch(fn) {
      return (await ctx()).store.batch(fn);
    },

    async encrypt(to: DeviceAddress, plaintext) {
      const { mgr } = await ctx();
      const k = akey(to.user, to.device);
      const out = await mgr.encrypt({ userId: to.user, deviceId: to.device }, plaintext, fresh.get(k));
      fresh.delete(k);
      return toBase64(out);
    },

    async decrypt(from: DeviceAddress, body): Promise<DecryptOutcome> {
      const { mgr, store } = await ctx();
      let bytes: Uint8Array;
      try {
        bytes = fromBase64(body);
      } catch {
        return { ok: false, reason: 'undecryptable' };
      }
      try {
        const r = await mgr.decrypt({ userId: from.user, deviceId: from.device }, bytes);
        // Only a session start proves anything new about the sender's identity; later messages
        // ride a session under the key we already trust.
        return { ok: true, plaintext: r.plaintext, identityKey: r.newSession ? toBase64(r.identityKey) : null };
      } catch (e) {
        // Anything that is not a protocol refusal (IndexedDB, quota, a locked vault) is a local
        // failure: rethrown, so the engine leaves the envelope in the mailbox.
        if (!isCryptoError(e) || LOCAL_FAILURES.has(e.code)) throw e;
        if (e.code === 'E2E_DUPLICATE_MESSAGE') return { ok: false, reason: 'duplicate' };
        if (e.code === 'E2E_DEVICE_REMOVED') return { ok: false, reason: 'device-removed' };
        const newKey = e.code === 'E2E_UNTRUSTED_IDENTITY' ? e.details?.identityKey : undefined;
        if (newKey instanceof Uint8Array) {
          const own = (await store.getLocalDevice())?.userId === from.user;
          return { ok: false, reason: 'identity-changed', identityKey: toBase64(newKey), own };
        }
        return isRetryableDecryptError(e)
          ? { ok: false, reason: 'undecryptable', retryable: true }
          : { ok: false, reason: 'undecryptable' };
      }
    },

    async retryRequest(to, messageId, attempt, now) {
      const { store } = await ctx();
      const bytes = await createRetryRequest(await prims, store, {
        to: { userId: to.user, deviceId: to.device },
        messageId,
        attempt,
        randomBytes: defaultRandomBytes,
        now: () => now,
      });
      return toBase64(bytes);
    },

    async openRetry(from, body, now) {
      let bytes: Uint8Array;
      try {
        bytes = fromBase64(body);
      } catch {
        return null;
      }
      if (!isRetryRequest(bytes)) return null;
      const { store } = await ctx();
      let opened: Awaited<ReturnType<typeof openRetryRequest>>;
      try {
        opened = await openRetryRequest(await prims, store, { userId: from.user, deviceId: from.device }, bytes, {
          now: () => now,
        });
      } catch (e) {
        // No identity known at all (a restored store): the engine fetches the keys and asks again.
        if (isCryptoError(e, 'E2E_UNTRUSTED_IDENTITY') && e.details?.known === false) return { unknownRequester: true };
        throw e;
      }
      const { request, bundle } = opened;
      retryKeys.set(akey(from.user, from.device), bundle);
      return { messageId: request.messageId, attempt: request.attempt };
    },

    async encryptRetry(to, plaintext) {
      const { mgr } = await ctx();
      const k = akey(to.user, to.device);
      const bundle = retryKeys.get(k);
      if (!bundle) throw new Error('no retry request from that device');
      const out = await mgr.encrypt({ userId: to.user, deviceId: to.device }, plaintext, bundle, {
        freshSession: true,
      });
      retryKeys.delete(k);
      return toBase64(out);
    },

    async safety(myUserId, peerUserId, peerIdentityKey) {
      const { store } = await ctx();
      const me = await store.getIdentity();
      if (!me) throw new Error('no identity');
      const local = side(myUserId, me.publicKey);
      const remote = side(peerUserId, fromBase64(peerIdentityKey));
      return { digits: safetyNumber(local, remote), qrPayload: toBase64(qrPayload(local, remote)) };
    },

    async renewDevice(userId, deviceId, deviceList: SignedDeviceList, now, oneTimePrekeys) {
      const { store, vault } = await ctx();
      await forgetAllSessions(vault);
      fresh.clear();
      bound = null; // the session manager caches nothing we keep, but start it over on the new device
      return deviceKeysUnder(await prims, store, userId, deviceId, deviceList, now, oneTimePrekeys);
    },

    async checkPayload(myUserId, peerUserId, peerIdentityKey, payload) {
      const { store } = await ctx();
      const me = await store.getIdentity();
      if (!me) return false;
      let scanned: Uint8Array;
      try {
        scanned = fromBase64(payload.trim());
      } catch {
        return false;
      }
      return (
        compareQrPayload(scanned, side(myUserId, me.publicKey), side(peerUserId, fromBase64(peerIdentityKey))) ===
        'match'
      );
    },
  };
}

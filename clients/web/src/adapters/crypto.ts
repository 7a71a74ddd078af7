import {
  compareQrPayload,
  createPrimitives,
  defaultRandomBytes,
  fromBase64,
  generateDeviceKeys,
  generateIdentity,
  generateOneTimePrekeys,
  isCryptoError,
  type Primitives,
  qrPayload,
  SessionManager,
  safetyNumber,
  signDeviceList,
  toBase64,
  type VerifiedDevice,
  verifyDeviceList,
  verifyUserBundle,
} from '@hush/crypto';
import type { OneTimePrekey, PublishKeysBody, SignedDeviceList, UserBundle } from '@hush/protocol';
import type { CryptoPort, DeviceAddress } from '../engine/ports.js';
import { forgetPeerDeviceList, VaultCryptoStore } from '../store/crypto-store.js';
import type { Vault } from '../store/vault.js';

/**
 * CryptoPort over @hush/crypto: WebCrypto primitives where the browser has X25519/Ed25519
 * (tweetnacl otherwise), keys and sessions in the vault (IndexedDB, encrypted at rest).
 *
 * Identity policy (DESIGN §4, as Signal does it): trust on first use; a changed identity key is
 * accepted so the conversation keeps working, but the engine marks the conversation yellow with
 * a banner, and "verified" no longer holds until the user compares again. A device that claims
 * our own account under another identity is refused.
 */
export function createCryptoPort(getVault: () => Vault): CryptoPort {
  const prims: Promise<Primitives> = createPrimitives();
  let bound: { vault: Vault; store: VaultCryptoStore; mgr: SessionManager } | null = null;
  /** Verified bundles of devices we have no session with yet (X3DH needs them once). */
  const fresh = new Map<string, VerifiedDevice>();
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

    async acceptBundle(bundle: UserBundle, now) {
      const { store, mgr, vault } = await ctx();
      const p = await prims;
      let v = await verifyUserBundle(p, bundle, { userId: bundle.userId, store, now: () => now });
      if (v.identityStatus === 'changed') {
        await mgr.acceptIdentity(bundle.userId, v.identityKey);
        await forgetPeerDeviceList(vault, bundle.userId);
        v = await verifyUserBundle(p, bundle, { userId: bundle.userId, store, now: () => now });
      }
      for (const [k] of fresh) if (k.startsWith(`${bundle.userId}/`)) fresh.delete(k);
      for (const d of v.devices) fresh.set(akey(d.userId, d.deviceId), d);
      return { identityKey: toBase64(v.identityKey), devices: v.devices.map((d) => d.deviceId) };
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

    async encrypt(to: DeviceAddress, plaintext) {
      const { mgr } = await ctx();
      const k = akey(to.user, to.device);
      const out = await mgr.encrypt({ userId: to.user, deviceId: to.device }, plaintext, fresh.get(k));
      fresh.delete(k);
      return toBase64(out);
    },

    async decrypt(from: DeviceAddress, body) {
      const { mgr, vault } = await ctx();
      const addr = { userId: from.user, deviceId: from.device };
      const bytes = fromBase64(body);
      try {
        const r = await mgr.decrypt(addr, bytes);
        return { plaintext: r.plaintext, identityKey: toBase64(r.identityKey) };
      } catch (e) {
        const newKey = isCryptoError(e, 'E2E_UNTRUSTED_IDENTITY') ? e.details?.identityKey : undefined;
        const own = bound?.store && (await bound.store.getLocalDevice())?.userId === from.user;
        if (!(newKey instanceof Uint8Array) || own) throw e;
        // The peer started over with a new identity (new browser profile, reinstall): accept it,
        // and let the engine flag the change to the user.
        await mgr.acceptIdentity(from.user, newKey);
        await forgetPeerDeviceList(vault, from.user);
        const r = await mgr.decrypt(addr, bytes);
        return { plaintext: r.plaintext, identityKey: toBase64(r.identityKey) };
      }
    },

    async safety(myUserId, peerUserId, peerIdentityKey) {
      const { store } = await ctx();
      const me = await store.getIdentity();
      if (!me) throw new Error('no identity');
      const local = side(myUserId, me.publicKey);
      const remote = side(peerUserId, fromBase64(peerIdentityKey));
      return { digits: safetyNumber(local, remote), qrPayload: toBase64(qrPayload(local, remote)) };
    },

    async exportIdentity() {
      const { store } = await ctx();
      const id = await store.getIdentity();
      if (!id) throw new Error('no identity');
      return { seed: toBase64(id.seed), publicKey: toBase64(id.publicKey) };
    },

    async adoptIdentity(identity, userId, deviceId, deviceList: SignedDeviceList, now, oneTimePrekeys) {
      const { store } = await ctx();
      const p = await prims;
      const seed = fromBase64(identity.seed);
      const publicKey = await p.ed25519PublicKey(seed);
      // The pair must belong together and sign the list we are given, or this device would
      // publish keys nobody can verify.
      if (toBase64(publicKey) !== identity.publicKey) throw new Error('The moved identity key does not match');
      await verifyDeviceList(p, userId, publicKey, deviceList);
      if (!deviceList.devices.includes(deviceId)) throw new Error('The device list does not name this device');
      await store.saveIdentity({ seed, publicKey });
      return generateDeviceKeys(p, store, {
        userId,
        deviceId,
        randomBytes: defaultRandomBytes,
        now: () => now,
        oneTimePrekeys,
        deviceList,
      });
    },

    async ownDeviceList(bundle: UserBundle) {
      const { store } = await ctx();
      const me = await store.getIdentity();
      if (!me) throw new Error('no identity');
      if (bundle.identityKey !== toBase64(me.publicKey)) {
        throw new Error('The key directory shows another identity for this account');
      }
      const c = await verifyDeviceList(await prims, bundle.userId, me.publicKey, bundle.deviceList);
      return { version: c.version, devices: c.devices };
    },

    async signDeviceList(userId, version, devices, now) {
      const { store } = await ctx();
      const me = await store.getIdentity();
      if (!me) throw new Error('no identity');
      return signDeviceList(await prims, me, { userId, version, devices, issuedAt: now });
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

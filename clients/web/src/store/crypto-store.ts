import type {
  Address,
  CryptoStore,
  IdentityKeyPair,
  LocalDeviceRecord,
  OneTimePrekeyRecord,
  PeerDeviceListRecord,
  SignedPrekeyRecord,
  TrustRecord,
} from '@hush/crypto';
import type { Vault } from './vault.js';

/**
 * @hush/crypto's storage interface over the vault: private keys, prekeys and ratchet sessions
 * live in IndexedDB encrypted with the vault's non-extractable key. Record names carry ids only.
 */
const K = {
  identity: 'c:identity',
  device: 'c:device',
  spk: (id: number) => `c:spk:${String(id).padStart(10, '0')}`,
  spkPrefix: 'c:spk:',
  otk: (id: number) => `c:otk:${String(id).padStart(10, '0')}`,
  otkPrefix: 'c:otk:',
  session: (a: Address) => `c:sess:${a.userId}:${a.deviceId}`,
  sessionPrefix: (userId: string) => `c:sess:${userId}:`,
  peer: (userId: string) => `c:peer:${userId}`,
  list: (userId: string) => `c:list:${userId}`,
};

export class VaultCryptoStore implements CryptoStore {
  constructor(private readonly v: Vault) {}
  getIdentity() {
    return this.v.get<IdentityKeyPair>(K.identity);
  }
  saveIdentity(identity: IdentityKeyPair) {
    return this.v.put(K.identity, identity);
  }
  getLocalDevice() {
    return this.v.get<LocalDeviceRecord>(K.device);
  }
  saveLocalDevice(device: LocalDeviceRecord) {
    return this.v.put(K.device, device);
  }
  getSignedPrekey(keyId: number) {
    return this.v.get<SignedPrekeyRecord>(K.spk(keyId));
  }
  saveSignedPrekey(record: SignedPrekeyRecord) {
    return this.v.put(K.spk(record.keyId), record);
  }
  removeSignedPrekey(keyId: number) {
    return this.v.delete(K.spk(keyId));
  }
  listSignedPrekeys() {
    return this.v.list<SignedPrekeyRecord>(K.spkPrefix);
  }
  getOneTimePrekey(keyId: number) {
    return this.v.get<OneTimePrekeyRecord>(K.otk(keyId));
  }
  saveOneTimePrekey(record: OneTimePrekeyRecord) {
    return this.v.put(K.otk(record.keyId), record);
  }
  removeOneTimePrekey(keyId: number) {
    return this.v.delete(K.otk(keyId));
  }
  async countOneTimePrekeys() {
    return (await this.v.keys(K.otkPrefix)).length;
  }
  loadSessions(peer: Address) {
    return this.v.get<string>(K.session(peer));
  }
  storeSessions(peer: Address, serialized: string) {
    return this.v.put(K.session(peer), serialized);
  }
  deleteSessions(peer: Address) {
    return this.v.delete(K.session(peer));
  }
  async listSessionDevices(userId: string) {
    const p = K.sessionPrefix(userId);
    return (await this.v.keys(p)).map((k) => k.slice(p.length));
  }
  getPeerIdentity(userId: string) {
    return this.v.get<TrustRecord>(K.peer(userId));
  }
  savePeerIdentity(userId: string, record: TrustRecord) {
    return this.v.put(K.peer(userId), record);
  }
  getPeerDeviceList(userId: string) {
    return this.v.get<PeerDeviceListRecord>(K.list(userId));
  }
  savePeerDeviceList(userId: string, record: PeerDeviceListRecord) {
    return this.v.put(K.list(userId), record);
  }
}

/**
 * After a peer's identity reset its new device list starts again at version 1; the rollback check
 * must compare against lists signed by the new identity only, so the old record is dropped when
 * the new identity is accepted.
 */
export async function forgetPeerDeviceList(v: Vault, userId: string): Promise<void> {
  await v.delete(K.list(userId));
}

/**
 * This browser signed in again as a new device of the same account (its session had expired):
 * ratchet sessions belong to the old device id, and peers would fail every message sent over
 * them, so they go; peers start fresh sessions with the new device from its published keys.
 */
export async function forgetAllSessions(v: Vault): Promise<void> {
  for (const k of await v.keys('c:sess:')) await v.delete(k);
}

/** In-memory CryptoStore, for tests, benchmarks and the command-line client. Copies on the way in and out. */

import type {
  Address,
  CryptoStore,
  IdentityKeyPair,
  LocalDeviceRecord,
  OneTimePrekeyRecord,
  PeerDeviceListRecord,
  SignedPrekeyRecord,
  TrustRecord,
} from './types.js';

const addr = (a: Address) => `${a.userId}\u0000${a.deviceId}`;

export class MemoryStore implements CryptoStore {
  private identity: IdentityKeyPair | undefined;
  private device: LocalDeviceRecord | undefined;
  private readonly signed = new Map<number, SignedPrekeyRecord>();
  private readonly oneTime = new Map<number, OneTimePrekeyRecord>();
  private readonly sessions = new Map<string, string>();
  private readonly peers = new Map<string, TrustRecord>();
  private readonly lists = new Map<string, PeerDeviceListRecord>();

  async getIdentity() {
    return this.identity && structuredClone(this.identity);
  }
  async saveIdentity(identity: IdentityKeyPair) {
    this.identity = structuredClone(identity);
  }
  async getLocalDevice() {
    return this.device && structuredClone(this.device);
  }
  async saveLocalDevice(device: LocalDeviceRecord) {
    this.device = structuredClone(device);
  }
  async getSignedPrekey(keyId: number) {
    const r = this.signed.get(keyId);
    return r && structuredClone(r);
  }
  async saveSignedPrekey(record: SignedPrekeyRecord) {
    this.signed.set(record.keyId, structuredClone(record));
  }
  async removeSignedPrekey(keyId: number) {
    this.signed.get(keyId)?.keyPair.privateKey.fill(0);
    this.signed.delete(keyId);
  }
  async listSignedPrekeys() {
    return [...this.signed.values()].map((r) => structuredClone(r));
  }
  async getOneTimePrekey(keyId: number) {
    const r = this.oneTime.get(keyId);
    return r && structuredClone(r);
  }
  async saveOneTimePrekey(record: OneTimePrekeyRecord) {
    this.oneTime.set(record.keyId, structuredClone(record));
  }
  async removeOneTimePrekey(keyId: number) {
    this.oneTime.get(keyId)?.keyPair.privateKey.fill(0);
    this.oneTime.delete(keyId);
  }
  async countOneTimePrekeys() {
    return this.oneTime.size;
  }
  async loadSessions(peer: Address) {
    return this.sessions.get(addr(peer));
  }
  async storeSessions(peer: Address, serialized: string) {
    this.sessions.set(addr(peer), serialized);
  }
  async deleteSessions(peer: Address) {
    this.sessions.delete(addr(peer));
  }
  async listSessionDevices(userId: string) {
    const out: string[] = [];
    for (const k of this.sessions.keys()) {
      const [u, d] = k.split('\u0000');
      if (u === userId && d !== undefined) out.push(d);
    }
    return out;
  }
  async getPeerIdentity(userId: string) {
    const r = this.peers.get(userId);
    return r && structuredClone(r);
  }
  async savePeerIdentity(userId: string, record: TrustRecord) {
    this.peers.set(userId, structuredClone(record));
  }
  async getPeerDeviceList(userId: string) {
    const r = this.lists.get(userId);
    return r && structuredClone(r);
  }
  async savePeerDeviceList(userId: string, record: PeerDeviceListRecord) {
    this.lists.set(userId, structuredClone(record));
  }
}

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

const GONE = Symbol('deleted');

export class VaultCryptoStore implements CryptoStore {
  /** Writes held during batch(), by record name (GONE: deleted). */
  private held: Map<string, unknown> | null = null;
  /** Records and key lists read during batch(): nobody else writes this store meanwhile (the engine's queue). */
  private seen: Map<string, unknown> | null = null;
  private seenKeys: Map<string, string[]> | null = null;

  constructor(private readonly v: Vault) {}

  /**
   * Runs `fn` with this store's writes held in memory, then commits them in one durable
   * transaction before resolving. Encrypting a burst's messages inside one batch costs one
   * flush to disk instead of one per message; the rule of libs/crypto PROTOCOL.md §4 still holds
   * because no ciphertext made inside leaves before batch() resolved (the caller sends after).
   * Nested calls join the outer batch. Callers serialise (the engine's queue).
   */
  async batch<T>(fn: () => Promise<T>): Promise<T> {
    if (this.held) return fn();
    this.held = new Map();
    this.seen = new Map();
    this.seenKeys = new Map();
    try {
      return await fn();
    } finally {
      const held = this.held;
      this.held = null;
      this.seen = null;
      this.seenKeys = null;
      const puts = [...held].filter(([, v]) => v !== GONE);
      if (puts.length > 0) await this.v.putMany(puts);
      for (const [k, v] of held) if (v === GONE) await this.v.delete(k);
    }
  }

  private async get<T>(name: string): Promise<T | undefined> {
    if (this.held?.has(name)) {
      const v = this.held.get(name);
      return v === GONE ? undefined : (v as T);
    }
    if (this.seen?.has(name)) return this.seen.get(name) as T | undefined;
    const v = await this.v.get<T>(name);
    this.seen?.set(name, v);
    return v;
  }
  private async put(name: string, value: unknown): Promise<void> {
    if (this.held) this.held.set(name, value);
    else await this.v.put(name, value);
  }
  private async del(name: string): Promise<void> {
    if (this.held) this.held.set(name, GONE);
    else await this.v.delete(name);
  }
  private async keys(prefix: string): Promise<string[]> {
    const stored = this.seenKeys?.get(prefix) ?? (await this.v.keys(prefix));
    this.seenKeys?.set(prefix, stored);
    if (!this.held) return stored;
    const out = new Set(stored);
    for (const [k, v] of this.held) if (k.startsWith(prefix)) v === GONE ? out.delete(k) : out.add(k);
    return [...out].sort();
  }
  private async list<T>(prefix: string): Promise<T[]> {
    if (!this.held) return this.v.list<T>(prefix);
    const out: T[] = [];
    for (const k of await this.keys(prefix)) {
      const v = await this.get<T>(k).catch(() => undefined);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
  getIdentity() {
    return this.get<IdentityKeyPair>(K.identity);
  }
  saveIdentity(identity: IdentityKeyPair) {
    return this.put(K.identity, identity);
  }
  getLocalDevice() {
    return this.get<LocalDeviceRecord>(K.device);
  }
  saveLocalDevice(device: LocalDeviceRecord) {
    return this.put(K.device, device);
  }
  getSignedPrekey(keyId: number) {
    return this.get<SignedPrekeyRecord>(K.spk(keyId));
  }
  saveSignedPrekey(record: SignedPrekeyRecord) {
    return this.put(K.spk(record.keyId), record);
  }
  removeSignedPrekey(keyId: number) {
    return this.del(K.spk(keyId));
  }
  listSignedPrekeys() {
    return this.list<SignedPrekeyRecord>(K.spkPrefix);
  }
  getOneTimePrekey(keyId: number) {
    return this.get<OneTimePrekeyRecord>(K.otk(keyId));
  }
  saveOneTimePrekey(record: OneTimePrekeyRecord) {
    return this.put(K.otk(record.keyId), record);
  }
  removeOneTimePrekey(keyId: number) {
    return this.del(K.otk(keyId));
  }
  async countOneTimePrekeys() {
    return (await this.keys(K.otkPrefix)).length;
  }
  loadSessions(peer: Address) {
    return this.get<string>(K.session(peer));
  }
  storeSessions(peer: Address, serialized: string) {
    return this.put(K.session(peer), serialized);
  }
  deleteSessions(peer: Address) {
    return this.del(K.session(peer));
  }
  async listSessionDevices(userId: string) {
    const p = K.sessionPrefix(userId);
    return (await this.keys(p)).map((k) => k.slice(p.length));
  }
  getPeerIdentity(userId: string) {
    return this.get<TrustRecord>(K.peer(userId));
  }
  savePeerIdentity(userId: string, record: TrustRecord) {
    return this.put(K.peer(userId), record);
  }
  getPeerDeviceList(userId: string) {
    return this.get<PeerDeviceListRecord>(K.list(userId));
  }
  savePeerDeviceList(userId: string, record: PeerDeviceListRecord) {
    return this.put(K.list(userId), record);
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

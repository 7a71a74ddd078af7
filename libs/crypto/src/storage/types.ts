/**
 * Storage is the caller's: an async interface (the browser implements it over IndexedDB) with an
 * in-memory twin (`MemoryStore`). The protocol never does I/O itself (STYLE.md habit 1).
 * Records hold raw key bytes; sessions are stored as opaque versioned strings (see ratchet/serialize.ts).
 */

/** A (user, device) pair: Sesame's unit of addressing. */
export interface Address {
  userId: string;
  deviceId: string;
}

/** The account's Ed25519 identity key (shared by all the account's devices). */
export interface IdentityKeyPair {
  publicKey: Uint8Array;
  /** RFC 8032 32-byte private seed. */
  seed: Uint8Array;
}

export interface KeyPair {
  publicKey: Uint8Array;
  privateKey: Uint8Array;
}

/** This device: its address, its long-term X25519 device key and the identity's signature over it. */
export interface LocalDeviceRecord {
  userId: string;
  deviceId: string;
  deviceKey: KeyPair;
  deviceKeySignature: Uint8Array;
  /** Next key ids to hand out (ids are never reused, so a stale prekey message cannot hit a new key). */
  nextSignedPrekeyId: number;
  nextOneTimePrekeyId: number;
}

export interface SignedPrekeyRecord {
  keyId: number;
  keyPair: KeyPair;
  createdAt: number;
  signature: Uint8Array;
}

export interface OneTimePrekeyRecord {
  keyId: number;
  keyPair: KeyPair;
  signature: Uint8Array;
}

/** What we know about a peer account's identity key (trust on first use, then explicit). */
export interface TrustRecord {
  identityKey: Uint8Array;
  firstSeen: number;
  /** Set when the user compared safety numbers or scanned the QR code. */
  verified: boolean;
}

/** One device-list version we verified (kept in PeerDeviceListRecord.history). */
export interface DeviceListHistoryEntry {
  version: number;
  issuedAt: number;
  /** Sorted. The same version with other devices or another issuedAt is a fork. */
  devices: string[];
}

/**
 * The newest signed device list we verified for an account (a peer's, or our own), with the
 * versions seen before it. `version`/`devices`/`issuedAt` are the newest list; the optional fields
 * are filled by this version of the library (records written by older ones lack them and are
 * upgraded on the next list seen).
 */
export interface PeerDeviceListRecord {
  version: number;
  devices: string[];
  issuedAt: number;
  /** Ed25519 signature of the newest list (our own list travels in prekey messages with it). */
  signature?: Uint8Array;
  /** The identity key that signed it; a record under another key belongs to a replaced identity. */
  identityKey?: Uint8Array;
  /** Versions seen, oldest first, the newest included, at most DEVICE_LIST_HISTORY. */
  history?: DeviceListHistoryEntry[];
}

export interface CryptoStore {
  getIdentity(): Promise<IdentityKeyPair | undefined>;
  saveIdentity(identity: IdentityKeyPair): Promise<void>;

  getLocalDevice(): Promise<LocalDeviceRecord | undefined>;
  saveLocalDevice(device: LocalDeviceRecord): Promise<void>;

  getSignedPrekey(keyId: number): Promise<SignedPrekeyRecord | undefined>;
  saveSignedPrekey(record: SignedPrekeyRecord): Promise<void>;
  removeSignedPrekey(keyId: number): Promise<void>;
  listSignedPrekeys(): Promise<SignedPrekeyRecord[]>;

  getOneTimePrekey(keyId: number): Promise<OneTimePrekeyRecord | undefined>;
  saveOneTimePrekey(record: OneTimePrekeyRecord): Promise<void>;
  removeOneTimePrekey(keyId: number): Promise<void>;
  countOneTimePrekeys(): Promise<number>;

  /** Sessions with one peer device, as an opaque versioned string; undefined when none. */
  loadSessions(peer: Address): Promise<string | undefined>;
  storeSessions(peer: Address, serialized: string): Promise<void>;
  deleteSessions(peer: Address): Promise<void>;
  /** Device ids we hold sessions with for a user (Sesame: fan-out and cleanup). */
  listSessionDevices(userId: string): Promise<string[]>;

  getPeerIdentity(userId: string): Promise<TrustRecord | undefined>;
  savePeerIdentity(userId: string, record: TrustRecord): Promise<void>;

  /** Newest signed device list (with history) per account, our own account included. */
  getPeerDeviceList(userId: string): Promise<PeerDeviceListRecord | undefined>;
  savePeerDeviceList(userId: string, record: PeerDeviceListRecord): Promise<void>;
}

/**
 * Where encrypted records live. The browser uses IndexedDB; unit tests use the in-memory twin.
 * Values are opaque (already encrypted by the vault); keys are short strings such as
 * "msg:<peer>:<id>" that name records but carry no message content.
 */
export interface StoredRecord {
  iv: Uint8Array;
  ct: Uint8Array;
  /** The plaintext is the bytes themselves, not serialized JSON (a file: store/vault.ts). */
  raw?: true;
}

export interface RecordStore {
  get(key: string): Promise<StoredRecord | undefined>;
  put(key: string, rec: StoredRecord): Promise<void>;
  /** Several records in one transaction: all or none, one flush to disk for the lot. */
  putMany(entries: readonly (readonly [string, StoredRecord])[]): Promise<void>;
  delete(key: string): Promise<void>;
  /** Keys starting with prefix, in key order. */
  keys(prefix: string): Promise<string[]>;
  /** The vault's key, stored as a structured-cloned CryptoKey (never exported). */
  getKey(name: string): Promise<CryptoKey | undefined>;
  putKey(name: string, key: CryptoKey): Promise<void>;
  deleteKey(name: string): Promise<void>;
  /** Deletes everything (sign-out). */
  clear(): Promise<void>;
}

export class MemoryRecordStore implements RecordStore {
  readonly data = new Map<string, StoredRecord>();
  readonly cryptoKeys = new Map<string, CryptoKey>();
  async get(key: string) {
    return this.data.get(key);
  }
  async put(key: string, rec: StoredRecord) {
    this.data.set(key, rec);
  }
  async putMany(entries: readonly (readonly [string, StoredRecord])[]) {
    for (const [k, r] of entries) this.data.set(k, r);
  }
  async delete(key: string) {
    this.data.delete(key);
  }
  async keys(prefix: string) {
    return [...this.data.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
  async getKey(name: string) {
    return this.cryptoKeys.get(name);
  }
  async putKey(name: string, key: CryptoKey) {
    this.cryptoKeys.set(name, key);
  }
  async deleteKey(name: string) {
    this.cryptoKeys.delete(name);
  }
  async clear() {
    this.data.clear();
    this.cryptoKeys.clear();
  }
}

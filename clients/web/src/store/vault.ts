import type { RecordStore } from './records.js';
import { deserialize, serialize } from './serial.js';

/**
 * Encryption at rest for everything the client keeps: history, sessions, private keys, tokens.
 *
 * The key is an AES-256-GCM WebCrypto key generated with extractable = false and stored in
 * IndexedDB as a CryptoKey object: script on the page can use it but never read its bytes, so a
 * copy of the database files alone does not reveal history. Each record gets a fresh 96-bit IV
 * and its own name as associated data, so records cannot be swapped for one another unnoticed.
 */
const VAULT_KEY = 'vault';
const IV_BYTES = 12;
const enc = new TextEncoder();
const dec = new TextDecoder();

export class Vault {
  private constructor(
    private readonly records: RecordStore,
    private readonly key: CryptoKey,
  ) {}

  static async open(records: RecordStore): Promise<Vault> {
    let key = await records.getKey(VAULT_KEY);
    if (!key) {
      key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt']);
      await records.putKey(VAULT_KEY, key);
    }
    return new Vault(records, key);
  }

  async get<T>(name: string): Promise<T | undefined> {
    const rec = await this.records.get(name);
    if (!rec) return undefined;
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: rec.iv as BufferSource, additionalData: enc.encode(name) },
      this.key,
      rec.ct as BufferSource,
    );
    return deserialize<T>(dec.decode(pt));
  }

  async put(name: string, value: unknown): Promise<void> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const ct = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: enc.encode(name) },
      this.key,
      enc.encode(serialize(value)),
    );
    await this.records.put(name, { iv, ct: new Uint8Array(ct) });
  }

  delete(name: string): Promise<void> {
    return this.records.delete(name);
  }

  keys(prefix: string): Promise<string[]> {
    return this.records.keys(prefix);
  }

  async list<T>(prefix: string): Promise<T[]> {
    const out: T[] = [];
    for (const k of await this.records.keys(prefix)) {
      const v = await this.get<T>(k);
      if (v !== undefined) out.push(v);
    }
    return out;
  }

  /** Forgets everything including the key (sign-out). */
  wipe(): Promise<void> {
    return this.records.clear();
  }
}

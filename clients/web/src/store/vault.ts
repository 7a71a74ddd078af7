import { MIN_PASSPHRASE_CHARS } from '../core/limits.js';
import type { RecordStore, StoredRecord } from './records.js';
import { deserialize, serialize } from './serial.js';

/**
 * Encryption at rest for everything the client keeps: history, sessions, private keys, tokens.
 *
 * Default: the key is an AES-256-GCM WebCrypto key generated with extractable = false and stored
 * in IndexedDB as a CryptoKey object: script on the page can use it but never read its bytes, so
 * a copy of the database files alone does not reveal history.
 *
 * App lock (optional): the data key is instead stored only wrapped (AES-GCM) under a key derived
 * from the user's passphrase with PBKDF2-HMAC-SHA-256; on unlock it is unwrapped as
 * non-extractable and lives only in memory. Setting or removing the lock re-encrypts every record.
 *
 * Each record gets a fresh 96-bit IV and its own name as associated data, so records cannot be
 * swapped for one another unnoticed.
 */
const VAULT_KEY = 'vault';
/** The wrapped data key and its KDF salt, when an app lock is set (not itself vault-encrypted). */
export const LOCK_RECORD = '!lock';
/** OWASP's 2023 recommendation for PBKDF2-HMAC-SHA-256 (WebCrypto has no Argon2). */
export const PBKDF2_ITERATIONS = 600_000;
export { MIN_PASSPHRASE_CHARS };

const SALT_BYTES = 16;
const IV_BYTES = 12;
const enc = new TextEncoder();
const dec = new TextDecoder();
/** AES-GCM associated data: the record's name, and for raw bytes a suffix JSON names cannot end in. */
const ad = (name: string, raw: boolean) => enc.encode(raw ? `${name}\u0000bytes` : name);

export class VaultLockedError extends Error {
  override readonly name = 'VaultLockedError';
}
export class WrongPassphraseError extends Error {
  override readonly name = 'WrongPassphraseError';
}

const AES = { name: 'AES-GCM', length: 256 } as const;

async function deriveKek(passphrase: string, salt: Uint8Array, iterations: number): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey('raw', enc.encode(passphrase.normalize('NFKC')), 'PBKDF2', false, [
    'deriveKey',
  ]);
  return crypto.subtle.deriveKey(
    { name: 'PBKDF2', hash: 'SHA-256', salt: salt as BufferSource, iterations },
    base,
    AES,
    false,
    ['wrapKey', 'unwrapKey'],
  );
}

export class Vault {
  private constructor(
    private readonly records: RecordStore,
    private key: CryptoKey,
    private locked: boolean,
  ) {}

  static async isLocked(records: RecordStore): Promise<boolean> {
    return (await records.get(LOCK_RECORD)) !== undefined;
  }

  /** Opens the vault with its stored key (creating one on first use); throws VaultLockedError under an app lock. */
  static async open(records: RecordStore): Promise<Vault> {
    if (await Vault.isLocked(records)) throw new VaultLockedError('The store is locked with a passphrase');
    let key = await records.getKey(VAULT_KEY);
    if (!key) {
      key = await crypto.subtle.generateKey(AES, false, ['encrypt', 'decrypt']);
      await records.putKey(VAULT_KEY, key);
    }
    return new Vault(records, key, false);
  }

  /** Opens a locked vault; WrongPassphraseError when the passphrase does not unwrap its key. */
  static async unlock(records: RecordStore, passphrase: string, iterations = PBKDF2_ITERATIONS): Promise<Vault> {
    const lock = await records.get(LOCK_RECORD);
    if (!lock) return Vault.open(records);
    const salt = lock.iv.subarray(0, SALT_BYTES);
    const iv = lock.iv.subarray(SALT_BYTES);
    const kek = await deriveKek(passphrase, salt, iterations);
    try {
      const key = await crypto.subtle.unwrapKey(
        'raw',
        lock.ct as BufferSource,
        kek,
        { name: 'AES-GCM', iv: iv as BufferSource },
        AES,
        false,
        ['encrypt', 'decrypt'],
      );
      return new Vault(records, key, true);
    } catch (e) {
      throw new WrongPassphraseError('Wrong passphrase', { cause: e });
    }
  }

  get hasLock(): boolean {
    return this.locked;
  }

  /**
   * Sets (or changes) the app lock: a new data key, stored only wrapped under the passphrase.
   * Deviation to know: the re-encryption is not crash-atomic (a crash midway loses the records
   * not yet rewritten); stores are small and this runs once on request.
   */
  async setLock(passphrase: string, iterations = PBKDF2_ITERATIONS): Promise<void> {
    if (passphrase.length < MIN_PASSPHRASE_CHARS) throw new Error(`Use at least ${MIN_PASSPHRASE_CHARS} characters`);
    const salt = crypto.getRandomValues(new Uint8Array(SALT_BYTES));
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const kek = await deriveKek(passphrase, salt, iterations);
    // Extractable only so it can be wrapped here; the copy kept in memory is not.
    const exportable = await crypto.subtle.generateKey(AES, true, ['encrypt', 'decrypt']);
    const wrapped = new Uint8Array(await crypto.subtle.wrapKey('raw', exportable, kek, { name: 'AES-GCM', iv }));
    const key = await crypto.subtle.unwrapKey('raw', wrapped, kek, { name: 'AES-GCM', iv }, AES, false, [
      'encrypt',
      'decrypt',
    ]);
    await this.rekey(key);
    const both = new Uint8Array(SALT_BYTES + IV_BYTES);
    both.set(salt);
    both.set(iv, SALT_BYTES);
    await this.records.put(LOCK_RECORD, { iv: both, ct: wrapped });
    await this.records.deleteKey(VAULT_KEY);
    this.locked = true;
  }

  /** Back to a stored non-extractable key (no passphrase). */
  async removeLock(): Promise<void> {
    const key = await crypto.subtle.generateKey(AES, false, ['encrypt', 'decrypt']);
    await this.rekey(key);
    await this.records.putKey(VAULT_KEY, key);
    await this.records.delete(LOCK_RECORD);
    this.locked = false;
  }

  /** While a re-key runs, every other read and write waits for it (a write in between would be lost). */
  private gate: Promise<void> | null = null;

  private async rekey(next: CryptoKey): Promise<void> {
    while (this.gate) await this.gate;
    let open!: () => void;
    this.gate = new Promise<void>((r) => {
      open = r;
    });
    try {
      const names = await this.keys('');
      const values: [string, unknown][] = [];
      for (const n of names) {
        try {
          values.push([n, await this.read(n)]);
        } catch {
          // unreadable already (see list()): drop it rather than carry it under the new key
        }
      }
      this.key = next;
      for (const [n, v] of values) await this.write(n, v);
    } finally {
      this.gate = null;
      open();
    }
  }

  async get<T>(name: string): Promise<T | undefined> {
    while (this.gate) await this.gate;
    return this.read<T>(name);
  }

  async put(name: string, value: unknown): Promise<void> {
    while (this.gate) await this.gate;
    return this.write(name, value);
  }

  /** Several records in one durable transaction (a burst's ticks, a message and its conversation). */
  async putMany(entries: readonly (readonly [string, unknown])[]): Promise<void> {
    while (this.gate) await this.gate;
    const sealed = await Promise.all(entries.map(async ([n, v]) => [n, await this.seal(n, v)] as const));
    await this.records.putMany(sealed);
  }

  private async read<T>(name: string): Promise<T | undefined> {
    const rec = await this.records.get(name);
    if (!rec) return undefined;
    const pt = await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: rec.iv as BufferSource, additionalData: ad(name, rec.raw === true) },
      this.key,
      rec.ct as BufferSource,
    );
    return rec.raw ? (new Uint8Array(pt) as T) : deserialize<T>(dec.decode(pt));
  }

  /**
   * A value is stored as JSON (store/serial.ts), except bytes on their own (a file), which are
   * encrypted as they are: base64 inside JSON made a 20 MB file 27 MB of string to build and parse.
   * The associated data says which, so a record cannot be passed off as the other kind.
   */
  private async seal(name: string, value: unknown): Promise<StoredRecord> {
    const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
    const raw = value instanceof Uint8Array;
    const ct = await crypto.subtle.encrypt(
      { name: 'AES-GCM', iv, additionalData: ad(name, raw) },
      this.key,
      (raw ? value : enc.encode(serialize(value))) as BufferSource,
    );
    return raw ? { iv, ct: new Uint8Array(ct), raw } : { iv, ct: new Uint8Array(ct) };
  }

  private async write(name: string, value: unknown): Promise<void> {
    await this.records.put(name, await this.seal(name, value));
  }

  async delete(name: string): Promise<void> {
    while (this.gate) await this.gate;
    return this.records.delete(name);
  }

  async keys(prefix: string): Promise<string[]> {
    return (await this.records.keys(prefix)).filter((k) => k !== LOCK_RECORD);
  }

  async list<T>(prefix: string): Promise<T[]> {
    const out: T[] = [];
    for (const k of await this.keys(prefix)) {
      try {
        const v = await this.get<T>(k);
        if (v !== undefined) out.push(v);
      } catch {
        // One record that no longer decrypts (tampered, or cut off by a crash mid re-key) must
        // not take the rest of the history with it.
        console.warn('hush: skipped an unreadable record', k);
      }
    }
    return out;
  }

  /** Forgets everything including the key and any lock (sign-out). */
  wipe(): Promise<void> {
    return this.records.clear();
  }
}

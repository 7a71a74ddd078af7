import type { RecordStore, StoredRecord } from './records.js';

/** One IndexedDB database per browser profile; bump DB_VERSION with a migration when stores change. */
export const DB_NAME = 'hush';
const DB_VERSION = 1;
const DATA = 'data';
const KEYS = 'keys';

const req = <T>(r: IDBRequest<T>): Promise<T> =>
  new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });

export class IdbRecordStore implements RecordStore {
  private constructor(private readonly db: IDBDatabase) {}

  static async open(name = DB_NAME): Promise<IdbRecordStore> {
    const open = indexedDB.open(name, DB_VERSION);
    open.onupgradeneeded = () => {
      const db = open.result;
      if (!db.objectStoreNames.contains(DATA)) db.createObjectStore(DATA);
      if (!db.objectStoreNames.contains(KEYS)) db.createObjectStore(KEYS);
    };
    return new IdbRecordStore(await req(open));
  }

  private store(name: string, mode: IDBTransactionMode): IDBObjectStore {
    return this.db.transaction(name, mode).objectStore(name);
  }

  /**
   * A write that is on disk when the promise resolves: `durability: 'strict'` asks the browser to
   * flush before reporting completion, and we wait for the transaction's `complete` (not the
   * request's `success`). Ratchet state is written this way before a ciphertext leaves, so a crash
   * cannot bring back a state whose message keys were already used (libs/crypto PROTOCOL.md §4).
   */
  private async write(name: string, op: (s: IDBObjectStore) => void): Promise<void> {
    const tx = this.db.transaction(name, 'readwrite', { durability: 'strict' });
    op(tx.objectStore(name));
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
      tx.onabort = () => reject(tx.error ?? new Error('IndexedDB transaction aborted'));
    });
  }

  async get(key: string): Promise<StoredRecord | undefined> {
    return (await req(this.store(DATA, 'readonly').get(key))) as StoredRecord | undefined;
  }
  put(key: string, rec: StoredRecord): Promise<void> {
    return this.write(DATA, (s) => s.put(rec, key));
  }
  putMany(entries: readonly (readonly [string, StoredRecord])[]): Promise<void> {
    return this.write(DATA, (s) => {
      for (const [k, r] of entries) s.put(r, k);
    });
  }
  delete(key: string): Promise<void> {
    return this.write(DATA, (s) => s.delete(key));
  }
  async keys(prefix: string): Promise<string[]> {
    // '\uffff' sorts after every character our keys use, so this is "starts with prefix".
    const range = IDBKeyRange.bound(prefix, `${prefix}\uffff`);
    return (await req(this.store(DATA, 'readonly').getAllKeys(range))) as string[];
  }
  async getKey(name: string): Promise<CryptoKey | undefined> {
    return (await req(this.store(KEYS, 'readonly').get(name))) as CryptoKey | undefined;
  }
  async putKey(name: string, key: CryptoKey): Promise<void> {
    await req(this.store(KEYS, 'readwrite').put(key, name));
  }
  async deleteKey(name: string): Promise<void> {
    await req(this.store(KEYS, 'readwrite').delete(name));
  }
  async clear(): Promise<void> {
    const tx = this.db.transaction([DATA, KEYS], 'readwrite');
    tx.objectStore(DATA).clear();
    tx.objectStore(KEYS).clear();
    await new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error);
    });
  }
}

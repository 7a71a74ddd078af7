import { describe, expect, it } from 'vitest';
import { VaultCryptoStore } from './crypto-store.js';
import { MemoryRecordStore } from './records.js';
import { Vault } from './vault.js';

describe('VaultCryptoStore.batch', () => {
  it('holds writes in memory, reads them back, and commits them in one durable write before resolving', async () => {
    const records = new MemoryRecordStore();
    let putMany = 0;
    let put = 0;
    const inner = records.putMany.bind(records);
    records.putMany = async (e) => {
      putMany++;
      await inner(e);
    };
    const innerPut = records.put.bind(records);
    records.put = async (k, r) => {
      put++;
      await innerPut(k, r);
    };
    const store = new VaultCryptoStore(await Vault.open(records));
    await store.storeSessions({ userId: 'bob', deviceId: 'd0' }, 'gone');
    put = 0;
    await store.batch(async () => {
      await store.storeSessions({ userId: 'bob', deviceId: 'd1' }, 'one');
      await store.storeSessions({ userId: 'bob', deviceId: 'd1' }, 'two');
      await store.storeSessions({ userId: 'bob', deviceId: 'd2' }, 'three');
      await store.deleteSessions({ userId: 'bob', deviceId: 'd0' });
      expect(await store.loadSessions({ userId: 'bob', deviceId: 'd1' })).toBe('two');
      expect(await store.listSessionDevices('bob')).toEqual(['d1', 'd2']);
      // Nothing reached the records yet.
      expect([...records.data.keys()].filter((k) => k.startsWith('c:sess:bob:d1'))).toEqual([]);
    });
    expect(putMany).toBe(1);
    expect(put).toBe(0);
    const reopened = new VaultCryptoStore(await Vault.open(records));
    expect(await reopened.loadSessions({ userId: 'bob', deviceId: 'd1' })).toBe('two');
    expect(await reopened.listSessionDevices('bob')).toEqual(['d1', 'd2']);
  });
});

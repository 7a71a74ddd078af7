import type { PublishKeysBody, UserBundle } from '@hush/protocol';
import { describe, expect, it } from 'vitest';
import { MemoryRecordStore, type StoredRecord } from '../store/records.js';
import { Vault } from '../store/vault.js';
import { createCryptoPort } from './crypto.js';

/** A record store that can be made to fail writes, as IndexedDB does when the disk is full. */
class FullDiskStore extends MemoryRecordStore {
  full = false;
  override async put(key: string, rec: StoredRecord) {
    if (this.full) throw new DOMException('The quota has been exceeded.', 'QuotaExceededError');
    await super.put(key, rec);
  }
}

/** What the key directory serves for one published device (GET /v1/keys/:userId). */
const bundleOf = (userId: string, p: PublishKeysBody): UserBundle => ({
  userId,
  identityKey: p.identityKey,
  deviceList: p.deviceList,
  devices: [
    {
      deviceId: p.deviceList.devices[0]!,
      deviceKey: p.deviceKey,
      signedPrekey: p.signedPrekey,
      oneTimePrekey: p.oneTimePrekeys[0] ?? null,
    },
  ],
});

async function device(userId: string, deviceId: string, records = new MemoryRecordStore()) {
  const vault = await Vault.open(records);
  const port = createCryptoPort(() => vault);
  const keys = await port.createDevice(userId, deviceId, Date.now(), 2);
  return { port, bundle: bundleOf(userId, keys), records };
}

const enc = new TextEncoder();

describe('CryptoPort over @hush/crypto', () => {
  it('rejects (does not call it undecryptable) when the store fails, and decrypts once it works again', async () => {
    const alice = await device('alice00001', 'adev000001');
    const bob = await device('bob0000001', 'bdev000001', new FullDiskStore());
    expect((await alice.port.acceptBundle(bob.bundle, Date.now())).status).toBe('new');
    const body = await alice.port.encrypt({ user: 'bob0000001', device: 'bdev000001' }, enc.encode('hi'));
    const from = { user: 'alice00001', device: 'adev000001' };
    (bob.records as FullDiskStore).full = true;
    await expect(bob.port.decrypt(from, body, Date.now())).rejects.toThrow(/quota/);
    (bob.records as FullDiskStore).full = false;
    const r = await bob.port.decrypt(from, body, Date.now());
    expect(r.ok && new TextDecoder().decode(r.plaintext)).toBe('hi');
    // The same envelope again is a duplicate, not a failure.
    expect(await bob.port.decrypt(from, body, Date.now())).toEqual({ ok: false, reason: 'duplicate' });
    expect(await bob.port.decrypt(from, 'AAAA', Date.now())).toEqual({ ok: false, reason: 'undecryptable' });
  });

  it('reports a changed identity instead of trusting it, and uses it only once accepted', async () => {
    const alice = await device('alice00001', 'adev000001');
    const bob = await device('bob0000001', 'bdev000001');
    await alice.port.acceptBundle(bob.bundle, Date.now());
    // Bob starts over (or a key directory lies): another identity for the same account.
    const bob2 = await device('bob0000001', 'bdev000002');
    const r = await alice.port.acceptBundle(bob2.bundle, Date.now());
    expect(r.status).toBe('changed');
    expect(await alice.port.knownDevices('bob0000001')).toEqual(['bdev000001']);
    await alice.port.acceptIdentity('bob0000001', r.identityKey);
    expect((await alice.port.acceptBundle(bob2.bundle, Date.now())).status).toBe('known');
    expect(await alice.port.knownDevices('bob0000001')).toEqual(['bdev000002']);
  });
});

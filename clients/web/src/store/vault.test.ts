import { describe, expect, it } from 'vitest';
import { MemoryRecordStore } from './records.js';
import { deserialize, serialize } from './serial.js';
import { Vault, VaultLockedError, WrongPassphraseError } from './vault.js';

describe('vault (encryption at rest)', () => {
  it('stores values encrypted and reads them back, Uint8Arrays included', async () => {
    const records = new MemoryRecordStore();
    const v = await Vault.open(records);
    const value = { text: 'canary-7f3a secret words', key: new Uint8Array([1, 2, 3, 250]) };
    await v.put('msg:a:1', value);
    expect(await v.get('msg:a:1')).toEqual(value);
    const raw = records.data.get('msg:a:1')!;
    expect(new TextDecoder().decode(raw.ct)).not.toContain('canary-7f3a');
  });

  it('stores a file (bytes on their own) encrypted as it is, and refuses it passed off as a JSON record', async () => {
    const records = new MemoryRecordStore();
    const v = await Vault.open(records);
    const file = new TextEncoder().encode('canary-9c1d file body'.repeat(1000));
    await v.put('att:x', file);
    const rec = records.data.get('att:x')!;
    expect(rec.raw).toBe(true);
    expect(rec.ct.length).toBe(file.length + 16); // no base64, no JSON: the bytes and the GCM tag
    expect(new TextDecoder().decode(rec.ct)).not.toContain('canary-9c1d');
    expect(await v.get('att:x')).toEqual(file);
    const { raw: _raw, ...asJson } = rec;
    records.data.set('att:x', asJson);
    await expect(v.get('att:x')).rejects.toThrow();
    // Still a file after a re-key (setting the app lock rewrites every record).
    records.data.set('att:x', rec);
    await v.setLock('correct horse', 1_000);
    expect(records.data.get('att:x')!.raw).toBe(true);
    expect(await v.get('att:x')).toEqual(file);
  });

  it('uses a key that cannot be exported', async () => {
    const records = new MemoryRecordStore();
    await Vault.open(records);
    const key = records.cryptoKeys.get('vault')!;
    expect(key.extractable).toBe(false);
    await expect(crypto.subtle.exportKey('raw', key)).rejects.toThrow();
  });

  it('reopens with the same key and refuses a record moved under another name', async () => {
    const records = new MemoryRecordStore();
    await (await Vault.open(records)).put('a', { n: 1 });
    const again = await Vault.open(records);
    expect(await again.get('a')).toEqual({ n: 1 });
    records.data.set('b', records.data.get('a')!);
    await expect(again.get('b')).rejects.toThrow();
  });

  it('lists records by prefix and wipes everything', async () => {
    const records = new MemoryRecordStore();
    const v = await Vault.open(records);
    await v.put('conv:b', 2);
    await v.put('conv:a', 1);
    await v.put('other', 3);
    expect(await v.list('conv:')).toEqual([1, 2]);
    await v.wipe();
    expect(records.data.size).toBe(0);
    expect(records.cryptoKeys.size).toBe(0);
  });
});

it('serialisation keeps byte arrays and plain objects apart', () => {
  const v = { a: new Uint8Array([0, 255]), b: { $u8: 1 }, c: [new Uint8Array(0)] };
  expect(deserialize(serialize(v))).toEqual(v);
});

describe('app lock', () => {
  const FAST = 1_000; // iterations for tests only; the product uses PBKDF2_ITERATIONS

  it('keeps history readable only with the passphrase once a lock is set, and removes it again', async () => {
    const records = new MemoryRecordStore();
    const v = await Vault.open(records);
    await v.put('msg:a:1', { text: 'locked away' });
    await v.setLock('correct horse', FAST);
    expect(records.cryptoKeys.size).toBe(0); // no usable key is left on disk
    await expect(Vault.open(records)).rejects.toBeInstanceOf(VaultLockedError);
    await expect(Vault.unlock(records, 'wrong horse', FAST)).rejects.toBeInstanceOf(WrongPassphraseError);
    const u = await Vault.unlock(records, 'correct horse', FAST);
    expect(await u.get('msg:a:1')).toEqual({ text: 'locked away' });
    expect(await u.keys('')).toEqual(['msg:a:1']);
    await u.removeLock();
    const again = await Vault.open(records);
    expect(await again.get('msg:a:1')).toEqual({ text: 'locked away' });
  });

  it('refuses a short passphrase', async () => {
    const v = await Vault.open(new MemoryRecordStore());
    await expect(v.setLock('short', FAST)).rejects.toThrow();
  });
});

it('lists the readable records when one of them no longer decrypts', async () => {
  const records = new MemoryRecordStore();
  const v = await Vault.open(records);
  await v.put('conv:a', 1);
  await v.put('conv:b', 2);
  records.data.get('conv:a')!.ct[0]! ^= 1;
  expect(await v.list('conv:')).toEqual([2]);
});

it('a write made while the app lock is being set is kept', async () => {
  const records = new MemoryRecordStore();
  const v = await Vault.open(records);
  for (let i = 0; i < 20; i++) await v.put(`msg:a:${i}`, i);
  const locking = v.setLock('correct horse', 1_000);
  const late = v.put('msg:a:late', 'late');
  await Promise.all([locking, late]);
  const u = await Vault.unlock(records, 'correct horse', 1_000);
  expect(await u.get('msg:a:late')).toBe('late');
  expect((await u.list('msg:a:')).length).toBe(21);
});

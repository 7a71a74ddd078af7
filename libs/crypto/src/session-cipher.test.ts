import { describe, expect, it } from 'vitest';
import { bundleFor, FakeKeyDir, makeDevice, str, text } from '../test/helpers.js';
import { createPrimitives, isCryptoError, tweetnaclPrimitives } from './index.js';

const prims = await createPrimitives();

async function pair() {
  const keydir = new FakeKeyDir();
  const alice = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
  const bob = await makeDevice(prims, keydir, 'bobuser0001', 'bdev01');
  return { keydir, alice, bob };
}

describe('SessionManager', () => {
  it('sets up a session with X3DH and exchanges messages both ways', async () => {
    const { keydir, alice, bob } = await pair();
    const b = await bundleFor(alice, keydir, bob.address);
    const m1 = await alice.manager.encrypt(bob.address, text('hello bob'), b);
    const r1 = await bob.manager.decrypt(alice.address, m1);
    expect(str(r1.plaintext)).toBe('hello bob');
    expect(r1.newSession).toBe(true);
    const m2 = await bob.manager.encrypt(alice.address, text('hi alice'));
    expect(str((await alice.manager.decrypt(bob.address, m2)).plaintext)).toBe('hi alice');
    const m3 = await alice.manager.encrypt(bob.address, text('again'));
    expect(m3[1]).toBe(1); // a normal message: the prekey header stops once Bob answered
    expect(str((await bob.manager.decrypt(alice.address, m3)).plaintext)).toBe('again');
  });

  it('deletes the used one-time prekey after the first successful decrypt', async () => {
    const { keydir, alice, bob } = await pair();
    const before = await bob.store.countOneTimePrekeys();
    const b = await bundleFor(alice, keydir, bob.address);
    const m1 = await alice.manager.encrypt(bob.address, text('x'), b);
    expect(await bob.store.getOneTimePrekey(b.oneTimePrekey!.keyId)).toBeDefined();
    await bob.manager.decrypt(alice.address, m1);
    expect(await bob.store.getOneTimePrekey(b.oneTimePrekey!.keyId)).toBeUndefined();
    expect(await bob.store.countOneTimePrekeys()).toBe(before - 1);
  });

  it('refuses a replayed first message', async () => {
    const { keydir, alice, bob } = await pair();
    const m1 = await alice.manager.encrypt(bob.address, text('x'), await bundleFor(alice, keydir, bob.address));
    await bob.manager.decrypt(alice.address, m1);
    await expect(bob.manager.decrypt(alice.address, m1)).rejects.toMatchObject({ code: 'E2E_DUPLICATE_MESSAGE' });
  });

  it('works without a one-time prekey (X3DH with three DHs)', async () => {
    const keydir = new FakeKeyDir();
    const alice = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
    const bob = await makeDevice(prims, keydir, 'bobuser0001', 'bdev01', { prekeys: 0 });
    const b = await bundleFor(alice, keydir, bob.address);
    expect(b.oneTimePrekey).toBeNull();
    const m1 = await alice.manager.encrypt(bob.address, text('no otk'), b);
    expect(str((await bob.manager.decrypt(alice.address, m1)).plaintext)).toBe('no otk');
  });

  it('reports a session-less encrypt and decrypt with typed errors', async () => {
    const { alice, bob } = await pair();
    await expect(alice.manager.encrypt(bob.address, text('x'))).rejects.toMatchObject({
      code: 'E2E_SESSION_NOT_FOUND',
    });
    const err = await alice.manager.decrypt(bob.address, new Uint8Array(100)).catch((e) => e);
    expect(isCryptoError(err)).toBe(true);
  });

  it('interoperates across primitive implementations (tweetnacl on one side, WebCrypto on the other)', async () => {
    const keydir = new FakeKeyDir();
    const alice = await makeDevice(tweetnaclPrimitives(), keydir, 'aliceuser01', 'adev01');
    const bob = await makeDevice(prims, keydir, 'bobuser0001', 'bdev01');
    expect([alice.prims.name, bob.prims.name]).toEqual(['tweetnacl', 'webcrypto']);
    const m1 = await alice.manager.encrypt(
      bob.address,
      text('from tweetnacl'),
      await bundleFor(alice, keydir, bob.address),
    );
    expect(str((await bob.manager.decrypt(alice.address, m1)).plaintext)).toBe('from tweetnacl');
    for (let i = 0; i < 3; i++) {
      const r = await bob.manager.encrypt(alice.address, text(`reply ${i}`));
      expect(str((await alice.manager.decrypt(bob.address, r)).plaintext)).toBe(`reply ${i}`);
      const q = await alice.manager.encrypt(bob.address, text(`again ${i}`));
      expect(str((await bob.manager.decrypt(alice.address, q)).plaintext)).toBe(`again ${i}`);
    }
  });
});

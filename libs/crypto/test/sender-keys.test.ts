/** Sender Keys for groups: distribution over pairwise sessions, signing, ordering, rotation on leave. */
import { describe, expect, it } from 'vitest';
import { createPrimitives, GroupCipher, MemoryStore } from '../src/index.js';
import { bundleFor, FakeKeyDir, makeDevice, str, type TestDevice, text } from './helpers.js';

const prims = await createPrimitives();
const GROUP = 'group-1';

const cipherOf = (d: TestDevice) =>
  new GroupCipher({ primitives: prims, store: d.store, randomBytes: d.rng, self: d.address });

/** Sends `d`'s distribution message to each member over the pairwise Double Ratchet sessions. */
async function distribute(keydir: FakeKeyDir, from: TestDevice, dist: Uint8Array, to: [TestDevice, GroupCipher][]) {
  for (const [member, cipher] of to) {
    const has = await from.manager.hasSession(member.address);
    const ct = await from.manager.encrypt(
      member.address,
      dist,
      has ? undefined : await bundleFor(from, keydir, member.address),
    );
    const { plaintext } = await member.manager.decrypt(from.address, ct);
    await cipher.processDistribution(from.address, plaintext);
  }
}

async function group() {
  const keydir = new FakeKeyDir();
  const alice = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
  const bob = await makeDevice(prims, keydir, 'bobuser0001', 'bdev01');
  const carol = await makeDevice(prims, keydir, 'caroluser01', 'cdev01');
  const [a, b, c] = [cipherOf(alice), cipherOf(bob), cipherOf(carol)];
  await distribute(keydir, alice, await a.distributionMessage(GROUP), [
    [bob, b],
    [carol, c],
  ]);
  return { keydir, alice, bob, carol, a, b, c };
}

describe('sender keys', () => {
  it('encrypt once for the whole group; every member decrypts, in any order, each message once', async () => {
    const { alice, bob, carol, a, b, c } = await group();
    const ms = [];
    for (let i = 0; i < 5; i++) ms.push(await a.encrypt(GROUP, text(`m${i}`)));
    for (const i of [4, 0, 2, 1, 3]) {
      expect(str((await b.decrypt(alice.address, ms[i]!)).plaintext)).toBe(`m${i}`);
      expect(str((await c.decrypt(alice.address, ms[i]!)).plaintext)).toBe(`m${i}`);
    }
    await expect(b.decrypt(alice.address, ms[2]!)).rejects.toMatchObject({ code: 'E2E_DUPLICATE_MESSAGE' });
    await expect(c.decrypt(bob.address, ms[0]!)).rejects.toMatchObject({ code: 'E2E_SESSION_NOT_FOUND' });
    void carol;
  });

  it("refuse a tampered message, and a member forging a message under another member's chain", async () => {
    const { alice, bob, a, b, c } = await group();
    const m = await a.encrypt(GROUP, text('hello'));
    for (const bit of [3, 8 * 20, m.length * 8 - 3, (m.length - 70) * 8]) {
      const t = m.slice();
      t[bit >> 3]! ^= 1 << (bit & 7);
      await expect(b.decrypt(alice.address, t)).rejects.toMatchObject({ name: 'CryptoError' });
    }
    // Bob knows Alice's chain key (every member does) but not her signing key: a message he builds
    // on her chain, signed with his own key, is refused.
    await b.distributionMessage(GROUP); // gives Bob a signing key of his own
    const mine = JSON.parse((await bob.store.loadSenderKeys(GROUP, bob.address))!).chains[0];
    const hers = JSON.parse((await bob.store.loadSenderKeys(GROUP, alice.address))!);
    const forgerStore = new MemoryStore();
    const forgerSelf = { userId: 'forger00001', deviceId: 'fdev01' };
    hers.chains[0] = { ...hers.chains[0], pub: mine.pub, seed: mine.seed };
    await forgerStore.storeSenderKeys(GROUP, forgerSelf, JSON.stringify(hers));
    const forger = new GroupCipher({ primitives: prims, store: forgerStore, randomBytes: bob.rng, self: forgerSelf });
    const forged = await forger.encrypt(GROUP, text('I am alice'));
    await expect(c.decrypt(alice.address, forged)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
    expect(str((await b.decrypt(alice.address, m)).plaintext)).toBe('hello');
  });

  it('after a member leaves and the sender rotates, the former member can no longer decrypt', async () => {
    const { keydir, alice, bob, a, b, c } = await group();
    const before = await a.encrypt(GROUP, text('before'));
    const dist = await a.rotate(GROUP); // Carol left: only Bob gets the new chain
    await distribute(keydir, alice, dist, [[bob, b]]);
    const after = await a.encrypt(GROUP, text('after'));
    expect(str((await b.decrypt(alice.address, after)).plaintext)).toBe('after');
    await expect(c.decrypt(alice.address, after)).rejects.toMatchObject({ code: 'E2E_SESSION_NOT_FOUND' });
    // A message sent just before the rotation still decrypts for everyone who had that chain.
    expect(str((await b.decrypt(alice.address, before)).plaintext)).toBe('before');
    expect(str((await c.decrypt(alice.address, before)).plaintext)).toBe('before');
  });
});

/**
 * Group scenarios on MLS: three people, Bob on two devices; add, chat, remove, concurrent commits,
 * and leaves the server could try to slip in.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CryptoError,
  createLeafSigner,
  decodeLeafBinding,
  MlsGroup as Group,
  generateIdentity,
  generateKeyPackages,
  type MlsGroup,
  type Primitives,
  utf8,
  verifyLeafBinding,
} from '../src/index.js';
import { seededRandom } from './helpers.js';
import {
  type Account,
  account,
  claim,
  type Device,
  Directory,
  defaultPrims,
  device,
  joinFromWelcome,
} from './mls-fixtures.js';

const text = (b: Uint8Array) => new TextDecoder().decode(b);
const code = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    if (e instanceof CryptoError) return e.code;
    throw e;
  }
  return 'no error';
};

let prims: Primitives;
const rnd = seededRandom('mls-groups');
const directory = new Directory();
let alice: Account;
let bob: Account;
let carol: Account;
let a1: Device;
let b1: Device;
let b2: Device;
let c1: Device;

beforeAll(async () => {
  prims = await defaultPrims();
  alice = await account(prims, rnd, 'aliceaaaaaaaaaaaaaaa');
  bob = await account(prims, rnd, 'bobbbbbbbbbbbbbbbbbb');
  carol = await account(prims, rnd, 'carolccccccccccccccc');
  a1 = await device(prims, rnd, alice, 'alicedev0001', directory, 8);
  b1 = await device(prims, rnd, bob, 'bobdevice001', directory, 8);
  b2 = await device(prims, rnd, bob, 'bobdevice002', directory, 8);
  c1 = await device(prims, rnd, carol, 'caroldevice1', directory, 8);
  for (const [acct, d] of [
    [alice, a1],
    [bob, b1],
    [bob, b2],
    [carol, c1],
  ] as const) {
    directory.learn(acct.userId, acct.identity.publicKey, d.deviceId);
  }
});

/** Alice creates the group and adds Bob's two devices and Carol; all join. */
async function threePeople(): Promise<{ ga: MlsGroup; gb1: MlsGroup; gb2: MlsGroup; gc: MlsGroup }> {
  const ga = await Group.create(a1.deps, a1.signer, rnd(16));
  const p = await ga.proposeAdd([claim(b1), claim(b2), claim(c1)]);
  expect(p.added.map((d) => d.deviceId).sort()).toEqual(['bobdevice001', 'bobdevice002', 'caroldevice1']);
  ga.applyPending(p);
  const welcome = p.welcome;
  if (!welcome) throw new Error('no welcome');
  const [gb1, gb2, gc] = await Promise.all([
    joinFromWelcome(b1, welcome),
    joinFromWelcome(b2, welcome),
    joinFromWelcome(c1, welcome),
  ]);
  return { ga, gb1, gb2, gc };
}

describe('MLS groups', () => {
  it('the leaf binding names the account and device and verifies against the leaf key', async () => {
    const cred = { credentialType: 'basic' as const, identity: a1.signer.credential };
    const leaf = await verifyLeafBinding(prims, cred, a1.signer.signaturePublicKey);
    expect(leaf.userId).toBe(alice.userId);
    expect(leaf.deviceId).toBe('alicedev0001');
    expect(leaf.identityKey).toEqual(alice.identity.publicKey);
    // Another leaf key, or one flipped bit in the binding, does not verify.
    expect(await code(verifyLeafBinding(prims, cred, b1.signer.signaturePublicKey))).toBe('E2E_GROUP_BAD_CREDENTIAL');
    const flipped = a1.signer.credential.slice();
    flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 1;
    expect(
      await code(
        verifyLeafBinding(prims, { credentialType: 'basic', identity: flipped }, a1.signer.signaturePublicKey),
      ),
    ).toBe('E2E_GROUP_BAD_CREDENTIAL');
    expect(() => decodeLeafBinding({ credentialType: 'basic', identity: utf8('alice') })).toThrow(CryptoError);
  });

  it('three people (one on two devices) join and every device reads every other', async () => {
    const { ga, gb1, gb2, gc } = await threePeople();
    for (const g of [ga, gb1, gb2, gc]) {
      expect(g.epoch).toBe(1n);
      expect(
        g
          .members()
          .map((m) => m.deviceId)
          .sort(),
      ).toEqual(['alicedev0001', 'bobdevice001', 'bobdevice002', 'caroldevice1']);
    }
    const m = await ga.encrypt(utf8('hello group'));
    for (const g of [gb1, gb2, gc]) {
      const ev = await g.process(m);
      expect(ev.kind).toBe('application');
      if (ev.kind !== 'application') return;
      expect(text(ev.plaintext)).toBe('hello group');
      expect(ev.sender.userId).toBe(alice.userId);
      expect(ev.sender.identityKey).toEqual(alice.identity.publicKey);
    }
    const fromBob2 = await gb2.encrypt(utf8('from my laptop'));
    const ev = await gb1.process(fromBob2);
    expect(ev.kind === 'application' && ev.sender.deviceId).toBe('bobdevice002');
    // A replayed message is refused (its key was used and deleted).
    expect(await code(gb1.process(fromBob2))).toBe('E2E_GROUP_REJECTED');
  });

  it('exported state survives a restart', async () => {
    const { ga, gc } = await threePeople();
    const restored = Group.import(c1.deps, gc.export());
    expect(restored.epoch).toBe(gc.epoch);
    const ev = await restored.process(await ga.encrypt(utf8('after restart')));
    expect(ev.kind === 'application' && text(ev.plaintext)).toBe('after restart');
    expect(() => Group.import(c1.deps, new Uint8Array([1, 2, 3]))).toThrow(CryptoError);
  });

  it('a removed member reads nothing sent after removal, and what it sends is refused', async () => {
    const { ga, gb1, gb2, gc } = await threePeople();
    const carolBefore = gc.export();
    const p = await ga.proposeRemove([{ userId: carol.userId }]);
    expect(p.removed).toEqual([{ userId: carol.userId, deviceId: 'caroldevice1' }]);
    ga.applyPending(p);
    for (const g of [gb1, gb2]) {
      const ev = await g.process(p.commit);
      expect(ev.kind === 'commit' && ev.removed.map((r) => r.userId)).toEqual([carol.userId]);
      expect(ev.kind === 'commit' && ev.committer?.userId).toBe(alice.userId);
    }
    const ev = await gc.process(p.commit);
    expect(ev.kind === 'commit' && ev.removedSelf).toBe(true);
    expect(gc.active).toBe(false);

    const secret = await ga.encrypt(utf8('carol must not read this'));
    expect(text(((await gb1.process(secret)) as { plaintext: Uint8Array }).plaintext)).toBe('carol must not read this');
    // Carol's device after processing her removal refuses, and her state from before the removal
    // (as if she ignored the commit) has no keys for the new epoch.
    expect(await code(gc.process(secret))).toBe('E2E_GROUP_NOT_MEMBER');
    const stale = Group.import(c1.deps, carolBefore);
    expect(await code(stale.process(secret))).toBe('E2E_GROUP_WRONG_EPOCH');
    // What she sends with the old epoch's keys is refused by every remaining member.
    const late = await stale.encrypt(utf8('still here'));
    for (const g of [ga, gb1, gb2]) expect(await code(g.process(late))).toBe('E2E_GROUP_NOT_MEMBER');
    expect(await code(gc.encrypt(utf8('x')))).toBe('E2E_GROUP_NOT_MEMBER');
  });

  it('a message sent just before a commit still decrypts for members who already moved on', async () => {
    const { ga, gb1 } = await threePeople();
    const early = await gb1.encrypt(utf8('sent in epoch 1'));
    const p = await ga.proposeUpdate();
    ga.applyPending(p);
    expect(ga.epoch).toBe(2n);
    const ev = await ga.process(early);
    expect(ev.kind === 'application' && text(ev.plaintext)).toBe('sent in epoch 1');
  });

  it('concurrent commits: the server takes one, the other is rebuilt on the new epoch', async () => {
    const { ga, gb1, gb2, gc } = await threePeople();
    const a2 = await device(prims, rnd, alice, 'alicedev0002', directory, 8);
    directory.learn(alice.userId, alice.identity.publicKey, a2.deviceId);
    const fromAlice = await ga.proposeAdd([claim(a2)]);
    const fromBob = await gb1.proposeRemove([{ userId: carol.userId }]);
    expect(fromAlice.epoch).toBe(fromBob.epoch);
    // The server accepted Alice's commit first (epoch 1 -> 2); Bob's is refused as stale.
    ga.applyPending(fromAlice);
    for (const g of [gb1, gb2, gc]) await g.process(fromAlice.commit);
    expect(() => gb1.applyPending(fromBob)).toThrow(CryptoError);
    expect(await code(gb2.process(fromBob.commit))).toBe('E2E_GROUP_WRONG_EPOCH');
    if (!fromAlice.welcome) throw new Error('no welcome');
    const ga2 = await joinFromWelcome(a2, fromAlice.welcome);
    // Bob rebuilds his change on epoch 2 and it goes through.
    const retry = await gb1.proposeRemove([{ userId: carol.userId }]);
    expect(retry.epoch).toBe(2n);
    gb1.applyPending(retry);
    for (const g of [ga, ga2, gb2, gc]) await g.process(retry.commit);
    for (const g of [ga, ga2, gb1, gb2]) {
      expect(g.epoch).toBe(3n);
      expect(
        g
          .members()
          .map((m) => m.deviceId)
          .sort(),
      ).toEqual(['alicedev0001', 'alicedev0002', 'bobdevice001', 'bobdevice002']);
    }
    const ev = await ga2.process(await gb2.encrypt(utf8('converged')));
    expect(ev.kind === 'application' && text(ev.plaintext)).toBe('converged');
  });

  it('a leaf not bound to the account identity cannot be added (the server cannot add a leaf)', async () => {
    const { ga, gb1 } = await threePeople();
    // A "server" makes a key package claiming to be a new device of Carol, signed by its own key.
    const forgedIdentity = await generateIdentity(prims, rnd);
    const forger = await createLeafSigner(prims, a1.deps.suite, forgedIdentity, carol.userId, 'caroldevice9');
    const [forged] = await generateKeyPackages(a1.deps.suite, forger, 1, a1.deps.now);
    if (!forged) throw new Error('no package');
    expect(await code(ga.proposeAdd([forged.publicMessage]))).toBe('E2E_GROUP_REJECTED');

    // If one member is fooled (Alice's directory accepts the forged identity), every other member
    // still checks the added leaf when it processes the commit, and refuses it.
    const fooled = new Directory();
    for (const [u, k] of directory.identities) fooled.identities.set(u, k);
    for (const [u, s] of directory.devices) fooled.devices.set(u, new Set(s));
    fooled.learn(carol.userId, forgedIdentity.publicKey, 'caroldevice9');
    const gaFooled = Group.import({ ...a1.deps, check: fooled.check }, ga.export());
    const p = await gaFooled.proposeAdd([forged.publicMessage]);
    expect(await code(gb1.process(p.commit))).toBe('E2E_GROUP_REJECTED');
    expect(gb1.epoch).toBe(1n);
  });

  it('garbage in gets stable error codes', async () => {
    const { gb1 } = await threePeople();
    expect(await code(gb1.process(new Uint8Array([0, 1, 2])))).toBe('E2E_BAD_MESSAGE');
    expect(await code(gb1.proposeAdd([new Uint8Array(10)]))).toBe('E2E_GROUP_REJECTED');
    expect(await code(gb1.proposeRemove([{ userId: 'nobodyxxxxxxxxxxxxxx' }]))).toBe('E2E_GROUP_NOT_MEMBER');
  });
});

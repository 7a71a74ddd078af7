/**
 * A server that lies: keydir stores only public keys and checks no signatures, so every trick it
 * could play with a bundle or a first message must be refused, or reported as a changed identity,
 * and never used silently.
 */
import type { UserBundle } from '@hush/protocol';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  createPrimitives,
  fromBase64,
  generateIdentity,
  oneTimePrekeyStatement,
  safetyNumber,
  signDeviceList,
  signedPrekeyStatement,
  toBase64,
  verifyUserBundle,
} from '../src/index.js';
import { bundleFor, FakeKeyDir, makeDevice, seededRandom, type TestDevice, text } from './helpers.js';

const prims = await createPrimitives();
const rng = seededRandom('mallory');

let keydir: FakeKeyDir;
let alice: TestDevice;
let bob: TestDevice;
const BOB = 'bobuser0001';

beforeEach(async () => {
  keydir = new FakeKeyDir();
  alice = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
  bob = await makeDevice(prims, keydir, BOB, 'bdev01', { prekeys: 5 });
});

const fetchBob = (): UserBundle => keydir.fetch(BOB);
const verify = (b: UserBundle) => verifyUserBundle(prims, b, { userId: BOB, store: alice.store, now: alice.now });
const flip = (b64: string, byte = 0) => {
  const b = fromBase64(b64);
  b[byte]! ^= 1;
  return toBase64(b);
};

describe('a lying key directory', () => {
  it('cannot pass off a bundle with the identity key swapped (signatures no longer verify)', async () => {
    const b = fetchBob();
    b.identityKey = toBase64((await generateIdentity(prims, rng)).publicKey);
    await expect(verify(b)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
  });

  it('cannot swap the identity and re-sign everything without it being reported as a changed identity', async () => {
    await verify(fetchBob()); // Alice has met Bob before (trust on first use)
    const mallory = await generateIdentity(prims, rng);
    const b = fetchBob();
    const d = b.devices[0]!;
    b.identityKey = toBase64(mallory.publicKey);
    b.deviceList = await signDeviceList(prims, mallory, { userId: BOB, version: 2, devices: ['bdev01'], issuedAt: 1 });
    const { deviceKeyStatement } = await import('../src/keys.js');
    d.deviceKey.signature = toBase64(
      await prims.ed25519Sign(mallory, deviceKeyStatement(BOB, 'bdev01', fromBase64(d.deviceKey.publicKey))),
    );
    d.signedPrekey.signature = toBase64(
      await prims.ed25519Sign(
        mallory,
        signedPrekeyStatement(
          BOB,
          'bdev01',
          d.signedPrekey.keyId,
          d.signedPrekey.createdAt,
          fromBase64(d.signedPrekey.publicKey),
        ),
      ),
    );
    d.oneTimePrekey!.signature = toBase64(
      await prims.ed25519Sign(
        mallory,
        oneTimePrekeyStatement(BOB, 'bdev01', d.oneTimePrekey!.keyId, fromBase64(d.oneTimePrekey!.publicKey)),
      ),
    );
    const v = await verify(b);
    expect(v.identityStatus).toBe('changed');
    expect(v.previousIdentityKey).toEqual((await bob.store.getIdentity())!.publicKey);
    // ... and the session layer refuses to use it until the user accepts the new key.
    const err = await alice.manager.encrypt(bob.address, text('secret'), v.devices[0]!).catch((e) => e);
    expect(err).toMatchObject({ code: 'E2E_UNTRUSTED_IDENTITY' });
    expect(err.details.previousIdentityKey).toEqual(v.previousIdentityKey);
  });

  it('cannot hide a swap on first contact from the safety number', async () => {
    const mallory = await generateIdentity(prims, rng);
    const aliceId = (await alice.store.getIdentity())!.publicKey;
    const bobId = (await bob.store.getIdentity())!.publicKey;
    const seenByAlice = safetyNumber(
      { stableId: 'aliceuser01', identityKey: aliceId },
      { stableId: BOB, identityKey: mallory.publicKey },
    );
    const seenByBob = safetyNumber(
      { stableId: BOB, identityKey: bobId },
      { stableId: 'aliceuser01', identityKey: aliceId },
    );
    expect(seenByAlice).not.toBe(seenByBob);
  });

  it('cannot serve an unsigned or garbled signed prekey', async () => {
    const b = fetchBob();
    b.devices[0]!.signedPrekey.signature = toBase64(new Uint8Array(64));
    await expect(verify(b)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
    const c = fetchBob();
    c.devices[0]!.signedPrekey.publicKey = flip(c.devices[0]!.signedPrekey.publicKey);
    await expect(verify(c)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
    const d = fetchBob();
    d.devices[0]!.signedPrekey.createdAt += 1; // the creation time is signed too (rotation)
    await expect(verify(d)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
  });

  it('cannot serve a prekey re-signed with a key of its own', async () => {
    const mallory = await generateIdentity(prims, rng);
    const evil = await prims.x25519KeyPair(rng);
    const b = fetchBob();
    const spk = b.devices[0]!.signedPrekey;
    spk.publicKey = toBase64(evil.publicKey);
    spk.signature = toBase64(
      await prims.ed25519Sign(mallory, signedPrekeyStatement(BOB, 'bdev01', spk.keyId, spk.createdAt, evil.publicKey)),
    );
    await expect(verify(b)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
  });

  it('cannot serve a one-time prekey that is unsigned, re-signed, or taken from another device', async () => {
    const b = fetchBob();
    b.devices[0]!.oneTimePrekey!.signature = toBase64(new Uint8Array(64));
    await expect(verify(b)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
    const c = fetchBob();
    c.devices[0]!.oneTimePrekey!.keyId += 1; // the key id is signed: a stale id cannot be re-labelled
    await expect(verify(c)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
    // Carol is another user: her genuine, signed prekey does not verify as Bob's.
    const carol = await makeDevice(prims, keydir, 'caroluser01', 'cdev01');
    const d = fetchBob();
    d.devices[0]!.oneTimePrekey = keydir.fetch(carol.address.userId).devices[0]!.oneTimePrekey;
    await expect(verify(d)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
  });

  it('cannot add a device that is not in the signed device list', async () => {
    const b = fetchBob();
    const extra = structuredClone(b.devices[0]!);
    extra.deviceId = 'evildev1';
    b.devices.push(extra);
    await expect(verify(b)).rejects.toMatchObject({ code: 'E2E_UNKNOWN_DEVICE' });
  });

  it('cannot add a device to the signed list, nor replay an older list', async () => {
    const b = fetchBob();
    b.deviceList.devices = [...b.deviceList.devices, 'evildev1'];
    await expect(verify(b)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
    // Bob adds a device: version 2 is verified and remembered; version 1 is then refused.
    const bobId = (await bob.store.getIdentity())!;
    const v1 = fetchBob();
    await verify(v1);
    const v2 = fetchBob();
    v2.deviceList = await signDeviceList(prims, bobId, {
      userId: BOB,
      version: 2,
      devices: ['bdev01', 'bdev02'],
      issuedAt: 5,
    });
    expect((await verify(v2)).missingDevices).toEqual(['bdev02']);
    await expect(verify(v1)).rejects.toMatchObject({ code: 'E2E_STALE_DEVICE_LIST' });
  });

  it('cannot serve one user as another, or keys of the wrong length', async () => {
    await expect(verifyUserBundle(prims, fetchBob(), { userId: 'aliceuser01' })).rejects.toMatchObject({
      code: 'E2E_BAD_BUNDLE',
    });
    const b = fetchBob();
    b.devices[0]!.deviceKey.publicKey = toBase64(new Uint8Array(31));
    await expect(verify(b)).rejects.toMatchObject({ code: 'E2E_BAD_KEY' });
  });

  it('cannot get a non-canonical (malleated) signature accepted', async () => {
    const b = fetchBob();
    const sig = fromBase64(b.devices[0]!.signedPrekey.signature);
    // S + L: the same point equation holds, but RFC 8032 §5.1.7 requires S < L.
    const L = [
      0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0,
      0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
    ];
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const v = sig[32 + i]! + L[i]! + carry;
      sig[32 + i] = v & 255;
      carry = v >> 8;
    }
    b.devices[0]!.signedPrekey.signature = toBase64(sig);
    await expect(verify(b)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
  });

  it('refuses a genuinely signed low-order key (a malicious peer) before any DH', async () => {
    const bobId = (await bob.store.getIdentity())!;
    const b = fetchBob();
    const lowOrder = new Uint8Array(32); // u = 0
    b.devices[0]!.oneTimePrekey = {
      keyId: 77,
      publicKey: toBase64(lowOrder),
      signature: toBase64(await prims.ed25519Sign(bobId, oneTimePrekeyStatement(BOB, 'bdev01', 77, lowOrder))),
    };
    await expect(verify(b)).rejects.toMatchObject({ code: 'E2E_LOW_ORDER_KEY' });
  });

  it("cannot forge a first message under Alice's identity with a device key of its own", async () => {
    const m1 = await alice.manager.encrypt(bob.address, text('hi'), await bundleFor(alice, keydir, bob.address));
    const forged = m1.slice();
    forged[2 + 32 + 5]! ^= 1; // the sender device key inside the prekey header
    await expect(bob.manager.decrypt(alice.address, forged)).rejects.toMatchObject({ code: 'E2E_BAD_SIGNATURE' });
    // Claiming to come from another of Alice's devices fails too: her signed list does not name it
    // (and the device-key signature binds the device id).
    await expect(bob.manager.decrypt({ userId: 'aliceuser01', deviceId: 'adev99' }, m1)).rejects.toMatchObject({
      code: 'E2E_UNKNOWN_DEVICE',
    });
    expect((await bob.manager.decrypt(alice.address, m1)).plaintext).toEqual(text('hi'));
  });

  it('reports, never silently accepts, a first message from a new identity of a known user', async () => {
    // Bob knows Alice's identity from an earlier conversation.
    const first = await alice.manager.encrypt(bob.address, text('hello'), await bundleFor(alice, keydir, bob.address));
    await bob.manager.decrypt(alice.address, first);
    // Alice's account is re-created with a new identity (or an attacker claims her id).
    const alice2 = await makeDevice(prims, keydir, 'aliceuser01', 'adev01', { seed: 'alice-reinstalled' });
    const m = await alice2.manager.encrypt(bob.address, text('new me'), await bundleFor(alice2, keydir, bob.address));
    const err = await bob.manager.decrypt(alice.address, m).catch((e) => e);
    expect(err).toMatchObject({ code: 'E2E_UNTRUSTED_IDENTITY' });
    const newKey = (await alice2.store.getIdentity())!.publicKey;
    expect(err.details.identityKey).toEqual(newKey);
    await bob.manager.acceptIdentity('aliceuser01', newKey);
    expect((await bob.manager.decrypt(alice.address, m)).plaintext).toEqual(text('new me'));
  });
});

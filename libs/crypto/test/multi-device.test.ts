/**
 * Sesame-style sessions per (user, device): simultaneous initiation converges, fan-out to all of a
 * user's devices (and to our own other devices), state survives serialisation, prekey rotation.
 */
import { describe, expect, it } from 'vitest';
import {
  createPrimitives,
  rotateSignedPrekey,
  SessionManager,
  signDeviceList,
  verifyUserBundle,
} from '../src/index.js';
import { deserializeSessionSet, serializeSessionSet } from '../src/ratchet/state.js';
import { bundleFor, FakeKeyDir, makeDevice, str, type TestDevice, text } from './helpers.js';

const prims = await createPrimitives();

async function roundTrip(x: TestDevice, y: TestDevice, label: string) {
  const m = await x.manager.encrypt(y.address, text(label));
  expect(str((await y.manager.decrypt(x.address, m)).plaintext)).toBe(label);
}

describe('simultaneous session initiation', () => {
  it('converges on one session even when messages keep crossing', async () => {
    for (let trial = 0; trial < 4; trial++) {
      const keydir = new FakeKeyDir();
      const a = await makeDevice(prims, keydir, 'aliceuser01', 'adev01', { seed: `sim-a-${trial}` });
      const b = await makeDevice(prims, keydir, 'bobuser0001', 'bdev01', { seed: `sim-b-${trial}` });
      // Both start a session at the same moment: two X3DH sessions exist.
      const fromA = await a.manager.encrypt(b.address, text('hi from a'), await bundleFor(a, keydir, b.address));
      const fromB = await b.manager.encrypt(a.address, text('hi from b'), await bundleFor(b, keydir, a.address));
      expect(str((await b.manager.decrypt(a.address, fromA)).plaintext)).toBe('hi from a');
      expect(str((await a.manager.decrypt(b.address, fromB)).plaintext)).toBe('hi from b');
      // Two rounds in which both send before either receives.
      for (let r = 0; r < 2; r++) {
        const x = await a.manager.encrypt(b.address, text(`a${r}`));
        const y = await b.manager.encrypt(a.address, text(`b${r}`));
        expect(str((await b.manager.decrypt(a.address, x)).plaintext)).toBe(`a${r}`);
        expect(str((await a.manager.decrypt(b.address, y)).plaintext)).toBe(`b${r}`);
      }
      const sa = await a.manager.sessionInfo(b.address);
      const sb = await b.manager.sessionInfo(a.address);
      expect(sa!.sessionId).toBe(sb!.sessionId);
      // And from then on both keep using that one session.
      await roundTrip(a, b, 'after');
      await roundTrip(b, a, 'reply');
      expect((await a.manager.sessionInfo(b.address))!.sessionId).toBe(sa!.sessionId);
      expect((await b.manager.sessionInfo(a.address))!.sessionId).toBe(sa!.sessionId);
    }
  });
});

describe('many devices', () => {
  it("encrypts to each of a peer's devices and to our own other devices, each with its own session", async () => {
    const keydir = new FakeKeyDir();
    const a1 = await makeDevice(prims, keydir, 'aliceuser01', 'adev01', { devices: ['adev01', 'adev02'] });
    const a2 = await makeDevice(prims, keydir, 'aliceuser01', 'adev02', {
      identityFrom: a1,
      devices: ['adev01', 'adev02'],
    });
    const b1 = await makeDevice(prims, keydir, 'bobuser0001', 'bdev01', { devices: ['bdev01', 'bdev02'] });
    const b2 = await makeDevice(prims, keydir, 'bobuser0001', 'bdev02', {
      identityFrom: b1,
      devices: ['bdev01', 'bdev02'],
    });

    const bob = await verifyUserBundle(prims, keydir.fetch('bobuser0001'), {
      userId: 'bobuser0001',
      store: a1.store,
      now: a1.now,
    });
    expect(bob.devices.map((d) => d.deviceId).sort()).toEqual(['bdev01', 'bdev02']);
    const own = await verifyUserBundle(prims, keydir.fetch('aliceuser01'), { userId: 'aliceuser01' });
    const targets: [TestDevice, (typeof bob.devices)[number]][] = [
      [b1, bob.devices.find((d) => d.deviceId === 'bdev01')!],
      [b2, bob.devices.find((d) => d.deviceId === 'bdev02')!],
      [a2, own.devices.find((d) => d.deviceId === 'adev02')!],
    ];
    for (const [dev, bundle] of targets) {
      const ct = await a1.manager.encrypt(dev.address, text('to all my devices'), bundle);
      expect(str((await dev.manager.decrypt(a1.address, ct)).plaintext)).toBe('to all my devices');
    }
    const ids = new Set<string>();
    for (const [dev] of targets) ids.add((await a1.manager.sessionInfo(dev.address))!.sessionId);
    expect(ids.size).toBe(3);
    await roundTrip(b2, a1, 'from bob device 2');
    await roundTrip(a2, a1, 'from my other device');
  });

  it('reports a device claiming our own account under another identity key, and refuses to encrypt to it', async () => {
    const keydir = new FakeKeyDir();
    const a1 = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
    const evil = new FakeKeyDir();
    await makeDevice(prims, evil, 'aliceuser01', 'adev09', { seed: 'not-really-alice', devices: ['adev01', 'adev09'] });
    const v = await verifyUserBundle(prims, evil.fetch('aliceuser01'), {
      userId: 'aliceuser01',
      store: a1.store,
      now: a1.now,
    });
    expect(v.identityStatus).toBe('changed');
    const d = v.devices.find((x) => x.deviceId === 'adev09')!;
    await expect(a1.manager.encrypt({ userId: 'aliceuser01', deviceId: 'adev09' }, text('x'), d)).rejects.toMatchObject(
      {
        code: 'E2E_UNTRUSTED_IDENTITY',
      },
    );
  });
});

describe('session state', () => {
  it('serialises to a versioned form and back, and a fresh manager over the same store carries on', async () => {
    const keydir = new FakeKeyDir();
    const a = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
    const b = await makeDevice(prims, keydir, 'bobuser0001', 'bdev01');
    const m = await a.manager.encrypt(b.address, text('one'), await bundleFor(a, keydir, b.address));
    await b.manager.decrypt(a.address, m);
    await roundTrip(b, a, 'two');
    const json = (await a.store.loadSessions(b.address))!;
    expect(JSON.parse(json).v).toBe(1);
    expect(serializeSessionSet(deserializeSessionSet(json))).toBe(json);
    const restarted = new SessionManager({ primitives: prims, store: a.store, randomBytes: a.rng, now: a.now });
    const m3 = await restarted.encrypt(b.address, text('three'));
    expect(str((await b.manager.decrypt(a.address, m3)).plaintext)).toBe('three');
    await expect(async () => deserializeSessionSet(json.replace('"v":1', '"v":99'))).rejects.toMatchObject({
      code: 'E2E_BAD_STATE',
    });
    await a.store.storeSessions(b.address, '{not json');
    await expect(restarted.encrypt(b.address, text('x'))).rejects.toMatchObject({ code: 'E2E_BAD_STATE' });
  });

  it('keeps a replaced signed prekey for in-flight first messages, then deletes it after the grace period', async () => {
    const keydir = new FakeKeyDir();
    const a = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
    const c = await makeDevice(prims, keydir, 'caroluser01', 'cdev01');
    const b = await makeDevice(prims, keydir, 'bobuser0001', 'bdev01');
    const day = 24 * 3600 * 1000;
    const t0 = (await b.store.getSignedPrekey(1))!.createdAt;
    // Two first messages made against signed prekey 1, delivered late.
    const early = await a.manager.encrypt(
      b.address,
      text('sent before rotation'),
      await bundleFor(a, keydir, b.address),
    );
    const later = await c.manager.encrypt(b.address, text('delivered too late'), await bundleFor(c, keydir, b.address));
    await rotateSignedPrekey(prims, b.store, { randomBytes: b.rng, now: () => t0 + day });
    expect(str((await b.manager.decrypt(a.address, early)).plaintext)).toBe('sent before rotation');
    // Prekey 1 was replaced on day 1: the rotation 31.5 days in (30 days after its replacement)
    // deletes it, and keeps 2.
    await rotateSignedPrekey(prims, b.store, { randomBytes: b.rng, now: () => t0 + 30.5 * day });
    expect((await b.store.listSignedPrekeys()).map((r) => r.keyId).sort()).toEqual([1, 2, 3]);
    await rotateSignedPrekey(prims, b.store, { randomBytes: b.rng, now: () => t0 + 31.5 * day });
    expect((await b.store.listSignedPrekeys()).map((r) => r.keyId).sort()).toEqual([2, 3, 4]);
    await expect(b.manager.decrypt(c.address, later)).rejects.toMatchObject({ code: 'E2E_PREKEY_NOT_FOUND' });
  });

  it('signs device lists over sorted ids so order does not matter, and refuses duplicates', async () => {
    const keydir = new FakeKeyDir();
    const a = await makeDevice(prims, keydir, 'aliceuser01', 'adev01');
    const id = (await a.store.getIdentity())!;
    const l1 = await signDeviceList(prims, id, {
      userId: 'aliceuser01',
      version: 3,
      devices: ['zz1234', 'aa1234'],
      issuedAt: 9,
    });
    expect(l1.devices).toEqual(['aa1234', 'zz1234']);
    await expect(
      signDeviceList(prims, id, { userId: 'aliceuser01', version: 3, devices: ['aa1234', 'aa1234'], issuedAt: 9 }),
    ).rejects.toMatchObject({ code: 'E2E_BAD_BUNDLE' });
  });
});

/**
 * The @hush/crypto side of the benchmark. Isomorphic (no Node APIs) so the browser page runs it too.
 * Each operation mirrors one measured on libsignal in libsignal.ts.
 */
import type { UserBundle } from '@hush/protocol';
import {
  type Address,
  defaultRandomBytes,
  generateDeviceKeys,
  generateIdentity,
  MemoryStore,
  type Primitives,
  SessionManager,
  safetyNumber,
  verifyDeviceBundle,
  verifyUserBundle,
} from '../src/index.js';
import { clearVerifyCache } from '../src/verify-cache.js';
import type { Op } from './measure.js';

export interface BenchOp {
  op: string;
  /** Untimed preparation, run once before the op is measured. */
  prepare?: () => Promise<void>;
  run: Op;
  warmup?: number;
}

const rng = defaultRandomBytes;
const now = () => Date.now();
const MESSAGE = new Uint8Array(200).fill(0x61);

async function device(prims: Primitives, userId: string, deviceId: string, prekeys: number) {
  const store = new MemoryStore();
  await store.saveIdentity(await generateIdentity(prims, rng));
  const body = await generateDeviceKeys(prims, store, {
    userId,
    deviceId,
    randomBytes: rng,
    now,
    oneTimePrekeys: prekeys,
  });
  const manager = new SessionManager({ primitives: prims, store, randomBytes: rng, now });
  const address: Address = { userId, deviceId };
  return { store, body, manager, address };
}

export async function oursOps(prims: Primitives, opts: { prekeys?: number } = {}): Promise<BenchOp[]> {
  const alice = await device(prims, 'aliceuser01', 'adev01', 1);
  const bob = await device(prims, 'bobuser0001', 'bdev01', opts.prekeys ?? 2000);
  const otks = [...bob.body.oneTimePrekeys];
  const bundleOf = (): UserBundle => ({
    userId: bob.address.userId,
    identityKey: bob.body.identityKey,
    deviceList: bob.body.deviceList,
    devices: [
      {
        deviceId: bob.address.deviceId,
        deviceKey: bob.body.deviceKey,
        signedPrekey: bob.body.signedPrekey,
        oneTimePrekey: otks.shift() ?? null,
      },
    ],
  });
  const identityKey = (
    await verifyUserBundle(prims, bundleOf(), { userId: bob.address.userId, store: alice.store, now: () => 0 })
  ).identityKey;
  const fixed = bundleOf();
  const aId = (await alice.store.getIdentity())!.publicKey;
  const bId = (await bob.store.getIdentity())!.publicKey;
  let turn = 0;

  return [
    {
      // Verify Bob's device bundle, X3DH + first message (Alice), X3DH + decrypt (Bob).
      op: 'session setup (both sides)',
      warmup: 10,
      run: async () => {
        await alice.manager.deleteSessions(bob.address);
        await bob.manager.deleteSessions(alice.address);
        const b = bundleOf();
        const d = await verifyDeviceBundle(prims, b.userId, identityKey, b.devices[0]!);
        const ct = await alice.manager.encrypt(bob.address, MESSAGE, d);
        await bob.manager.decrypt(alice.address, ct);
      },
    },
    {
      // One direction only: symmetric-key ratchet, no DH step.
      op: 'encrypt+decrypt 200 B, no DH step',
      prepare: async () => {
        await bob.manager.decrypt(alice.address, await alice.manager.encrypt(bob.address, MESSAGE));
        await alice.manager.decrypt(bob.address, await bob.manager.encrypt(alice.address, MESSAGE));
      },
      run: async () => {
        await bob.manager.decrypt(alice.address, await alice.manager.encrypt(bob.address, MESSAGE));
      },
    },
    {
      // Alternate directions: every message's receipt runs a DH ratchet step.
      op: 'ping-pong message (DH step each)',
      run: async () => {
        const [from, to] = turn++ % 2 === 0 ? [alice, bob] : [bob, alice];
        await to.manager.decrypt(from.address, await from.manager.encrypt(to.address, MESSAGE));
      },
    },
    {
      // Cold: device list + device key + signed prekey + one-time prekey signatures (4 Ed25519
      // verifications), lengths, low-order checks. libsignal checks 2 signatures here.
      op: 'bundle verification, cold (1 device)',
      run: async () => {
        clearVerifyCache();
        await verifyUserBundle(prims, fixed, { userId: fixed.userId });
      },
    },
    {
      // A re-fetched bundle of a known device: only its fresh one-time prekey signature is new.
      op: 'bundle verification, re-fetch (1 device)',
      run: () => verifyUserBundle(prims, bundleOf(), { userId: fixed.userId }),
    },
    {
      op: 'safety number',
      warmup: 5,
      run: async () =>
        safetyNumber({ stableId: 'aliceuser01', identityKey: aId }, { stableId: 'bobuser0001', identityKey: bId }),
    },
  ];
}

/** Test fixtures: seeded randomness, devices with their own stores, and a fake key directory. */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DeviceBundle, PublishKeysBody, UserBundle } from '@hush/protocol';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  type Address,
  generateDeviceKeys,
  generateIdentity,
  MemoryStore,
  type Primitives,
  type RandomBytes,
  SessionManager,
  type SessionManagerOptions,
  signDeviceList,
  type VerifiedDevice,
  verifyUserBundle,
} from '../src/index.js';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const wycheproofDir = path.resolve(repoRoot, 'libs', 'crypto', 'test', 'vectors', 'wycheproof');

/** Deterministic randomness (SHA-256 in counter mode over a seed): reproducible tests. */
export function seededRandom(seed: number | string): RandomBytes {
  let counter = 0;
  const s = new TextEncoder().encode(String(seed));
  return (n: number) => {
    const out = new Uint8Array(n);
    for (let o = 0; o < n; o += 32) {
      const block = new Uint8Array(s.length + 4);
      block.set(s);
      new DataView(block.buffer).setUint32(s.length, counter++);
      out.set(sha256(block).subarray(0, Math.min(32, n - o)), o);
    }
    return out;
  };
}

export function clock(start = 1_700_000_000_000) {
  let t = start;
  return () => (t += 1000);
}

/** An in-memory key directory as keydir would serve it: public material only, no checks. */
export class FakeKeyDir {
  readonly users = new Map<
    string,
    { identityKey: string; deviceList: PublishKeysBody['deviceList']; devices: Map<string, PublishKeysBody> }
  >();
  publish(userId: string, deviceId: string, body: PublishKeysBody) {
    let u = this.users.get(userId);
    if (!u) {
      u = { identityKey: body.identityKey, deviceList: body.deviceList, devices: new Map() };
      this.users.set(userId, u);
    }
    if (body.deviceList.version >= u.deviceList.version) u.deviceList = body.deviceList;
    u.identityKey = body.identityKey;
    u.devices.set(deviceId, structuredClone(body));
  }
  /** GET /v1/keys/:userId, claiming one one-time prekey per device. */
  fetch(userId: string): UserBundle {
    const u = this.users.get(userId);
    if (!u) throw new Error(`no user ${userId}`);
    const devices: DeviceBundle[] = [];
    for (const [deviceId, body] of u.devices) {
      devices.push({
        deviceId,
        deviceKey: body.deviceKey,
        signedPrekey: body.signedPrekey,
        oneTimePrekey: body.oneTimePrekeys.shift() ?? null,
      });
    }
    return structuredClone({ userId, identityKey: u.identityKey, deviceList: u.deviceList, devices });
  }
}

export interface TestDevice {
  address: Address;
  store: MemoryStore;
  manager: SessionManager;
  prims: Primitives;
  rng: RandomBytes;
  now: () => number;
}

export async function makeDevice(
  prims: Primitives,
  keydir: FakeKeyDir,
  userId: string,
  deviceId: string,
  opts: {
    seed?: string;
    prekeys?: number;
    limits?: SessionManagerOptions['limits'];
    identityFrom?: TestDevice;
    devices?: string[];
    /** The account's signed list as handed over by the linking device (instead of `devices`). */
    list?: PublishKeysBody['deviceList'];
    version?: number;
  } = {},
): Promise<TestDevice> {
  const rng = seededRandom(opts.seed ?? `${userId}/${deviceId}`);
  const now = clock();
  const store = new MemoryStore();
  const identity = opts.identityFrom
    ? (await opts.identityFrom.store.getIdentity())!
    : await generateIdentity(prims, rng);
  await store.saveIdentity(identity);
  const deviceList = opts.list
    ? opts.list
    : opts.devices
      ? await signDeviceList(prims, identity, {
          userId,
          version: opts.version ?? 1,
          devices: opts.devices,
          issuedAt: now(),
        })
      : undefined;
  const body = await generateDeviceKeys(prims, store, {
    userId,
    deviceId,
    randomBytes: rng,
    now,
    oneTimePrekeys: opts.prekeys ?? 3,
    ...(deviceList ? { deviceList } : {}),
  });
  keydir.publish(userId, deviceId, body);
  const manager = new SessionManager({
    primitives: prims,
    store,
    randomBytes: rng,
    now,
    ...(opts.limits ? { limits: opts.limits } : {}),
  });
  return { address: { userId, deviceId }, store, manager, prims, rng, now };
}

/** Fetches and verifies the bundle of `peer` as `me` would, returning the device's verified bundle. */
export async function bundleFor(me: TestDevice, keydir: FakeKeyDir, peer: Address): Promise<VerifiedDevice> {
  const v = await verifyUserBundle(me.prims, keydir.fetch(peer.userId), {
    userId: peer.userId,
    store: me.store,
    now: me.now,
  });
  const d = v.devices.find((x) => x.deviceId === peer.deviceId);
  if (!d) throw new Error('device missing from bundle');
  return d;
}

export const text = (s: string) => new TextEncoder().encode(s);
export const str = (b: Uint8Array) => new TextDecoder().decode(b);

import { existsSync, readFileSync } from 'node:fs';

export interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: 'valid' | 'invalid' | 'acceptable';
  [k: string]: unknown;
}
export interface WycheproofGroup {
  tests: WycheproofTest[];
  [k: string]: unknown;
}

/** Reads test/vectors/wycheproof/<name>_test.json (vendored, see its README); fails loudly when missing. */
export function loadWycheproof(name: string): WycheproofGroup[] {
  const file = path.join(wycheproofDir, `${name}_test.json`);
  if (!existsSync(file)) {
    throw new Error(`Wycheproof vectors not found at ${file}`);
  }
  const j = JSON.parse(readFileSync(file, 'utf8')) as { testGroups: WycheproofGroup[]; numberOfTests: number };
  const n = j.testGroups.reduce((a, g) => a + g.tests.length, 0);
  if (n !== j.numberOfTests) throw new Error(`${name}: expected ${j.numberOfTests} tests, read ${n}`);
  return j.testGroups;
}

export const hex = (s: string): Uint8Array => {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
};

/** An attacker's copy of everything a device has stored (a full compromise at one moment). */
export async function stealState(d: TestDevice, peers: Address[]): Promise<MemoryStore> {
  const copy = new MemoryStore();
  await copy.saveIdentity((await d.store.getIdentity())!);
  await copy.saveLocalDevice((await d.store.getLocalDevice())!);
  for (const r of await d.store.listSignedPrekeys()) await copy.saveSignedPrekey(r);
  for (const p of peers) {
    const s = await d.store.loadSessions(p);
    if (s !== undefined) await copy.storeSessions(p, s);
  }
  for (const userId of new Set([d.address.userId, ...peers.map((p) => p.userId)])) {
    const l = await d.store.getPeerDeviceList(userId);
    if (l) await copy.savePeerDeviceList(userId, l);
  }
  return copy;
}

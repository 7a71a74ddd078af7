/**
 * Fixtures for MLS group tests and benchmarks: accounts (one identity, several devices), each
 * device with its leaf signer and key packages, and a directory that plays keydir plus each
 * member's trust decisions (identity key per user, device list per user).
 */

import { equalBytes } from '../src/encoding.js';
import {
  createLeafSigner,
  createPrimitives,
  generateIdentity,
  generateKeyPackages,
  type IdentityKeyPair,
  type LeafIdentity,
  type LeafSigner,
  type LocalKeyPackage,
  type MemberCheck,
  type MlsDeps,
  MlsGroup,
  mlsSuite,
  type Primitives,
  type RandomBytes,
  welcomeKeyPackageRefs,
} from '../src/index.js';

export interface Account {
  userId: string;
  identity: IdentityKeyPair;
}

export interface Device {
  userId: string;
  deviceId: string;
  deps: MlsDeps;
  signer: LeafSigner;
  keyPackages: Map<string, LocalKeyPackage>;
}

/** What one device believes: userId -> identity key and listed devices. */
export class Directory {
  readonly identities = new Map<string, Uint8Array>();
  readonly devices = new Map<string, Set<string>>();
  learn(userId: string, identityKey: Uint8Array, deviceId: string): void {
    this.identities.set(userId, identityKey);
    const s = this.devices.get(userId) ?? new Set<string>();
    s.add(deviceId);
    this.devices.set(userId, s);
  }
  readonly check: MemberCheck = (leaf: LeafIdentity) => {
    const known = this.identities.get(leaf.userId);
    return (
      known !== undefined &&
      equalBytes(known, leaf.identityKey) &&
      (this.devices.get(leaf.userId)?.has(leaf.deviceId) ?? false)
    );
  };
}

export async function account(prims: Primitives, randomBytes: RandomBytes, userId: string): Promise<Account> {
  return { userId, identity: await generateIdentity(prims, randomBytes) };
}

export async function device(
  prims: Primitives,
  randomBytes: RandomBytes,
  acct: Account,
  deviceId: string,
  directory: Directory,
  keyPackages = 2,
): Promise<Device> {
  const suite = await mlsSuite(randomBytes);
  const deps: MlsDeps = { prims, suite, check: directory.check, now: Date.now };
  const signer = await createLeafSigner(prims, suite, acct.identity, acct.userId, deviceId);
  const kps = await generateKeyPackages(suite, signer, keyPackages, deps.now);
  return { userId: acct.userId, deviceId, deps, signer, keyPackages: new Map(kps.map((k) => [k.ref, k])) };
}

/** Takes one published key package (as keydir's claim would). */
export function claim(d: Device): Uint8Array {
  const first = d.keyPackages.values().next();
  if (first.done) throw new Error(`no key package left for ${d.deviceId}`);
  return first.value.publicMessage;
}

/** Joins with the local key package the welcome names, and deletes it (used once). */
export async function joinFromWelcome(d: Device, welcome: Uint8Array): Promise<MlsGroup> {
  const ref = welcomeKeyPackageRefs(welcome).find((r) => d.keyPackages.has(r));
  const kp = ref === undefined ? undefined : d.keyPackages.get(ref);
  if (ref === undefined || kp === undefined) throw new Error(`welcome is not for ${d.deviceId}`);
  const g = await MlsGroup.join(d.deps, d.signer, kp, welcome);
  d.keyPackages.delete(ref);
  return g;
}

export async function defaultPrims(): Promise<Primitives> {
  return createPrimitives();
}

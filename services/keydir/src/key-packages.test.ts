import { randomBytes } from 'node:crypto';
import {
  type Caller,
  type ClaimedKeyPackages,
  type KeyPackageCount,
  type PrekeyCount,
  type PublishedKeyPackage,
  type PublishKeysBody,
  randomId,
  type ServiceReply,
  subjects,
} from '@hush/protocol';
import { type TestEnv, testEnv } from '@hush/service-kit/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { type KeydirHandle, startKeydir } from './service.js';

let env: TestEnv;
let keydir: KeydirHandle;
let s: ReturnType<typeof subjects>;

const b64 = (n: number) => randomBytes(n).toString('base64');
const code = <T>(r: ServiceReply<T>) => (r.ok ? 'ok' : r.error.code);
const ok = <T>(r: ServiceReply<T>): T => {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.result;
};
const kp = (): PublishedKeyPackage => ({ ref: b64(32), body: b64(300) });
const keysFor = (deviceList: PublishKeysBody['deviceList'], identityKey: string): PublishKeysBody => ({
  identityKey,
  deviceKey: { publicKey: b64(32), signature: b64(64) },
  signedPrekey: { keyId: 1, publicKey: b64(32), createdAt: Date.now(), signature: b64(64) },
  oneTimePrekeys: [],
  deviceList,
});
const upload = (caller: Caller, body: { keyPackages: PublishedKeyPackage[]; lastResort?: PublishedKeyPackage }) =>
  env.call<KeyPackageCount>(s.keydir.keyPackagesUpload, { caller, body });
const claim = (caller: Caller, userId: string) =>
  env.call<ClaimedKeyPackages>(s.keydir.keyPackagesClaim, { caller, userId });

/** An account with `n` devices that all published keys. */
async function account(n: number): Promise<Caller[]> {
  const userId = randomId(20);
  const devices = Array.from({ length: n }, () => randomId(12));
  const identity = b64(32);
  const list = { version: 1, devices, issuedAt: Date.now(), signature: b64(64) };
  for (const deviceId of devices) {
    ok(await env.call<PrekeyCount>(s.keydir.publish, { caller: { userId, deviceId }, keys: keysFor(list, identity) }));
  }
  return devices.map((deviceId) => ({ userId, deviceId }));
}

beforeAll(async () => {
  env = await testEnv('keydirkp');
  s = subjects(env.prefix);
  const cfg = {
    ...loadConfig({}),
    subjectPrefix: env.prefix,
    redisPrefix: env.redisPrefix,
    streamName: `MBOX_${env.prefix}`,
    prekeyClaimsPerTarget: 30,
  };
  keydir = await startKeydir({ nc: env.nc, redis: env.redis, log: pino({ level: 'silent' }) }, cfg);
});

afterAll(async () => {
  await keydir?.stop();
  await env?.cleanup();
});

describe('keydir MLS key packages', () => {
  it('hands out each key package once, one per device, then the last-resort package', async () => {
    const [bob1, bob2] = (await account(2)) as [Caller, Caller];
    const [alice] = (await account(1)) as [Caller];
    const p1 = [kp(), kp()];
    const lr = kp();
    expect(ok(await upload(bob1, { keyPackages: p1, lastResort: lr }))).toEqual({ remaining: 2, lastResort: true });
    const p2 = [kp()];
    ok(await upload(bob2, { keyPackages: p2 }));

    const first = ok(await claim(alice, bob1.userId));
    expect(first.packages).toEqual(
      expect.arrayContaining([
        { deviceId: bob1.deviceId, ref: p1[0]?.ref, body: p1[0]?.body, lastResort: false },
        { deviceId: bob2.deviceId, ref: p2[0]?.ref, body: p2[0]?.body, lastResort: false },
      ]),
    );
    const second = ok(await claim(alice, bob1.userId));
    // bob2 has nothing left and no last resort: it is left out; bob1 gives its second package.
    expect(second.packages).toEqual([
      { deviceId: bob1.deviceId, ref: p1[1]?.ref, body: p1[1]?.body, lastResort: false },
    ]);
    for (let i = 0; i < 2; i++) {
      const third = ok(await claim(alice, bob1.userId));
      expect(third.packages).toEqual([{ deviceId: bob1.deviceId, ref: lr.ref, body: lr.body, lastResort: true }]);
    }
    expect(ok(await env.call<KeyPackageCount>(s.keydir.keyPackagesCount, { caller: bob1 }))).toEqual({
      remaining: 0,
      lastResort: true,
    });
  });

  it('never hands the same package to two concurrent claims', async () => {
    const [carol] = (await account(1)) as [Caller];
    const pkgs = Array.from({ length: 10 }, kp);
    ok(await upload(carol, { keyPackages: pkgs, lastResort: kp() }));
    const claimers = await Promise.all(Array.from({ length: 8 }, () => account(1)));
    const results = await Promise.all(claimers.map(([c]) => claim(c as Caller, carol.userId)));
    results.push(...(await Promise.all(claimers.map(([c]) => claim(c as Caller, carol.userId)))));
    const handed = results.flatMap((r) => ok(r).packages);
    const oneUse = handed.filter((p) => !p.lastResort).map((p) => p.ref);
    expect(oneUse.length).toBe(10);
    expect(new Set(oneUse).size).toBe(10);
    expect(handed.filter((p) => p.lastResort).length).toBe(6);
  });

  it("a device's own other devices can be claimed, never the caller's own device", async () => {
    const [d1, d2] = (await account(2)) as [Caller, Caller];
    ok(await upload(d1, { keyPackages: [kp()] }));
    ok(await upload(d2, { keyPackages: [kp()] }));
    const r = ok(await claim(d1, d1.userId));
    expect(r.packages.map((p) => p.deviceId)).toEqual([d2.deviceId]);
  });

  it('drops the packages of a device removed from the account', async () => {
    const [d1, d2] = (await account(2)) as [Caller, Caller];
    ok(await upload(d2, { keyPackages: [kp()], lastResort: kp() }));
    const list = { version: 2, devices: [d1.deviceId], issuedAt: Date.now(), signature: b64(64) };
    ok(await env.call(s.keydir.deviceList, { caller: d1, deviceList: list }));
    expect(code(await claim(d1, d1.userId))).toBe('KEYS_NO_KEY_PACKAGE');
  });

  it('refuses bad input with stable codes', async () => {
    const [e1] = (await account(1)) as [Caller];
    expect(code(await upload(e1, { keyPackages: [{ ref: 'short', body: b64(100) }] }))).toBe('KEYS_MALFORMED');
    expect(code(await upload(e1, { keyPackages: [{ ref: b64(32), body: 'not base64!' }] }))).toBe('KEYS_MALFORMED');
    expect(code(await upload(e1, { keyPackages: Array.from({ length: 101 }, kp) }))).toBe('KEYS_TOO_MANY_KEY_PACKAGES');
    const dup = kp();
    expect(code(await upload(e1, { keyPackages: [dup, dup] }))).toBe('KEYS_MALFORMED');
    expect(code(await upload({ userId: e1.userId, deviceId: randomId(12) }, { keyPackages: [kp()] }))).toBe(
      'KEYS_NOT_FOUND',
    );
    expect(code(await claim(e1, randomId(20)))).toBe('KEYS_NOT_FOUND');
    const [f1] = (await account(1)) as [Caller];
    expect(code(await claim(e1, f1.userId))).toBe('KEYS_NO_KEY_PACKAGE');
    expect(code(await env.call(s.keydir.keyPackagesClaim, { caller: e1, userId: 'Bad.User' }))).toBe(
      'VALIDATION_FAILED',
    );
    // Filling past the stored cap is refused and says how many more fit.
    for (let i = 0; i < 2; i++) ok(await upload(e1, { keyPackages: Array.from({ length: 100 }, kp) }));
    expect(code(await upload(e1, { keyPackages: [kp()] }))).toBe('KEYS_TOO_MANY_KEY_PACKAGES');
  });
});

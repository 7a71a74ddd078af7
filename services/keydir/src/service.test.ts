import { randomBytes } from 'node:crypto';
import {
  type Caller,
  type DevicesResult,
  type KeysChangedEvent,
  type OneTimePrekey,
  type PrekeyCount,
  type PublishKeysBody,
  randomId,
  type ServiceReply,
  subjects,
  type UserBundle,
} from '@hush/protocol';
import { svcm } from '@hush/service-kit';
import { collect, eventually, type TestEnv, testEnv } from '@hush/service-kit/testing';
import { AckPolicy, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KeydirConfig, loadConfig } from './config.js';
import { type KeydirHandle, startKeydir } from './service.js';

let env: TestEnv;
let keydir: KeydirHandle;
let cfg: KeydirConfig;
let s: ReturnType<typeof subjects>;
const log = pino({ level: 'silent' });

const b64 = (n: number) => randomBytes(n).toString('base64');
const err = <T>(r: ServiceReply<T>) => (r.ok ? undefined : r.error);
const ok = <T>(r: ServiceReply<T>): T => {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.result;
};
const newCaller = (userId = randomId(20)): Caller => ({ userId, deviceId: randomId(12) });
let nextKeyId = 1;
const otks = (n: number): OneTimePrekey[] =>
  Array.from({ length: n }, () => ({ keyId: nextKeyId++, publicKey: b64(32), signature: b64(64) }));
const keysFor = (
  devices: string[],
  opts: { identityKey?: string; version?: number; prekeys?: number } = {},
): PublishKeysBody => ({
  identityKey: opts.identityKey ?? b64(32),
  deviceKey: { publicKey: b64(32), signature: b64(64) },
  signedPrekey: { keyId: 1, publicKey: b64(32), createdAt: Date.now(), signature: b64(64) },
  oneTimePrekeys: otks(opts.prekeys ?? 5),
  deviceList: { version: opts.version ?? 1, devices, issuedAt: Date.now(), signature: b64(64) },
});
const publish = (caller: Caller, keys: PublishKeysBody) => env.call<PrekeyCount>(s.keydir.publish, { caller, keys });
const bundle = (caller: Caller, userId: string) => env.call<UserBundle>(s.keydir.bundle, { caller, userId });

beforeAll(async () => {
  env = await testEnv('keydir');
  s = subjects(env.prefix);
  cfg = {
    ...loadConfig({}),
    subjectPrefix: env.prefix,
    redisPrefix: env.redisPrefix,
    streamName: `MBOX_${env.prefix}`,
    bundleFetchesPerWindow: 5,
  };
  keydir = await startKeydir({ nc: env.nc, redis: env.redis, log }, cfg);
});

afterAll(async () => {
  await keydir?.stop();
  await env?.cleanup();
});

describe('keydir publication and bundles', () => {
  it('stores a device’s keys and hands out a bundle with one one-time prekey per device', async () => {
    const alice = newCaller();
    const keys = keysFor([alice.deviceId], { prekeys: 3 });
    expect(ok(await publish(alice, keys))).toEqual({ remaining: 3 });
    const b = ok(await bundle(newCaller(), alice.userId));
    expect(b.userId).toBe(alice.userId);
    expect(b.identityKey).toBe(keys.identityKey);
    expect(b.deviceList).toEqual(keys.deviceList);
    expect(b.devices).toEqual([
      {
        deviceId: alice.deviceId,
        deviceKey: keys.deviceKey,
        signedPrekey: keys.signedPrekey,
        oneTimePrekey: keys.oneTimePrekeys[0],
      },
    ]);
    expect(ok(await env.call<PrekeyCount>(s.keydir.count, { caller: alice }))).toEqual({ remaining: 2 });
  });

  it('returns a null one-time prekey once they are used up', async () => {
    const alice = newCaller();
    ok(await publish(alice, keysFor([alice.deviceId], { prekeys: 1 })));
    expect(ok(await bundle(newCaller(), alice.userId)).devices[0]?.oneTimePrekey).not.toBeNull();
    expect(ok(await bundle(newCaller(), alice.userId)).devices[0]?.oneTimePrekey).toBeNull();
  });

  it('never hands out the same one-time prekey twice under 200 concurrent claims for 100 keys', async () => {
    const alice = newCaller();
    const keys = keysFor([alice.deviceId], { prekeys: 100 });
    ok(await publish(alice, keys));
    const replies = await Promise.all(Array.from({ length: 200 }, () => bundle(newCaller(), alice.userId)));
    const claimed = replies.map((r) => ok(r).devices[0]?.oneTimePrekey);
    const ids = claimed.filter((k) => k !== null && k !== undefined).map((k) => k!.keyId);
    expect(ids).toHaveLength(100);
    expect(new Set(ids).size).toBe(100);
    expect(new Set(ids)).toEqual(new Set(keys.oneTimePrekeys.map((k) => k.keyId)));
    expect(claimed.filter((k) => k === null)).toHaveLength(100);
    expect(ok(await env.call<PrekeyCount>(s.keydir.count, { caller: alice }))).toEqual({ remaining: 0 });
  });

  it('does not burn the caller’s own prekeys when it fetches its own account', async () => {
    const a1 = newCaller();
    const a2 = { userId: a1.userId, deviceId: randomId(12) };
    const identityKey = b64(32);
    ok(await publish(a1, keysFor([a1.deviceId], { identityKey, prekeys: 2 })));
    ok(await publish(a2, keysFor([a1.deviceId, a2.deviceId], { identityKey, version: 2, prekeys: 2 })));
    const b = ok(await bundle(a1, a1.userId));
    expect(b.devices.map((d) => d.deviceId)).toEqual([a2.deviceId]);
    expect(ok(await env.call<PrekeyCount>(s.keydir.count, { caller: a1 }))).toEqual({ remaining: 2 });
  });

  it('answers KEYS_NOT_FOUND for a user without keys', async () => {
    expect(err(await bundle(newCaller(), randomId(20)))?.code).toBe('KEYS_NOT_FOUND');
  });

  it('rate-limits bundle fetches per calling account', async () => {
    const alice = newCaller();
    ok(await publish(alice, keysFor([alice.deviceId])));
    const mallory = newCaller();
    for (let i = 0; i < cfg.bundleFetchesPerWindow; i++) ok(await bundle(mallory, alice.userId));
    const r = await bundle(mallory, alice.userId);
    expect(err(r)?.code).toBe('KEYS_RATE_LIMITED');
    expect(err(r)?.retryAfter).toBeGreaterThan(0);
  });

  it('lists the current devices of a user, and none for an unknown user', async () => {
    const alice = newCaller();
    ok(await publish(alice, keysFor([alice.deviceId])));
    expect(ok(await env.call<DevicesResult>(s.keydir.devices, { userId: alice.userId }))).toEqual({
      devices: [alice.deviceId],
    });
    expect(ok(await env.call<DevicesResult>(s.keydir.devices, { userId: randomId(20) }))).toEqual({ devices: [] });
  });
});

describe('keydir refuses bad writes', () => {
  const wrongLength = `${'A'.repeat(42)}==`; // 44 characters that decode to 31 bytes

  it.each([
    [
      'identityKey',
      (k: PublishKeysBody) => {
        k.identityKey = wrongLength;
      },
    ],
    [
      'deviceKey.signature',
      (k: PublishKeysBody) => {
        k.deviceKey.signature = `${b64(63)}A`;
      },
    ],
    [
      'signedPrekey.publicKey',
      (k: PublishKeysBody) => {
        k.signedPrekey.publicKey = wrongLength;
      },
    ],
    [
      'oneTimePrekeys[2].publicKey',
      (k: PublishKeysBody) => {
        k.oneTimePrekeys[2]!.publicKey = wrongLength;
      },
    ],
    [
      'deviceList.signature',
      (k: PublishKeysBody) => {
        k.deviceList.signature = b64(66);
      },
    ],
  ])('refuses a %s of the wrong decoded length with KEYS_MALFORMED naming it', async (field, spoil) => {
    const alice = newCaller();
    const keys = keysFor([alice.deviceId]);
    spoil(keys);
    const e = err(await publish(alice, keys));
    expect(e?.code).toBe('KEYS_MALFORMED');
    // Named either by the length check (dotted) or by the schema (a JSON pointer).
    const pointer = `/keys/${field.replace(/\[(\d+)\]/, '/$1').replace(/\./g, '/')}`;
    expect(e?.message.includes(field) || e?.message.includes(pointer)).toBe(true);
  });

  it('refuses bad base64 and non-canonical base64 with KEYS_MALFORMED', async () => {
    const alice = newCaller();
    const bad = keysFor([alice.deviceId]);
    bad.deviceKey.publicKey = `${'!'.repeat(43)}=`;
    expect(err(await publish(alice, bad))?.code).toBe('KEYS_MALFORMED');
    const nonCanonical = keysFor([alice.deviceId]);
    // The last character carries 2 spare bits; setting them gives another spelling of the same bytes.
    nonCanonical.identityKey = `${'A'.repeat(42)}B=`;
    const e = err(await publish(alice, nonCanonical));
    expect(e?.code).toBe('KEYS_MALFORMED');
    expect(e?.message).toContain('identityKey');
  });

  it('refuses keys whose device list does not contain the publishing device (KEYS_FORBIDDEN)', async () => {
    const alice = newCaller();
    expect(err(await publish(alice, keysFor([randomId(12)])))?.code).toBe('KEYS_FORBIDDEN');
  });

  it('writes only under the caller’s own account and device, whatever device the list names', async () => {
    const alice = newCaller();
    const aliceKeys = keysFor([alice.deviceId]);
    ok(await publish(alice, aliceKeys));
    // Mallory lists Alice's device in her own list: it lands in Mallory's account, not Alice's.
    const mallory = newCaller();
    ok(await publish(mallory, keysFor([mallory.deviceId, alice.deviceId])));
    const b = ok(await bundle(newCaller(), alice.userId));
    expect(b.identityKey).toBe(aliceKeys.identityKey);
    expect(b.devices[0]?.deviceKey).toEqual(aliceKeys.deviceKey);
    // A device that never published cannot top up prekeys.
    const stranger = { userId: alice.userId, deviceId: randomId(12) };
    expect(err(await env.call(s.keydir.prekeys, { caller: stranger, body: { oneTimePrekeys: otks(1) } }))?.code).toBe(
      'KEYS_NOT_FOUND',
    );
  });

  it('refuses a device list whose version does not increase, but accepts the same list again', async () => {
    const a1 = newCaller();
    const identityKey = b64(32);
    const first = keysFor([a1.deviceId], { identityKey, version: 3 });
    ok(await publish(a1, first));
    ok(await publish(a1, { ...keysFor([a1.deviceId], { identityKey }), deviceList: first.deviceList }));
    const stale = keysFor([a1.deviceId, randomId(12)], { identityKey, version: 3 });
    expect(err(await publish(a1, stale))?.code).toBe('KEYS_STALE_DEVICE_LIST');
    const older = { caller: a1, deviceList: { ...first.deviceList, version: 2 } };
    expect(err(await env.call(s.keydir.deviceList, older))?.code).toBe('KEYS_STALE_DEVICE_LIST');
  });

  it('refuses more than 200 prekeys in one upload and more than 1000 stored', async () => {
    const alice = newCaller();
    expect(err(await publish(alice, keysFor([alice.deviceId], { prekeys: 201 })))?.code).toBe('KEYS_TOO_MANY_PREKEYS');
    ok(await publish(alice, keysFor([alice.deviceId], { prekeys: 200 })));
    for (let i = 0; i < 4; i++) {
      ok(await env.call(s.keydir.prekeys, { caller: alice, body: { oneTimePrekeys: otks(200) } }));
    }
    const r = await env.call(s.keydir.prekeys, { caller: alice, body: { oneTimePrekeys: otks(1) } });
    expect(err(r)?.code).toBe('KEYS_TOO_MANY_PREKEYS');
    expect(ok(await env.call<PrekeyCount>(s.keydir.count, { caller: alice }))).toEqual({ remaining: 1000 });
  });
});

describe('keydir prekey top-up and device lists', () => {
  it('tops up one-time prekeys and rotates the signed prekey', async () => {
    const alice = newCaller();
    ok(await publish(alice, keysFor([alice.deviceId], { prekeys: 1 })));
    const signedPrekey = { keyId: 2, publicKey: b64(32), createdAt: Date.now(), signature: b64(64) };
    const r = ok(
      await env.call<PrekeyCount>(s.keydir.prekeys, { caller: alice, body: { oneTimePrekeys: otks(4), signedPrekey } }),
    );
    expect(r).toEqual({ remaining: 5 });
    expect(ok(await bundle(newCaller(), alice.userId)).devices[0]?.signedPrekey).toEqual(signedPrekey);
  });

  it('removes a device dropped from the signed list, deletes its keys and announces it', async () => {
    const a1 = newCaller();
    const a2 = { userId: a1.userId, deviceId: randomId(12) };
    const identityKey = b64(32);
    ok(await publish(a1, keysFor([a1.deviceId], { identityKey })));
    ok(await publish(a2, keysFor([a1.deviceId, a2.deviceId], { identityKey, version: 2 })));
    const events = collect<KeysChangedEvent>(env.nc, s.events.keysChanged(a1.userId));
    const deviceList = { version: 3, devices: [a1.deviceId], issuedAt: Date.now(), signature: b64(64) };
    expect(ok(await env.call<DevicesResult>(s.keydir.deviceList, { caller: a1, deviceList }))).toEqual({
      devices: [a1.deviceId],
    });
    await eventually(() => events.items.length > 0);
    expect(events.items[0]).toMatchObject({
      userId: a1.userId,
      reason: 'device-list',
      identityChanged: false,
      removedDevices: [a2.deviceId],
    });
    expect(ok(await bundle(newCaller(), a1.userId)).devices.map((d) => d.deviceId)).toEqual([a1.deviceId]);
    expect(ok(await env.call<PrekeyCount>(s.keydir.count, { caller: a2 }))).toEqual({ remaining: 0 });
    events.stop();
  });

  it('starts a new identity when a device publishes another identity key: old devices, keys and mailboxes go', async () => {
    const jsm = await jetstreamManager(env.nc);
    await jsm.streams.add({ name: cfg.streamName, subjects: [s.mailboxAll], storage: StorageType.Memory });
    const old1 = newCaller();
    const old2 = { userId: old1.userId, deviceId: randomId(12) };
    const fresh = { userId: old1.userId, deviceId: randomId(12) };
    const oldIdentity = b64(32);
    ok(await publish(old1, keysFor([old1.deviceId], { identityKey: oldIdentity })));
    ok(await publish(old2, keysFor([old1.deviceId, old2.deviceId], { identityKey: oldIdentity, version: 2 })));
    await jsm.consumers.add(cfg.streamName, {
      durable_name: s.consumerName(old1.userId, old1.deviceId),
      filter_subject: s.mailbox(old1.userId, old1.deviceId),
      ack_policy: AckPolicy.Explicit,
    });
    const js = jsm.jetstream();
    await js.publish(s.mailbox(old1.userId, old1.deviceId), 'sealed-1');
    await js.publish(s.mailbox(old2.userId, old2.deviceId), 'sealed-2');
    await js.publish(s.mailbox(fresh.userId, fresh.deviceId), 'sealed-3');

    const events = collect<KeysChangedEvent>(env.nc, s.events.keysChanged(old1.userId));
    const newKeys = { ...keysFor([fresh.deviceId], { version: 1 }), resetIdentity: true };
    ok(await publish(fresh, newKeys));
    await eventually(() => events.items.length > 0);
    expect(events.items[0]).toMatchObject({ reason: 'identity-reset', identityChanged: true });
    expect([...events.items[0]!.removedDevices].sort()).toEqual([old1.deviceId, old2.deviceId].sort());

    const b = ok(await bundle(newCaller(), old1.userId));
    expect(b.identityKey).toBe(newKeys.identityKey);
    expect(b.devices.map((d) => d.deviceId)).toEqual([fresh.deviceId]);
    expect(ok(await env.call<DevicesResult>(s.keydir.devices, { userId: old1.userId })).devices).toEqual([
      fresh.deviceId,
    ]);
    const info = await jsm.streams.info(cfg.streamName, { subjects_filter: '>' });
    expect(info.state.subjects).toEqual({ [s.mailbox(fresh.userId, fresh.deviceId)]: 1 });
    await expect(jsm.consumers.info(cfg.streamName, s.consumerName(old1.userId, old1.deviceId))).rejects.toThrow();
    events.stop();
    await jsm.streams.delete(cfg.streamName);
  });

  it('refuses another identity key without an explicit reset, and changes nothing', async () => {
    const old = newCaller();
    const pending = { userId: old.userId, deviceId: randomId(12) };
    const first = keysFor([old.deviceId]);
    ok(await publish(old, first));
    const events = collect<KeysChangedEvent>(env.nc, s.events.keysChanged(old.userId));
    for (const resetIdentity of [undefined, false]) {
      const body = {
        ...keysFor([pending.deviceId], { version: 5 }),
        ...(resetIdentity === false ? { resetIdentity } : {}),
      };
      expect(err(await publish(pending, body))?.code).toBe('KEYS_IDENTITY_MISMATCH');
    }
    const b = ok(await bundle(newCaller(), old.userId));
    expect(b.identityKey).toBe(first.identityKey);
    expect(b.devices.map((d) => d.deviceId)).toEqual([old.deviceId]);
    await new Promise((r) => setTimeout(r, 50));
    expect(events.items).toEqual([]);
    events.stop();
  });

  it('still resets an identity when the mailbox stream does not exist', async () => {
    const old = newCaller();
    const fresh = { userId: old.userId, deviceId: randomId(12) };
    ok(await publish(old, keysFor([old.deviceId])));
    ok(await publish(fresh, { ...keysFor([fresh.deviceId]), resetIdentity: true }));
    expect(ok(await env.call<DevicesResult>(s.keydir.devices, { userId: old.userId })).devices).toEqual([
      fresh.deviceId,
    ]);
  });
});

describe('keydir as a NATS micro service', () => {
  it('answers $SRV.INFO under the name "keydir" with its endpoints in the default queue group', async () => {
    const infos = [];
    for await (const i of await svcm(env.nc).client().info('keydir')) infos.push(i);
    const ours = infos.find((i) => i.endpoints.some((e) => e.subject === s.keydir.publish));
    expect(ours?.name).toBe('keydir');
    expect(ours?.endpoints.map((e) => e.subject).sort()).toEqual(Object.values(s.keydir).sort());
    const pings = [];
    for await (const p of await svcm(env.nc).client().ping('keydir')) pings.push(p);
    expect(pings.some((p) => p.id === ours?.id)).toBe(true);
  });

  it('answers malformed requests with VALIDATION_FAILED and keeps serving', async () => {
    expect(err(await env.call(s.keydir.bundle, '{{{'))?.code).toBe('VALIDATION_FAILED');
    expect(err(await env.call(s.keydir.bundle, { userId: 'nope' }))?.code).toBe('VALIDATION_FAILED');
    expect(err(await env.call(s.keydir.publish, { caller: { userId: 'x' }, keys: {} }))?.code).toBe(
      'VALIDATION_FAILED',
    );
    expect(err(await env.call(s.keydir.publish, { caller: newCaller(), keys: {} }))?.code).toBe('KEYS_MALFORMED');
    const alice = newCaller();
    ok(await publish(alice, keysFor([alice.deviceId])));
  });
});

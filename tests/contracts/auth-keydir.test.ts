import { randomBytes } from 'node:crypto';
import { type AuthHandle, loadConfig as authConfig, startAuth } from '@hush/auth';
import { type KeydirHandle, loadConfig as keydirConfig, startKeydir } from '@hush/keydir';
import {
  type DeviceRevokedEvent,
  isDeviceId,
  isUserId,
  randomId,
  type ServiceReply,
  type Session,
  type Subjects,
  subjects,
} from '@hush/protocol';
import { collect, eventually, type TestEnv, testEnv } from '@hush/service-kit/testing';
import { exportJWK, generateKeyPair } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standInAuth } from '../../services/gateway/src/stand-in-auth.js';

/**
 * One suite, two implementations of what the gateway asks auth and keydir over NATS: the real
 * services (Redis) and the gateway tests' stand-ins (services/gateway/src/stand-in-auth.ts). The
 * gateway relies on these answers (key set, session shape, signed-in check, logout event, device
 * list); a stand-in that answered more or differently would let a gateway bug pass its tests.
 */
interface Impl {
  name: string;
  start(
    env: TestEnv,
    s: Subjects,
  ): Promise<{ stop(): Promise<void>; addDevice(userId: string, deviceId: string): Promise<void> }>;
}

const rnd = (n: number) => randomBytes(n).toString('base64');
const log = pino({ level: 'silent' });

const implementations: Impl[] = [
  {
    name: 'the auth and keydir services',
    start: async (env, s) => {
      const base = { subjectPrefix: s.prefix, redisPrefix: env.redisPrefix };
      const auth: AuthHandle = await startAuth(
        { nc: env.nc, redis: env.redis, log },
        { ...authConfig({}), ...base, argon2MemoryKib: 1024, argon2Iterations: 1 },
      );
      const keydir: KeydirHandle = await startKeydir(
        { nc: env.nc, redis: env.redis, log },
        { ...keydirConfig({}), ...base },
      );
      return {
        stop: async () => {
          await keydir.stop();
          await auth.stop();
        },
        addDevice: async (userId, deviceId) => {
          const keys = {
            identityKey: rnd(32),
            deviceKey: { publicKey: rnd(32), signature: rnd(64) },
            signedPrekey: { keyId: 1, publicKey: rnd(32), createdAt: Date.now(), signature: rnd(64) },
            oneTimePrekeys: [],
            deviceList: { version: 1, devices: [deviceId], issuedAt: Date.now(), signature: rnd(64) },
          };
          const r = await env.call(s.keydir.publish, { caller: { userId, deviceId }, keys });
          if (!r.ok) throw new Error(`keydir.publish: ${r.error.code}`);
        },
      };
    },
  },
  {
    name: "the gateway tests' stand-ins",
    start: async (env, s) => {
      const { publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
      const jwk = { ...(await exportJWK(publicKey)), kid: 'standin', alg: 'EdDSA', use: 'sig' };
      const stand = standInAuth(env.nc, s, jwk);
      await env.nc.flush();
      return {
        stop: async () => stand.stop(),
        addDevice: async (userId, deviceId) => void stand.devices.set(userId, [deviceId]),
      };
    },
  },
];

for (const impl of implementations) {
  describe(`auth and keydir contract: ${impl.name}`, () => {
    let env: TestEnv;
    let s: Subjects;
    let running: Awaited<ReturnType<Impl['start']>>;

    beforeAll(async () => {
      env = await testEnv('contract');
      s = subjects(env.prefix);
      running = await impl.start(env, s);
    });
    afterAll(async () => {
      await running?.stop();
      await env?.cleanup();
    });

    const call = async <T>(subject: string, body: unknown): Promise<T> => {
      const r: ServiceReply<T> = await env.call<T>(subject, body);
      if (!r.ok) throw new Error(`${subject}: ${r.error.code}`);
      return r.result;
    };
    const register = () =>
      call<Session>(s.auth.register, {
        username: `c${randomId(10)}`,
        password: 'correct horse battery',
        deviceName: 'contract',
        clientAddr: '127.0.0.1',
      });

    it('serves Ed25519 verification keys, each with a kid', async () => {
      const { keys } = await call<{ keys: Record<string, unknown>[] }>(s.auth.jwks, {});
      expect(keys.length).toBeGreaterThan(0);
      for (const k of keys)
        expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: expect.any(String) });
    });

    it('answers register with a session in the protocol shape, expiring in the future', async () => {
      const session = await register();
      expect(isUserId(session.userId) && isDeviceId(session.deviceId)).toBe(true);
      expect(session).toMatchObject({ accessToken: expect.any(String), refreshToken: expect.any(String) });
      expect(session.accessExpiresAt).toBeGreaterThan(Date.now());
      expect(session.refreshExpiresAt).toBeGreaterThan(session.accessExpiresAt);
    });

    it('checks a signed-in device active until it logs out, announces the logout, and knows no other device', async () => {
      const { userId, deviceId } = await register();
      const caller = { userId, deviceId };
      expect(await call(s.auth.check, caller)).toEqual({ active: true });
      expect(await call(s.auth.check, { userId, deviceId: randomId(12) })).toEqual({ active: false });
      const events = collect<DeviceRevokedEvent>(env.nc, s.events.deviceRevoked);
      await env.nc.flush();
      await call(s.auth.logout, { caller });
      expect(await call(s.auth.check, caller)).toEqual({ active: false });
      await eventually(() => events.items.some((e) => e.userId === userId && e.deviceId === deviceId));
      events.stop();
    });

    it('lists no devices for a user never seen, and the published device list otherwise', async () => {
      const [userId, deviceId] = [randomId(20), randomId(12)];
      expect(await call(s.keydir.devices, { userId })).toEqual({ devices: [] });
      await running.addDevice(userId, deviceId);
      expect(await call(s.keydir.devices, { userId })).toEqual({ devices: [deviceId] });
    });
  });
}

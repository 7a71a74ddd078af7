import {
  type CheckResult,
  type DeviceInfoList,
  type DeviceRevokedEvent,
  encodeJson,
  type JwksResult,
  type KeysChangedEvent,
  type ServiceReply,
  type Session,
  subjects,
  type UserProfile,
} from '@hush/protocol';
import { svcm } from '@hush/service-kit';
import { collect, eventually, type TestEnv, testEnv } from '@hush/service-kit/testing';
import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AuthConfig, loadConfig } from './config.js';
import { type AuthHandle, redisKeys, startAuth } from './service.js';

let env: TestEnv;
let auth: AuthHandle;
let cfg: AuthConfig;
let s: ReturnType<typeof subjects>;
const log = pino({ level: 'silent' });
const addr = (n: number) => `10.0.0.${n}`;
const pw = 'correct horse battery';

const err = <T>(r: ServiceReply<T>) => (r.ok ? undefined : r.error);
const ok = <T>(r: ServiceReply<T>): T => {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.result;
};
let n = 0;
const uname = (tag = 'u') => `${tag}_${Date.now().toString(36)}_${n++}`;
const register = async (username = uname(), clientAddr = addr(1)) =>
  ok(await env.call<Session>(s.auth.register, { username, password: pw, deviceName: 'laptop', clientAddr }));

async function verifyAccess(token: string) {
  const jwks = ok(await env.call<JwksResult>(s.auth.jwks, {}));
  return jwtVerify(token, createLocalJWKSet({ keys: jwks.keys as JWK[] }), {
    issuer: cfg.jwtIssuer,
    audience: cfg.jwtAudience,
    algorithms: ['EdDSA'],
  });
}

beforeAll(async () => {
  env = await testEnv('auth');
  s = subjects(env.prefix);
  cfg = {
    ...loadConfig({}),
    subjectPrefix: env.prefix,
    redisPrefix: env.redisPrefix,
    argon2MemoryKib: 1024,
    argon2Iterations: 1,
    loginFailuresPerUser: 3,
    loginFailuresPerAddr: 6,
    registrationsPerAddr: 30,
  };
  auth = await startAuth({ nc: env.nc, redis: env.redis, log }, cfg);
});

afterAll(async () => {
  await auth?.stop();
  await env?.cleanup();
});

describe('auth registration', () => {
  it('registers a user, lower-cases the name and returns a session for a new device', async () => {
    const name = uname('Alice');
    const session = await register(name);
    expect(session.username).toBe(name.toLowerCase());
    expect(session.userId).toMatch(/^[a-z0-9]{20}$/);
    expect(session.deviceId).toMatch(/^[a-z0-9]{12}$/);
    expect(session.refreshToken.length).toBeGreaterThanOrEqual(43);
    const profile = ok(
      await env.call<UserProfile>(s.auth.lookup, {
        username: name.toUpperCase(),
        caller: { userId: session.userId, deviceId: session.deviceId },
        clientAddr: addr(1),
      }),
    );
    expect(profile).toEqual({ userId: session.userId, username: name.toLowerCase() });
    expect(ok(await env.call<UserProfile>(s.auth.profile, { userId: session.userId }))).toEqual(profile);
  });

  it('stores the password as an Argon2id hash with the configured cost, never in clear', async () => {
    const session = await register();
    const stored = await env.redis.hget(redisKeys(env.redisPrefix).user(session.userId), 'passwordHash');
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=1024,t=1,p=1\$/);
    expect(stored).not.toContain(pw);
  });

  it.each([
    ['ab', 'too short'],
    ['a'.repeat(33), 'too long'],
    ['has space', 'a space'],
    ['dash-name', 'a dash'],
    ['émile', 'a non-ascii letter'],
    ['', 'empty'],
  ])('refuses the username %j (%s) with AUTH_INVALID_USERNAME', async (username) => {
    const r = await env.call(s.auth.register, { username, password: pw, deviceName: 'x', clientAddr: addr(2) });
    expect(err(r)?.code).toBe('AUTH_INVALID_USERNAME');
  });

  it('refuses a username that is taken, whatever its case', async () => {
    const name = uname('bob');
    await register(name);
    const r = await env.call(s.auth.register, {
      username: name.toUpperCase(),
      password: pw,
      deviceName: 'x',
      clientAddr: addr(3),
    });
    expect(err(r)?.code).toBe('AUTH_USERNAME_TAKEN');
  });

  it('gives exactly one of many racing registrations of the same name', async () => {
    const name = uname('race');
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        env.call<Session>(s.auth.register, { username: name, password: pw, deviceName: 'x', clientAddr: addr(40 + i) }),
      ),
    );
    expect(replies.filter((r) => r.ok)).toHaveLength(1);
    expect(replies.filter((r) => !r.ok).map((r) => err(r)?.code)).toEqual(Array(7).fill('AUTH_USERNAME_TAKEN'));
  });

  it('refuses a password shorter than 8 characters with AUTH_WEAK_PASSWORD', async () => {
    const r = await env.call(s.auth.register, {
      username: uname(),
      password: 'short',
      deviceName: 'x',
      clientAddr: addr(4),
    });
    expect(err(r)?.code).toBe('AUTH_WEAK_PASSWORD');
  });

  it('limits registrations per client address', async () => {
    const a = addr(200);
    const codes: string[] = [];
    for (let i = 0; i <= cfg.registrationsPerAddr; i++) {
      const r = await env.call(s.auth.register, { username: '!', password: pw, deviceName: 'x', clientAddr: a });
      codes.push(err(r)?.code ?? 'ok');
    }
    expect(codes.slice(0, -1).every((c) => c === 'AUTH_INVALID_USERNAME')).toBe(true);
    expect(codes.at(-1)).toBe('AUTH_RATE_LIMITED');
  });
});

describe('auth login and tokens', () => {
  it('issues an EdDSA access token with user, device, issuer, audience, jti and kid claims, valid at most 15 minutes', async () => {
    const session = await register();
    const { payload, protectedHeader } = await verifyAccess(session.accessToken);
    expect(protectedHeader.alg).toBe('EdDSA');
    const jwks = ok(await env.call<JwksResult>(s.auth.jwks, {}));
    expect(jwks.keys.map((k) => k.kid)).toContain(protectedHeader.kid);
    expect(payload.sub).toBe(session.userId);
    expect(payload.dev).toBe(session.deviceId);
    expect(payload.usr).toBe(session.username);
    expect(payload.iss).toBe(cfg.jwtIssuer);
    expect(payload.aud).toBe(cfg.jwtAudience);
    expect(typeof payload.jti).toBe('string');
    expect(payload.exp! - payload.iat!).toBeLessThanOrEqual(15 * 60);
    expect(session.accessExpiresAt).toBe(payload.exp! * 1000);
  });

  it('serves only public keys in the JWKS', async () => {
    const jwks = ok(await env.call<JwksResult>(s.auth.jwks, ''));
    expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
    for (const k of jwks.keys) {
      expect(k).not.toHaveProperty('d');
      expect(k).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', use: 'sig' });
    }
  });

  it('logs a user in on a new named device each time', async () => {
    const first = await register();
    const login = ok(
      await env.call<Session>(s.auth.login, {
        username: first.username,
        password: pw,
        deviceName: 'phone',
        clientAddr: addr(5),
      }),
    );
    expect(login.userId).toBe(first.userId);
    expect(login.deviceId).not.toBe(first.deviceId);
    const device = await env.redis.hgetall(redisKeys(env.redisPrefix).device(login.deviceId));
    expect(device).toMatchObject({ userId: first.userId, name: 'phone' });
    for (const d of [first.deviceId, login.deviceId]) {
      expect(ok(await env.call<CheckResult>(s.auth.check, { userId: first.userId, deviceId: d })).active).toBe(true);
    }
  });

  it('answers a wrong password and an unknown user with the same AUTH_BAD_CREDENTIALS', async () => {
    const u = await register();
    const wrong = await env.call(s.auth.login, {
      username: u.username,
      password: 'wrong password',
      deviceName: 'x',
      clientAddr: addr(6),
    });
    const unknown = await env.call(s.auth.login, {
      username: uname('ghost'),
      password: pw,
      deviceName: 'x',
      clientAddr: addr(6),
    });
    expect(err(wrong)).toEqual(err(unknown));
    expect(err(wrong)?.code).toBe('AUTH_BAD_CREDENTIALS');
  });

  it('rate-limits failed logins per username, even when the right password follows', async () => {
    const u = await register();
    for (let i = 0; i < cfg.loginFailuresPerUser; i++) {
      const r = await env.call(s.auth.login, {
        username: u.username,
        password: 'nope nope',
        deviceName: 'x',
        clientAddr: addr(10 + i),
      });
      expect(err(r)?.code).toBe('AUTH_BAD_CREDENTIALS');
    }
    const r = await env.call(s.auth.login, {
      username: u.username,
      password: pw,
      deviceName: 'x',
      clientAddr: addr(20),
    });
    expect(err(r)?.code).toBe('AUTH_RATE_LIMITED');
    expect(err(r)?.retryAfter).toBeGreaterThan(0);
  });

  it('rate-limits failed logins per client address across usernames', async () => {
    const a = addr(99);
    for (let i = 0; i < cfg.loginFailuresPerAddr; i++) {
      const r = await env.call(s.auth.login, {
        username: uname('nobody'),
        password: pw,
        deviceName: 'x',
        clientAddr: a,
      });
      expect(err(r)?.code).toBe('AUTH_BAD_CREDENTIALS');
    }
    const u = await register();
    const r = await env.call(s.auth.login, { username: u.username, password: pw, deviceName: 'x', clientAddr: a });
    expect(err(r)?.code).toBe('AUTH_RATE_LIMITED');
  });

  it('keeps the previous public key in the JWKS after a key rotation, so earlier tokens still verify', async () => {
    const before = await register();
    const oldKid = decodeProtectedHeader(before.accessToken).kid;
    const newKid = await auth.rotateSigningKey();
    expect(newKid).not.toBe(oldKid);
    const after = await register();
    expect(decodeProtectedHeader(after.accessToken).kid).toBe(newKid);
    const kids = ok(await env.call<JwksResult>(s.auth.jwks, {})).keys.map((k) => k.kid);
    expect(kids).toEqual([newKid, oldKid]);
    await expect(verifyAccess(before.accessToken)).resolves.toBeTruthy();
    await expect(verifyAccess(after.accessToken)).resolves.toBeTruthy();
  });
});

describe('auth refresh tokens and revocation', () => {
  it('rotates the refresh token on every use and keeps the device', async () => {
    const a = await register();
    const b = ok(await env.call<Session>(s.auth.refresh, { refreshToken: a.refreshToken, clientAddr: addr(1) }));
    expect(b.deviceId).toBe(a.deviceId);
    expect(b.refreshToken).not.toBe(a.refreshToken);
    const c = ok(await env.call<Session>(s.auth.refresh, { refreshToken: b.refreshToken, clientAddr: addr(1) }));
    expect(c.userId).toBe(a.userId);
    const stored = await env.redis.keys(`${env.redisPrefix}auth:rt:*`);
    expect(stored.join()).not.toContain(c.refreshToken);
  });

  it('revokes the device when an already-used refresh token comes back, and tells the gateways', async () => {
    const events = collect<DeviceRevokedEvent>(env.nc, s.events.deviceRevoked);
    const a = await register();
    const b = ok(await env.call<Session>(s.auth.refresh, { refreshToken: a.refreshToken, clientAddr: addr(1) }));
    const reuse = await env.call(s.auth.refresh, { refreshToken: a.refreshToken, clientAddr: addr(1) });
    expect(err(reuse)?.code).toBe('AUTH_REFRESH_REUSED');
    await eventually(() => events.items.some((e) => e.deviceId === a.deviceId));
    expect(events.items.find((e) => e.deviceId === a.deviceId)).toEqual({
      userId: a.userId,
      deviceId: a.deviceId,
      reason: 'refresh-reuse',
    });
    // The token the thief (or the victim) rotated to is dead too.
    const next = await env.call(s.auth.refresh, { refreshToken: b.refreshToken, clientAddr: addr(1) });
    expect(err(next)?.code).toBe('AUTH_REFRESH_INVALID');
    expect(ok(await env.call<CheckResult>(s.auth.check, { userId: a.userId, deviceId: a.deviceId })).active).toBe(
      false,
    );
    events.stop();
  });

  it('refuses an unknown refresh token', async () => {
    const r = await env.call(s.auth.refresh, { refreshToken: 'x'.repeat(43), clientAddr: addr(1) });
    expect(err(r)?.code).toBe('AUTH_REFRESH_INVALID');
  });

  it('logs a device out: revoked event, refresh refused, check inactive, other devices untouched', async () => {
    const events = collect<DeviceRevokedEvent>(env.nc, s.events.deviceRevoked);
    const a = await register();
    const other = ok(
      await env.call<Session>(s.auth.login, {
        username: a.username,
        password: pw,
        deviceName: 'tablet',
        clientAddr: addr(7),
      }),
    );
    const caller = { userId: a.userId, deviceId: a.deviceId };
    expect(ok(await env.call(s.auth.logout, { caller }))).toEqual({ deviceId: a.deviceId });
    await eventually(() => events.items.some((e) => e.deviceId === a.deviceId));
    expect(events.items.find((e) => e.deviceId === a.deviceId)?.reason).toBe('logout');
    expect(err(await env.call(s.auth.refresh, { refreshToken: a.refreshToken, clientAddr: addr(1) }))?.code).toBe(
      'AUTH_REFRESH_INVALID',
    );
    expect(ok(await env.call<CheckResult>(s.auth.check, caller)).active).toBe(false);
    expect(ok(await env.call<CheckResult>(s.auth.check, { userId: a.userId, deviceId: other.deviceId })).active).toBe(
      true,
    );
    events.stop();
  });

  it('lets a device sign out another device of its account but not of another account', async () => {
    const a = await register();
    const a2 = ok(
      await env.call<Session>(s.auth.login, {
        username: a.username,
        password: pw,
        deviceName: 'old',
        clientAddr: addr(8),
      }),
    );
    const b = await register();
    const caller = { userId: b.userId, deviceId: b.deviceId };
    expect(err(await env.call(s.auth.logout, { caller, deviceId: a2.deviceId }))?.code).toBe('NOT_FOUND');
    expect(ok(await env.call<CheckResult>(s.auth.check, { userId: a.userId, deviceId: a2.deviceId })).active).toBe(
      true,
    );
    ok(await env.call(s.auth.logout, { caller: { userId: a.userId, deviceId: a.deviceId }, deviceId: a2.deviceId }));
    expect(ok(await env.call<CheckResult>(s.auth.check, { userId: a.userId, deviceId: a2.deviceId })).active).toBe(
      false,
    );
  });

  it('lists the account’s signed-in devices with names and times, never another account’s or a signed-out one', async () => {
    const name = uname();
    const a = await register(name);
    const b = ok(
      await env.call<Session>(s.auth.login, { username: name, password: pw, deviceName: 'phone', clientAddr: addr(2) }),
    );
    const other = await register();
    const caller = { userId: a.userId, deviceId: a.deviceId };
    const list = ok(await env.call<DeviceInfoList>(s.auth.devices, { caller }));
    expect(list.devices.map((d) => [d.deviceId, d.name, d.current])).toEqual([
      [a.deviceId, 'laptop', true],
      [b.deviceId, 'phone', false],
    ]);
    expect(list.devices[0]!.createdAt).toBeGreaterThan(0);
    expect(list.devices[0]!.lastSeen).toBeGreaterThanOrEqual(list.devices[0]!.createdAt);
    ok(await env.call(s.auth.logout, { caller, deviceId: b.deviceId }));
    expect(ok(await env.call<DeviceInfoList>(s.auth.devices, { caller })).devices.map((d) => d.deviceId)).toEqual([
      a.deviceId,
    ]);
    const revoked = { userId: a.userId, deviceId: b.deviceId };
    expect(err(await env.call(s.auth.devices, { caller: revoked }))?.code).toBe('AUTH_DEVICE_REVOKED');
    expect(err(await env.call(s.auth.devices, { caller: { userId: other.userId, deviceId: a.deviceId } }))?.code).toBe(
      'AUTH_DEVICE_REVOKED',
    );
    expect(err(await env.call(s.auth.devices, { caller: { userId: 'bad' } }))?.code).toBe('VALIDATION_FAILED');
  });

  it('says a device of another user is not active', async () => {
    const a = await register();
    const b = await register();
    expect(ok(await env.call<CheckResult>(s.auth.check, { userId: b.userId, deviceId: a.deviceId })).active).toBe(
      false,
    );
  });

  it('signs out the devices that an identity reset removed from the account', async () => {
    const events = collect<DeviceRevokedEvent>(env.nc, s.events.deviceRevoked);
    const a = await register();
    const a2 = ok(
      await env.call<Session>(s.auth.login, {
        username: a.username,
        password: pw,
        deviceName: 'new',
        clientAddr: addr(9),
      }),
    );
    const ev: KeysChangedEvent = {
      userId: a.userId,
      reason: 'identity-reset',
      identityChanged: true,
      removedDevices: [a.deviceId],
      at: Date.now(),
    };
    env.nc.publish(s.events.keysChanged(a.userId), encodeJson(ev));
    await eventually(() => events.items.some((e) => e.deviceId === a.deviceId));
    expect(events.items.find((e) => e.deviceId === a.deviceId)?.reason).toBe('identity-reset');
    expect(ok(await env.call<CheckResult>(s.auth.check, { userId: a.userId, deviceId: a.deviceId })).active).toBe(
      false,
    );
    expect(ok(await env.call<CheckResult>(s.auth.check, { userId: a.userId, deviceId: a2.deviceId })).active).toBe(
      true,
    );
    events.stop();
  });
  it('signs out a device that another device dropped from the signed device list', async () => {
    const events = collect<DeviceRevokedEvent>(env.nc, s.events.deviceRevoked);
    const a = await register();
    const ev: KeysChangedEvent = {
      userId: a.userId,
      reason: 'device-list',
      identityChanged: false,
      removedDevices: [a.deviceId],
      at: Date.now(),
    };
    env.nc.publish(s.events.keysChanged(a.userId), encodeJson(ev));
    await eventually(() => events.items.some((e) => e.deviceId === a.deviceId));
    expect(events.items.find((e) => e.deviceId === a.deviceId)?.reason).toBe('logout');
    events.stop();
  });

  it('ignores a keys.changed event naming a device of another account', async () => {
    const a = await register();
    const b = await register();
    const ev: KeysChangedEvent = {
      userId: a.userId,
      reason: 'identity-reset',
      identityChanged: true,
      removedDevices: [b.deviceId],
      at: Date.now(),
    };
    env.nc.publish(s.events.keysChanged(a.userId), encodeJson(ev));
    await env.nc.flush();
    await new Promise((r) => setTimeout(r, 200));
    expect(ok(await env.call<CheckResult>(s.auth.check, { userId: b.userId, deviceId: b.deviceId })).active).toBe(true);
  });
});

describe('auth as a NATS micro service', () => {
  it('answers $SRV.PING and $SRV.INFO under the name "auth" with its endpoints', async () => {
    const client = svcm(env.nc).client();
    const pings = [];
    for await (const p of await client.ping('auth')) pings.push(p);
    expect(pings.length).toBeGreaterThanOrEqual(1);
    expect(pings.every((p) => p.name === 'auth')).toBe(true);
    const infos = [];
    for await (const i of await client.info('auth')) infos.push(i);
    const ours = infos.find((i) => i.endpoints.some((e) => e.subject === s.auth.register));
    expect(ours?.endpoints.map((e) => e.subject).sort()).toEqual(Object.values(s.auth).sort());
    expect(ours?.endpoints.every((e) => e.queue_group === 'q')).toBe(true);
  });

  it('answers malformed requests with VALIDATION_FAILED and keeps serving', async () => {
    expect(err(await env.call(s.auth.login, 'not json {'))?.code).toBe('VALIDATION_FAILED');
    expect(err(await env.call(s.auth.login, { username: 'x' }))?.code).toBe('VALIDATION_FAILED');
    expect(err(await env.call(s.auth.profile, { userId: 42 }))?.code).toBe('VALIDATION_FAILED');
    expect(err(await env.call(s.auth.check, [1, 2, 3]))?.code).toBe('VALIDATION_FAILED');
    const r = await env.call(s.auth.register, {
      username: uname(),
      password: pw,
      deviceName: 'x',
      clientAddr: addr(1),
      extra: 1,
    });
    expect(err(r)?.message).toMatch(/Invalid request/);
    await register();
  });

  it('answers USER_NOT_FOUND for an unknown username or id', async () => {
    const caller = { userId: 'b'.repeat(20), deviceId: 'c'.repeat(12) };
    const lookup = await env.call(s.auth.lookup, { username: uname('nobody'), caller, clientAddr: addr(1) });
    expect(err(lookup)?.code).toBe('USER_NOT_FOUND');
    expect(err(await env.call(s.auth.profile, { userId: 'a'.repeat(20) }))?.code).toBe('USER_NOT_FOUND');
  });
});

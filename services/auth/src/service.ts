import { randomBytes } from 'node:crypto';
import {
  type CheckResult,
  type DeviceInfo,
  type DeviceInfoList,
  HushError,
  type JwksResult,
  type LogoutResult,
  normaliseUsername,
  randomId,
  SERVICE_NAMES,
  type Session,
  subjects,
  type UserProfile,
} from '@hush/protocol';
import { addJsonEndpoint, FIXED_WINDOW_LUA, safeErr, serviceLog, svcm } from '@hush/service-kit';
import type { NatsConnection } from '@nats-io/transport-node';
import { hash, verify } from '@node-rs/argon2';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { addAdminEndpoints, registrationGate } from './admin.js';
import type { AuthConfig } from './config.js';
import {
  CheckRequestSchema,
  DevicesListRequestSchema,
  EmptyRequestSchema,
  LoginRequestSchema,
  LogoutRequestSchema,
  LookupRequestSchema,
  ProfileRequestSchema,
  RefreshRequestSchema,
  RegisterRequestSchema,
} from './schemas.js';
import { deviceSessions, signOutRemovedDevices } from './sessions.js';
import { SigningKeys } from './signing-keys.js';
import { LOGIN_ATTEMPT_LUA, LOGIN_SUCCESS_LUA, ROTATE_LUA, redisKeys, sha256 } from './store.js';

export { REFRESH_TOKEN_BYTES } from './sessions.js';
export { redisKeys } from './store.js';

export const AUTH_VERSION = '0.1.0';
/** OWASP ASVS 2.1.1 asks for at least 8 characters; the upper bound keeps Argon2 input bounded. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;

export interface AuthDeps {
  nc: NatsConnection;
  redis: Redis;
  log: Logger;
}

export interface AuthHandle {
  stop(): Promise<void>;
  /** Rotates the shared signing key (the old public key stays in the JWKS). */
  rotateSigningKey(): Promise<string>;
}

export async function startAuth(deps: AuthDeps, config: AuthConfig): Promise<AuthHandle> {
  const { nc, redis } = deps;
  const log = serviceLog(deps.log, 'auth');
  const subj = subjects(config.subjectPrefix);
  const keys = redisKeys(config.redisPrefix);
  const argon = {
    memoryCost: config.argon2MemoryKib,
    timeCost: config.argon2Iterations,
    parallelism: config.argon2Parallelism,
    // @node-rs/argon2 defaults to Argon2id (algorithm 2), the variant RFC 9106 §4 recommends.
  };

  const signing = new SigningKeys(redis, keys.signing, config.signingKeySecret);
  await signing.init();
  const reload = setInterval(() => {
    signing.load().catch((err: unknown) => log.warn({ err: safeErr(err) }, 'signing key reload failed'));
  }, config.keyReloadMs);
  reload.unref();

  // Verifying against this when the user does not exist makes a wrong username cost the same
  // time as a wrong password, so response times do not reveal which usernames exist.
  const dummyHash = await hash(randomBytes(16).toString('hex'), argon);

  // --- rate limits (fixed windows) ---
  const bump = async (key: string): Promise<{ n: number; retryAfter: number }> => {
    const [n, ttl] = (await redis.eval(FIXED_WINDOW_LUA, 1, key, String(config.rateWindowMs))) as [number, number];
    return { n, retryAfter: Math.max(1, Math.ceil(ttl / 1000)) };
  };
  const limited = (retryAfter: number) => new HushError('AUTH_RATE_LIMITED', undefined, { retryAfter });

  // --- devices and sessions ---
  const { createDevice, issueSession, isActive, revokeDevice } = deviceSessions({
    nc,
    redis,
    log,
    keys,
    subj,
    signing,
    config,
  });

  const profileOf = async (userId: string): Promise<UserProfile | null> => {
    const username = await redis.hget(keys.user(userId), 'username');
    return username ? { userId, username } : null;
  };

  const gate = registrationGate(redis, config.redisPrefix);

  // --- the micro service ---
  const svc = await svcm(nc).add({
    name: SERVICE_NAMES.auth,
    version: AUTH_VERSION,
    description: 'Accounts, devices, Argon2id passwords, EdDSA access tokens, rotating refresh tokens',
    // The default queue group ("q") makes copies share the requests.
  });

  addJsonEndpoint(svc, log, {
    name: 'register',
    subject: subj.auth.register,
    schema: RegisterRequestSchema,
    handler: async (req): Promise<Session> => {
      const reg = await bump(keys.rate('register:addr', req.clientAddr));
      if (reg.n > config.registrationsPerAddr) throw limited(reg.retryAfter);
      const username = normaliseUsername(req.username);
      if (!username) throw new HushError('AUTH_INVALID_USERNAME');
      if (req.password.length < MIN_PASSWORD_LENGTH) throw new HushError('AUTH_WEAK_PASSWORD');
      if (await redis.exists(keys.username(username))) throw new HushError('AUTH_USERNAME_TAKEN');
      await gate(req.inviteCode);
      const passwordHash = await hash(req.password, argon);
      const userId = randomId(20);
      // SET NX is the one place a name is claimed: two racing registrations cannot both win.
      const claimed = await redis.set(keys.username(username), userId, 'NX');
      if (claimed !== 'OK') throw new HushError('AUTH_USERNAME_TAKEN');
      await redis
        .multi()
        .hset(keys.user(userId), { username, passwordHash, createdAt: Date.now() })
        .sadd(keys.known(userId), sha256(req.clientAddr))
        .pexpire(keys.known(userId), config.refreshTtlMs)
        .exec();
      const deviceId = await createDevice(userId, req.deviceName);
      log.info({ userId, deviceId }, 'registered');
      return issueSession(userId, username, deviceId, randomId(16));
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'login',
    subject: subj.auth.login,
    schema: LoginRequestSchema,
    handler: async (req): Promise<Session> => {
      const username = normaliseUsername(req.username) ?? '';
      const name = username || '-invalid-';
      const addrHash = sha256(req.clientAddr);
      const userId = username ? await redis.get(keys.username(username)) : null;
      const attemptKeys = [
        keys.rate('login:useraddr', `${name}:${addrHash}`),
        keys.rate('login:user', name),
        keys.rate('login:addr', req.clientAddr),
        keys.known(userId ?? '-none-'),
      ];
      const [refused, ttl] = (await redis.eval(
        LOGIN_ATTEMPT_LUA,
        4,
        ...attemptKeys,
        String(config.rateWindowMs),
        String(config.loginFailuresPerUserAddr),
        String(config.loginFailuresPerUser),
        String(config.loginFailuresPerAddr),
        addrHash,
      )) as [number, number];
      if (refused === 1) throw limited(Math.max(1, Math.ceil(ttl / 1000)));
      const stored = userId ? await redis.hget(keys.user(userId), 'passwordHash') : null;
      const ok = await verify(stored ?? dummyHash, req.password, argon).catch(() => false);
      if (!ok || !userId || !stored) throw new HushError('AUTH_BAD_CREDENTIALS');
      await redis.eval(LOGIN_SUCCESS_LUA, 4, ...attemptKeys, addrHash, String(config.refreshTtlMs));
      const deviceId = await createDevice(userId, req.deviceName);
      log.info({ userId, deviceId }, 'logged in');
      return issueSession(userId, username, deviceId, randomId(16));
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'refresh',
    subject: subj.auth.refresh,
    schema: RefreshRequestSchema,
    handler: async (req): Promise<Session> => {
      const h = sha256(req.refreshToken);
      const r = (await redis.eval(ROTATE_LUA, 1, keys.refresh(h))) as string[];
      const [state, userId, deviceId, family] = r;
      if (state === 'reused' && userId && deviceId) {
        log.warn({ userId, deviceId }, 'refresh token reused; revoking the device');
        await revokeDevice(userId, deviceId, 'refresh-reuse');
        throw new HushError('AUTH_REFRESH_REUSED');
      }
      if (state !== 'ok' || !userId || !deviceId || !family) throw new HushError('AUTH_REFRESH_INVALID');
      if (!(await isActive(userId, deviceId))) throw new HushError('AUTH_DEVICE_REVOKED');
      const profile = await profileOf(userId);
      if (!profile) throw new HushError('AUTH_REFRESH_INVALID');
      return issueSession(userId, profile.username, deviceId, family);
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'logout',
    subject: subj.auth.logout,
    schema: LogoutRequestSchema,
    handler: async (req): Promise<LogoutResult> => {
      const deviceId = req.deviceId ?? req.caller.deviceId;
      // A caller may sign out its own device or another device of the same account.
      const owner = await redis.hget(keys.device(deviceId), 'userId');
      if (owner !== req.caller.userId) throw new HushError('NOT_FOUND', 'No such device on this account');
      await revokeDevice(req.caller.userId, deviceId, 'logout');
      return { deviceId };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'check',
    subject: subj.auth.check,
    schema: CheckRequestSchema,
    handler: async (req): Promise<CheckResult> => ({ active: await isActive(req.userId, req.deviceId) }),
  });

  addJsonEndpoint(svc, log, {
    name: 'devices',
    subject: subj.auth.devices,
    schema: DevicesListRequestSchema,
    // "Linked devices": names and times for the account's signed-in devices (the caller's own
    // account only; which of them are linked is the signed device list's business, not auth's).
    handler: async ({ caller }): Promise<DeviceInfoList> => {
      if (!(await isActive(caller.userId, caller.deviceId))) throw new HushError('AUTH_DEVICE_REVOKED');
      const ids = (await redis.smembers(keys.devices(caller.userId))).sort();
      const rows = await Promise.all(
        ids.map((id) => redis.hmget(keys.device(id), 'userId', 'name', 'createdAt', 'lastSeen', 'revokedAt')),
      );
      const devices: DeviceInfo[] = [];
      ids.forEach((deviceId, i) => {
        const [owner, name, createdAt, lastSeen, revokedAt] = rows[i]!;
        if (owner !== caller.userId || revokedAt) return;
        devices.push({
          deviceId,
          name: name ?? '',
          createdAt: Number(createdAt ?? 0),
          lastSeen: Number(lastSeen ?? 0),
          current: deviceId === caller.deviceId,
        });
      });
      return { devices: devices.sort((a, b) => a.createdAt - b.createdAt) };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'jwks',
    subject: subj.auth.jwks,
    schema: EmptyRequestSchema,
    handler: async (): Promise<JwksResult> => signing.publicJwks(),
  });

  addJsonEndpoint(svc, log, {
    name: 'lookup',
    subject: subj.auth.lookup,
    schema: LookupRequestSchema,
    handler: async (req): Promise<UserProfile> => {
      // Without a bound, lookups enumerate the user base whatever the registration limit says:
      // per calling account and per client address, hits and misses alike.
      for (const [kind, id, limit] of [
        ['lookup:user', req.caller.userId, config.lookupsPerUser],
        ['lookup:addr', req.clientAddr, config.lookupsPerAddr],
      ] as const) {
        const r = await bump(keys.rate(kind, id));
        if (r.n > limit) throw limited(r.retryAfter);
      }
      const username = normaliseUsername(req.username);
      const userId = username ? await redis.get(keys.username(username)) : null;
      const profile = userId ? await profileOf(userId) : null;
      if (!profile) throw new HushError('USER_NOT_FOUND');
      return profile;
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'profile',
    subject: subj.auth.profile,
    schema: ProfileRequestSchema,
    handler: async (req): Promise<UserProfile> => {
      const profile = await profileOf(req.userId);
      if (!profile) throw new HushError('USER_NOT_FOUND');
      return profile;
    },
  });

  const keysSub = signOutRemovedDevices({ nc, redis, log, keys, subj, signing, config }, { isActive, revokeDevice });

  log.info({ subjectPrefix: config.subjectPrefix }, 'auth started');
  addAdminEndpoints(svc, { redis, log, subj, prefix: config.redisPrefix, keys, signing, revokeDevice });

  return {
    rotateSigningKey: () => signing.rotate(),
    stop: async () => {
      clearInterval(reload);
      keysSub.unsubscribe();
      await svc.stop();
    },
  };
}

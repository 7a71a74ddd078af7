import { createHash, randomBytes } from 'node:crypto';
import {
  type CheckResult,
  type DeviceInfo,
  type DeviceInfoList,
  type DeviceRevokedEvent,
  decodeJson,
  encodeJson,
  HushError,
  isDeviceId,
  isUserId,
  type JwksResult,
  type KeysChangedEvent,
  type LogoutResult,
  normaliseUsername,
  randomId,
  SERVICE_NAMES,
  type Session,
  subjects,
  type UserProfile,
} from '@hush/protocol';
import { addJsonEndpoint, FIXED_WINDOW_LUA, safeErr, serviceLog, svcm } from '@hush/service-kit';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
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
import { SigningKeys } from './signing-keys.js';

export const AUTH_VERSION = '0.1.0';
/** OWASP ASVS 2.1.1 asks for at least 8 characters; the upper bound keeps Argon2 input bounded. */
export const MIN_PASSWORD_LENGTH = 8;
export const MAX_PASSWORD_LENGTH = 1024;
/** 32 random bytes: refresh tokens cannot be guessed and are stored only as SHA-256 hashes. */
export const REFRESH_TOKEN_BYTES = 32;

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

/**
 * Redis layout (every key carries REDIS_PREFIX):
 *   auth:signing              JSON {current: {kid, privateJwk, publicJwk}, previous: [publicJwk]}
 *   auth:username:<name>      userId (claimed with SET NX, so a name is taken exactly once)
 *   auth:user:<userId>        hash {username, passwordHash, createdAt}
 *   auth:devices:<userId>     set of the account's active deviceIds
 *   auth:device:<deviceId>    hash {userId, name, createdAt, lastSeen, revokedAt?, revokeReason?}
 *   auth:revoked:<deviceId>   "1" while a revoked device could still hold a refresh token
 *   auth:rt:<sha256(token)>   hash {userId, deviceId, family, state: active|used}, PX = refresh TTL
 *   auth:rtdev:<deviceId>     set of the refresh-token hashes of a device (to revoke them all)
 *   auth:rl:<kind>:<id>       fixed-window counters (login failures, registrations, lookups), PX = window
 *   auth:known:<userId>       set of sha256(client address) that signed in to the account, PX = refresh TTL
 */
export function redisKeys(prefix: string) {
  return {
    signing: `${prefix}auth:signing`,
    username: (u: string) => `${prefix}auth:username:${u}`,
    user: (id: string) => `${prefix}auth:user:${id}`,
    devices: (userId: string) => `${prefix}auth:devices:${userId}`,
    device: (id: string) => `${prefix}auth:device:${id}`,
    revoked: (id: string) => `${prefix}auth:revoked:${id}`,
    refresh: (h: string) => `${prefix}auth:rt:${h}`,
    deviceRefresh: (id: string) => `${prefix}auth:rtdev:${id}`,
    rate: (kind: string, id: string) => `${prefix}auth:rl:${kind}:${id}`,
    known: (userId: string) => `${prefix}auth:known:${userId}`,
  };
}

/**
 * Marks a refresh token used, atomically, and says what it was. 'reused' means the token had
 * already been rotated: someone holds a copy (RFC 6819 §5.2.2.3, refresh token rotation).
 */
const ROTATE_LUA = `
local t = redis.call('HMGET', KEYS[1], 'state', 'userId', 'deviceId', 'family')
if not t[1] then return {'missing'} end
if t[1] == 'used' then return {'reused', t[2], t[3], t[4]} end
redis.call('HSET', KEYS[1], 'state', 'used')
return {'ok', t[2], t[3], t[4]}
`;

/**
 * Counts one login attempt BEFORE the password is checked, in one script, so concurrent guesses
 * cannot all pass a read-then-check (every attempt takes a slot first; a success gives its slots
 * back). KEYS: [user+address, user, address, known addresses of the user]; ARGV: [window ms,
 * limit per user+address, limit per user, limit per address, sha256(address)].
 * The per-user ceiling does not apply to an address that signed in to the account before, so a
 * stranger cannot lock a user out of the places they usually sign in from (OWASP Authentication
 * Cheat Sheet, "Account lockout": lockout must not become a denial of service). Returns
 * {0, 0} when allowed, else {1, ms left in the window that refused}.
 */
const LOGIN_ATTEMPT_LUA = `
local known = redis.call('SISMEMBER', KEYS[4], ARGV[5]) == 1
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])}
for i = 1, 3 do
  local n = redis.call('INCR', KEYS[i])
  if n == 1 then redis.call('PEXPIRE', KEYS[i], ARGV[1]) end
end
for i = 1, 3 do
  local n = tonumber(redis.call('GET', KEYS[i]))
  if n > limits[i] and not (i == 2 and known) then
    return {1, redis.call('PTTL', KEYS[i])}
  end
end
return {0, 0}
`;

/** Gives back the slots of a successful login (failures only count against the limits). */
const LOGIN_SUCCESS_LUA = `
redis.call('DEL', KEYS[1])
for i = 2, 3 do
  if tonumber(redis.call('GET', KEYS[i]) or '0') > 0 then redis.call('DECR', KEYS[i]) end
end
redis.call('SADD', KEYS[4], ARGV[1])
redis.call('PEXPIRE', KEYS[4], ARGV[2])
`;

/** Adds a device unless the account already has the maximum; 0 when full (KEYS: devices, device). */
const ADD_DEVICE_LUA = `
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[2], 'userId', ARGV[2], 'name', ARGV[3], 'createdAt', ARGV[4], 'lastSeen', ARGV[4])
redis.call('SADD', KEYS[1], ARGV[5])
return 1
`;

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

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
  // Every sign-in is a new device with its own one-time prekeys and claim allowance, so the
  // number of active devices per account is capped (atomically: concurrent logins cannot overshoot).
  const createDevice = async (userId: string, name: string): Promise<string> => {
    const deviceId = randomId(12);
    const added = (await redis.eval(
      ADD_DEVICE_LUA,
      2,
      keys.devices(userId),
      keys.device(deviceId),
      String(config.maxDevicesPerAccount),
      userId,
      name,
      String(Date.now()),
      deviceId,
    )) as number;
    if (added !== 1) throw new HushError('AUTH_TOO_MANY_DEVICES');
    return deviceId;
  };

  const issueSession = async (userId: string, username: string, deviceId: string, family: string): Promise<Session> => {
    const now = Date.now();
    const accessExp = Math.floor((now + config.accessTtlMs) / 1000);
    const accessToken = await signing.signAccessToken({
      userId,
      deviceId,
      username,
      jti: randomId(20),
      issuer: config.jwtIssuer,
      audience: config.jwtAudience,
      expiresAt: accessExp,
    });
    const refreshToken = randomBytes(REFRESH_TOKEN_BYTES).toString('base64url');
    const h = sha256(refreshToken);
    const refreshExpiresAt = now + config.refreshTtlMs;
    await redis
      .multi()
      .hset(keys.refresh(h), { userId, deviceId, family, state: 'active' })
      .pexpire(keys.refresh(h), config.refreshTtlMs)
      .sadd(keys.deviceRefresh(deviceId), h)
      .pexpire(keys.deviceRefresh(deviceId), config.refreshTtlMs)
      .hset(keys.device(deviceId), 'lastSeen', now)
      .exec();
    return {
      userId,
      username,
      deviceId,
      accessToken,
      accessExpiresAt: accessExp * 1000,
      refreshToken,
      refreshExpiresAt,
    };
  };

  const isActive = async (userId: string, deviceId: string): Promise<boolean> => {
    const [owner, revokedAt] = await redis.hmget(keys.device(deviceId), 'userId', 'revokedAt');
    if (owner !== userId || revokedAt) return false;
    return (await redis.exists(keys.revoked(deviceId))) === 0;
  };

  /** Signs a device out everywhere: its refresh tokens go, it is marked revoked, gateways are told. */
  const revokeDevice = async (userId: string, deviceId: string, reason: DeviceRevokedEvent['reason']) => {
    const hashes = await redis.smembers(keys.deviceRefresh(deviceId));
    const m = redis.multi();
    for (const h of hashes) m.del(keys.refresh(h));
    m.del(keys.deviceRefresh(deviceId));
    m.hset(keys.device(deviceId), { revokedAt: Date.now(), revokeReason: reason });
    m.srem(keys.devices(userId), deviceId);
    // Outlives every refresh token the device could still hold; access tokens die within 15 min.
    m.set(keys.revoked(deviceId), '1', 'PX', config.refreshTtlMs);
    await m.exec();
    const ev: DeviceRevokedEvent = { userId, deviceId, reason };
    nc.publish(subj.events.deviceRevoked, encodeJson(ev));
    log.info({ userId, deviceId, reason }, 'device revoked');
  };

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

  // Devices that left an account (identity reset, or removed from the signed device list) are
  // signed out: keydir announces them in keys.changed. One copy handles each event (queue group).
  const keysSub: Subscription = nc.subscribe(subj.events.keysChangedAll, {
    queue: SERVICE_NAMES.auth,
    callback: (err, msg) => {
      if (err) return;
      void (async () => {
        let ev: KeysChangedEvent;
        try {
          ev = decodeJson<KeysChangedEvent>(msg.data);
        } catch {
          log.warn('malformed keys.changed event ignored');
          return;
        }
        if (!isUserId(ev.userId) || !Array.isArray(ev.removedDevices)) return;
        for (const deviceId of ev.removedDevices) {
          if (!isDeviceId(deviceId)) continue;
          const owner = await redis.hget(keys.device(deviceId), 'userId');
          if (owner !== ev.userId || !(await isActive(ev.userId, deviceId))) continue;
          // A device dropped from the signed list by another device of the account is a remote
          // sign-out ('logout'); a new identity is 'identity-reset'.
          await revokeDevice(ev.userId, deviceId, ev.reason === 'identity-reset' ? 'identity-reset' : 'logout');
        }
      })().catch((err: unknown) => log.error({ err: safeErr(err) }, 'keys.changed handling failed'));
    },
  });

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

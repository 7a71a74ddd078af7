import { createHash, randomBytes } from 'node:crypto';
import {
  type CheckResult,
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
import { addJsonEndpoint, FIXED_WINDOW_LUA, safeErr, svcm } from '@hush/service-kit';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { hash, verify } from '@node-rs/argon2';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuthConfig } from './config.js';
import {
  CheckRequestSchema,
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
 *   auth:rl:<kind>:<id>       fixed-window failure counters, PX = window
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

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

export async function startAuth(deps: AuthDeps, config: AuthConfig): Promise<AuthHandle> {
  const { nc, redis } = deps;
  const log = deps.log.child({ svc: 'auth' });
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
  const windowCount = async (key: string): Promise<{ n: number; retryAfter: number }> => {
    const raw = await redis.get(key);
    const n = raw ? Number(raw) : 0;
    const ttl = n > 0 ? await redis.pttl(key) : 0;
    return { n, retryAfter: Math.max(1, Math.ceil(ttl / 1000)) };
  };
  const bump = async (key: string): Promise<{ n: number; retryAfter: number }> => {
    const [n, ttl] = (await redis.eval(FIXED_WINDOW_LUA, 1, key, String(config.rateWindowMs))) as [number, number];
    return { n, retryAfter: Math.max(1, Math.ceil(ttl / 1000)) };
  };
  const limited = (retryAfter: number) => new HushError('AUTH_RATE_LIMITED', undefined, { retryAfter });

  // --- devices and sessions ---
  const createDevice = async (userId: string, name: string): Promise<string> => {
    const deviceId = randomId(12);
    const now = Date.now();
    await redis
      .multi()
      .hset(keys.device(deviceId), { userId, name, createdAt: now, lastSeen: now })
      .sadd(keys.devices(userId), deviceId)
      .exec();
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
      const passwordHash = await hash(req.password, argon);
      const userId = randomId(20);
      // SET NX is the one place a name is claimed: two racing registrations cannot both win.
      const claimed = await redis.set(keys.username(username), userId, 'NX');
      if (claimed !== 'OK') throw new HushError('AUTH_USERNAME_TAKEN');
      await redis.hset(keys.user(userId), { username, passwordHash, createdAt: Date.now() });
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
      const userKey = keys.rate('login:user', username || '-invalid-');
      const addrKey = keys.rate('login:addr', req.clientAddr);
      const [u, a] = await Promise.all([windowCount(userKey), windowCount(addrKey)]);
      if (u.n >= config.loginFailuresPerUser) throw limited(u.retryAfter);
      if (a.n >= config.loginFailuresPerAddr) throw limited(a.retryAfter);
      const userId = username ? await redis.get(keys.username(username)) : null;
      const stored = userId ? await redis.hget(keys.user(userId), 'passwordHash') : null;
      const ok = await verify(stored ?? dummyHash, req.password, argon).catch(() => false);
      if (!ok || !userId || !stored) {
        await Promise.all([bump(userKey), bump(addrKey)]);
        throw new HushError('AUTH_BAD_CREDENTIALS');
      }
      await redis.del(userKey);
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
  return {
    rotateSigningKey: () => signing.rotate(),
    stop: async () => {
      clearInterval(reload);
      keysSub.unsubscribe();
      await svc.stop();
    },
  };
}

import { randomBytes } from 'node:crypto';
import {
  type DeviceRevokedEvent,
  decodeJson,
  encodeJson,
  HushError,
  isDeviceId,
  isUserId,
  type KeysChangedEvent,
  randomId,
  SERVICE_NAMES,
  type Session,
  type Subjects,
} from '@hush/protocol';
import { safeErr } from '@hush/service-kit';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { AuthConfig } from './config.js';
import type { SigningKeys } from './signing-keys.js';
import { ADD_DEVICE_LUA, type redisKeys, sha256 } from './store.js';

/** 32 random bytes: refresh tokens cannot be guessed and are stored only as SHA-256 hashes. */
export const REFRESH_TOKEN_BYTES = 32;

export interface SessionDeps {
  nc: NatsConnection;
  redis: Redis;
  log: Logger;
  keys: ReturnType<typeof redisKeys>;
  subj: Subjects;
  signing: SigningKeys;
  config: AuthConfig;
}

/** A device's life in auth: created (capped per account), given sessions, checked, revoked. */
export function deviceSessions(d: SessionDeps) {
  const { nc, redis, log, keys, subj, signing, config } = d;
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

  return { createDevice, issueSession, isActive, revokeDevice };
}

/**
 * Devices that left an account (identity reset, or removed from the signed device list) are
 * signed out: keydir announces them in keys.changed. One copy handles each event (queue group).
 */
export function signOutRemovedDevices(
  d: SessionDeps,
  { isActive, revokeDevice }: Pick<ReturnType<typeof deviceSessions>, 'isActive' | 'revokeDevice'>,
): Subscription {
  const { redis, log, keys, subj } = d;
  return d.nc.subscribe(subj.events.keysChangedAll, {
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
}

import { createHash, randomBytes } from 'node:crypto';
import { type DeviceRevokedEvent, HushError, type Subjects } from '@hush/protocol';
import { addJsonEndpoint } from '@hush/service-kit';
import type { Service } from '@nats-io/services';
import { Type as T } from '@sinclair/typebox';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { redisKeys } from './service.js';
import type { SigningKeys } from './signing-keys.js';

/**
 * Operator commands (the admin CLI, `npm run admin`). They arrive on `admin.auth.*`, which only
 * the NATS `admin` role may publish to (libs/service-kit nats-auth.ts), so they carry no caller.
 *
 * Registration policy, as Synapse/Mattermost operators know it: `open` (anyone), `invite` (a
 * one-time or n-use invite code is needed), `closed` (nobody). Invite codes are kept hashed.
 */
export const REGISTRATION_MODES = ['open', 'invite', 'closed'] as const;
export type RegistrationMode = (typeof REGISTRATION_MODES)[number];

const adminKeys = (prefix: string) => ({
  mode: `${prefix}auth:registration`,
  invite: (hash: string) => `${prefix}auth:invite:${hash}`,
});
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/** Takes one use of an invite code atomically; 1 when it was valid. */
const USE_INVITE_LUA = `
local left = tonumber(redis.call('HGET', KEYS[1], 'uses') or '0')
if left <= 0 then return 0 end
if left == 1 then redis.call('DEL', KEYS[1]) else redis.call('HINCRBY', KEYS[1], 'uses', -1) end
return 1
`;

export interface AdminDeps {
  redis: Redis;
  log: Logger;
  subj: Subjects;
  prefix: string;
  keys: ReturnType<typeof redisKeys>;
  signing: SigningKeys;
  revokeDevice: (userId: string, deviceId: string, reason: DeviceRevokedEvent['reason']) => Promise<void>;
}

/** Registration gate for auth.register: throws unless the policy lets this registration in. */
export function registrationGate(redis: Redis, prefix: string) {
  const k = adminKeys(prefix);
  return async (inviteCode: string | undefined): Promise<void> => {
    const mode = ((await redis.get(k.mode)) ?? 'open') as RegistrationMode;
    if (mode === 'open') return;
    if (mode === 'closed') throw new HushError('AUTH_REGISTRATION_CLOSED');
    if (!inviteCode) throw new HushError('AUTH_INVITE_INVALID', 'Registration needs an invite code');
    const ok = await redis.eval(USE_INVITE_LUA, 1, k.invite(sha256(inviteCode)));
    if (ok !== 1) throw new HushError('AUTH_INVITE_INVALID');
  };
}

const UserIdBody = T.Object({ userId: T.String({ minLength: 1, maxLength: 64 }) }, { additionalProperties: false });

export function addAdminEndpoints(svc: Service, d: AdminDeps): void {
  const { redis, keys, log } = d;
  const k = adminKeys(d.prefix);
  const p = d.subj.prefix;

  addJsonEndpoint(svc, log, {
    name: 'admin-registration',
    subject: `${p}admin.auth.registration`,
    schema: T.Object({ mode: T.Optional(T.Union(REGISTRATION_MODES.map((m) => T.Literal(m)))) }),
    handler: async (req) => {
      if (req.mode) {
        await redis.set(k.mode, req.mode);
        log.warn({ mode: req.mode }, 'registration policy changed by an operator');
      }
      return { mode: ((await redis.get(k.mode)) ?? 'open') as RegistrationMode };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'admin-invite',
    subject: `${p}admin.auth.invite`,
    schema: T.Object({
      uses: T.Integer({ minimum: 1, maximum: 10_000, default: 1 }),
      ttlMs: T.Integer({ minimum: 60_000, maximum: 365 * 24 * 3600_000 }),
    }),
    handler: async (req) => {
      // 128 bits, base32-ish and readable aloud; only its hash is stored.
      const code = randomBytes(16).toString('base64url');
      await redis
        .multi()
        .hset(k.invite(sha256(code)), { uses: req.uses ?? 1, createdAt: Date.now() })
        .pexpire(k.invite(sha256(code)), req.ttlMs)
        .exec();
      return { code, uses: req.uses ?? 1, expiresAt: Date.now() + req.ttlMs };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'admin-users',
    subject: `${p}admin.auth.users`,
    schema: T.Object({}),
    handler: async () => {
      const users: Array<{
        userId: string;
        username: string;
        createdAt: number;
        devices: Array<{ deviceId: string; name: string; createdAt: number; lastSeen: number }>;
      }> = [];
      const pattern = keys.user('*');
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        cursor = next;
        for (const key of found) {
          const userId = key.slice(pattern.length - 1);
          const u = await redis.hgetall(key);
          const ids = await redis.smembers(keys.devices(userId));
          const devices = [];
          for (const deviceId of ids) {
            const dv = await redis.hgetall(keys.device(deviceId));
            devices.push({
              deviceId,
              name: dv.name ?? '',
              createdAt: Number(dv.createdAt ?? 0),
              lastSeen: Number(dv.lastSeen ?? 0),
            });
          }
          users.push({ userId, username: u.username ?? '', createdAt: Number(u.createdAt ?? 0), devices });
        }
      } while (cursor !== '0');
      users.sort((a, b) => a.username.localeCompare(b.username));
      return { users };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'admin-signout',
    subject: `${p}admin.auth.signout`,
    schema: T.Object({ userId: T.String({ minLength: 1 }), deviceId: T.String({ minLength: 1 }) }),
    handler: async (req) => {
      const owner = await redis.hget(keys.device(req.deviceId), 'userId');
      if (owner !== req.userId) throw new HushError('NOT_FOUND', 'No such device on that account');
      await d.revokeDevice(req.userId, req.deviceId, 'logout');
      log.warn({ userId: req.userId, deviceId: req.deviceId }, 'device signed out by an operator');
      return { deviceId: req.deviceId };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'admin-delete',
    subject: `${p}admin.auth.delete`,
    schema: UserIdBody,
    handler: async (req) => {
      const username = await redis.hget(keys.user(req.userId), 'username');
      if (!username) throw new HushError('NOT_FOUND', 'No such account');
      const deviceIds = await redis.smembers(keys.devices(req.userId));
      // Every device is signed out first (tokens refused, sockets closed by the gateways).
      for (const deviceId of deviceIds) await d.revokeDevice(req.userId, deviceId, 'logout');
      await redis.del(
        keys.user(req.userId),
        keys.devices(req.userId),
        keys.known(req.userId),
        keys.username(username),
        ...deviceIds.map((id) => keys.device(id)),
      );
      log.warn({ userId: req.userId, devices: deviceIds.length }, 'account deleted by an operator');
      return { userId: req.userId, deviceIds };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'admin-rotate',
    subject: `${p}admin.auth.rotate`,
    schema: T.Object({}),
    handler: async () => {
      const kid = await d.signing.rotate();
      log.warn({ kid }, 'signing key rotated by an operator');
      return d.signing.status();
    },
  });
}

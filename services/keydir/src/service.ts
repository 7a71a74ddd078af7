import {
  type DeviceBundle,
  type DevicesResult,
  encodeJson,
  HushError,
  type KeysChangedEvent,
  type OneTimePrekey,
  type PrekeyCount,
  SERVICE_NAMES,
  subjects,
  type UserBundle,
} from '@hush/protocol';
import { addJsonEndpoint, FIXED_WINDOW_LUA, serviceLog, svcm } from '@hush/service-kit';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { addKeydirAdmin } from './admin.js';
import type { KeydirConfig } from './config.js';
import { addKeyPackageEndpoints, keyPackageKeys } from './key-packages.js';
import { MailboxCleaner } from './mailboxes.js';
import {
  BundleRequestSchema,
  CountRequestSchema,
  DeviceListRequestSchema,
  DevicesRequestSchema,
  keysInvalidCode,
  PublishKeysRequestSchema,
  UploadPrekeysRequestSchema,
} from './schemas.js';
import { accountStore, CLAIM_LUA, type DeviceRecord, redisKeys, sameList } from './store.js';
import { checkDeviceList, checkOneTimePrekeys, checkPublishKeys, checkSignedPrekey } from './validate.js';

export const KEYDIR_VERSION = '0.1.0';
export { LOCK_TTL_MS, LOCK_WAIT_MS, redisKeys } from './store.js';
export interface KeydirDeps {
  nc: NatsConnection;
  redis: Redis;
  log: Logger;
}
export interface KeydirHandle {
  stop(): Promise<void>;
}

export async function startKeydir(deps: KeydirDeps, config: KeydirConfig): Promise<KeydirHandle> {
  const { nc, redis } = deps;
  const log = serviceLog(deps.log, 'keydir');
  const subj = subjects(config.subjectPrefix);
  const keys = redisKeys(config.redisPrefix);
  const kpKeys = keyPackageKeys(config.redisPrefix);
  const mailboxes = new MailboxCleaner(nc, subj, config.streamName, log);

  const { withLock, readList, appendPrekeys } = accountStore(redis, keys);

  const announce = (userId: string, ev: Omit<KeysChangedEvent, 'userId' | 'at'>) => {
    const full: KeysChangedEvent = { userId, ...ev, at: Date.now() };
    nc.publish(subj.events.keysChanged(userId), encodeJson(full));
    log.info({ userId, reason: ev.reason, removed: ev.removedDevices.length }, 'keys changed');
  };

  const svc = await svcm(nc).add({
    name: SERVICE_NAMES.keydir,
    version: KEYDIR_VERSION,
    description: 'Public key directory: identity keys, signed device lists, prekeys',
  });

  addKeydirAdmin(svc, { redis, log, subj, keys, mailboxes });

  addJsonEndpoint(svc, log, {
    name: 'publish',
    subject: subj.keydir.publish,
    schema: PublishKeysRequestSchema,
    invalidCode: keysInvalidCode,
    handler: async ({ caller, keys: k }): Promise<PrekeyCount> => {
      checkPublishKeys(k);
      if (!k.deviceList.devices.includes(caller.deviceId)) {
        throw new HushError('KEYS_FORBIDDEN', 'The device list must contain the publishing device');
      }
      const { userId, deviceId } = caller;
      const outcome = await withLock(userId, async () => {
        const [storedIdentity, storedList, published] = await Promise.all([
          redis.get(keys.identity(userId)),
          readList(userId),
          redis.smembers(keys.devices(userId)),
        ]);
        // Identity reset (as re-registering in Signal): a device without the account's identity
        // key starts a new identity; every other device leaves the account.
        const reset = storedIdentity !== null && storedIdentity !== k.identityKey;
        // A new browser signs in as a pending device and is linked from an existing one; only an
        // explicit, warned "Reset identity" may replace the account's identity.
        if (reset && k.resetIdentity !== true) throw new HushError('KEYS_IDENTITY_MISMATCH');
        let removed: string[] = [];
        let listChanged = storedList === null;
        if (reset) {
          const known = new Set([...published, ...(storedList?.devices ?? [])]);
          known.delete(deviceId);
          removed = [...known];
          listChanged = true;
        } else if (storedList && !sameList(storedList, k.deviceList)) {
          if (k.deviceList.version <= storedList.version) {
            throw new HushError(
              'KEYS_STALE_DEVICE_LIST',
              `Device list version ${k.deviceList.version} must be greater than ${storedList.version}`,
            );
          }
          removed = storedList.devices.filter((d) => !k.deviceList.devices.includes(d));
          listChanged = true;
        }
        const record: DeviceRecord = { deviceKey: k.deviceKey, signedPrekey: k.signedPrekey, publishedAt: Date.now() };
        const m = redis
          .multi()
          .set(keys.identity(userId), k.identityKey)
          .set(keys.deviceList(userId), JSON.stringify(k.deviceList))
          .set(keys.device(userId, deviceId), JSON.stringify(record))
          .sadd(keys.devices(userId), deviceId);
        // Prekeys signed by an old identity are useless after a reset.
        if (reset)
          m.del(keys.prekeys(userId, deviceId), kpKeys.list(userId, deviceId), kpKeys.lastResort(userId, deviceId));
        for (const d of removed)
          m.del(
            keys.device(userId, d),
            keys.prekeys(userId, d),
            kpKeys.list(userId, d),
            kpKeys.lastResort(userId, d),
          ).srem(keys.devices(userId), d);
        await m.exec();
        const remaining = await appendPrekeys(userId, deviceId, k.oneTimePrekeys);
        return { reset, removed, listChanged, first: storedIdentity === null, remaining };
      });
      await mailboxes.purge(userId, outcome.removed);
      announce(userId, {
        reason: outcome.reset ? 'identity-reset' : outcome.listChanged && !outcome.first ? 'device-list' : 'published',
        identityChanged: outcome.reset,
        removedDevices: outcome.removed,
      });
      return { remaining: outcome.remaining };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'prekeys',
    subject: subj.keydir.prekeys,
    schema: UploadPrekeysRequestSchema,
    invalidCode: keysInvalidCode,
    handler: async ({ caller, body }): Promise<PrekeyCount> => {
      checkOneTimePrekeys('oneTimePrekeys', body.oneTimePrekeys);
      if (body.signedPrekey) checkSignedPrekey('signedPrekey', body.signedPrekey);
      const { userId, deviceId } = caller;
      return withLock(userId, async () => {
        const raw = await redis.get(keys.device(userId, deviceId));
        if (!raw) throw new HushError('KEYS_NOT_FOUND', 'Publish this device’s keys before uploading prekeys');
        if (body.signedPrekey) {
          const record = JSON.parse(raw) as DeviceRecord;
          record.signedPrekey = body.signedPrekey;
          await redis.set(keys.device(userId, deviceId), JSON.stringify(record));
        }
        return { remaining: await appendPrekeys(userId, deviceId, body.oneTimePrekeys) };
      });
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'count',
    subject: subj.keydir.count,
    schema: CountRequestSchema,
    handler: async ({ caller }): Promise<PrekeyCount> => ({
      remaining: await redis.llen(keys.prekeys(caller.userId, caller.deviceId)),
    }),
  });

  addJsonEndpoint(svc, log, {
    name: 'bundle',
    subject: subj.keydir.bundle,
    schema: BundleRequestSchema,
    handler: async ({ caller, userId }): Promise<UserBundle> => {
      // Every fetch burns one-time prekeys, so nobody may drain someone's supply. Limits are per
      // calling account (not device: a login mints a device) and per (account, target); a target
      // whose claim budget is spent still gets sessions, without one-time prekeys (X3DH §3.3).
      const window = async (key: string, ms: number) =>
        (await redis.eval(FIXED_WINDOW_LUA, 1, key, String(ms))) as [number, number];
      for (const [key, limit] of [
        [keys.bundleRate(caller.userId), config.bundleFetchesPerWindow],
        [keys.pairRate(caller.userId, userId), config.bundleFetchesPerTarget],
      ] as const) {
        const [n, ttl] = await window(key, config.bundleWindowMs);
        if (n > limit) {
          throw new HushError('KEYS_RATE_LIMITED', undefined, { retryAfter: Math.max(1, Math.ceil(ttl / 1000)) });
        }
      }
      const [identityKey, list] = await Promise.all([redis.get(keys.identity(userId)), readList(userId)]);
      if (!identityKey || !list) throw new HushError('KEYS_NOT_FOUND');
      // The caller's own device needs no session with itself: do not burn its prekeys.
      const targets = list.devices.filter((d) => !(userId === caller.userId && d === caller.deviceId));
      const devices: DeviceBundle[] = [];
      if (targets.length > 0) {
        // The caller's own account is not counted against itself (its devices sync with each other).
        const [claims] = userId === caller.userId ? [0] : await window(keys.claimRate(userId), config.claimWindowMs);
        const claimed = (await redis.eval(
          CLAIM_LUA,
          targets.length * 2,
          ...targets.map((d) => keys.device(userId, d)),
          ...targets.map((d) => keys.prekeys(userId, d)),
          claims <= config.prekeyClaimsPerTarget ? '1' : '0',
        )) as string[];
        targets.forEach((deviceId, i) => {
          const dev = claimed[2 * i];
          const otk = claimed[2 * i + 1];
          if (!dev) return;
          const record = JSON.parse(dev) as DeviceRecord;
          devices.push({
            deviceId,
            deviceKey: record.deviceKey,
            signedPrekey: record.signedPrekey,
            oneTimePrekey: otk ? (JSON.parse(otk) as OneTimePrekey) : null,
          });
        });
      }
      return { userId, identityKey, deviceList: list, devices };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'devicelist',
    subject: subj.keydir.deviceList,
    schema: DeviceListRequestSchema,
    invalidCode: keysInvalidCode,
    handler: async ({ caller, deviceList }): Promise<DevicesResult> => {
      checkDeviceList('deviceList', deviceList);
      if (!deviceList.devices.includes(caller.deviceId)) {
        throw new HushError('KEYS_FORBIDDEN', 'The device list must contain the device that signs it');
      }
      const { userId } = caller;
      const removed = await withLock(userId, async () => {
        const stored = await readList(userId);
        if (!stored || !(await redis.exists(keys.device(userId, caller.deviceId)))) {
          throw new HushError('KEYS_NOT_FOUND', 'Publish this device’s keys first');
        }
        if (deviceList.version <= stored.version) {
          throw new HushError(
            'KEYS_STALE_DEVICE_LIST',
            `Device list version ${deviceList.version} must be greater than ${stored.version}`,
          );
        }
        const gone = stored.devices.filter((d) => !deviceList.devices.includes(d));
        const m = redis.multi().set(keys.deviceList(userId), JSON.stringify(deviceList));
        for (const d of gone)
          m.del(
            keys.device(userId, d),
            keys.prekeys(userId, d),
            kpKeys.list(userId, d),
            kpKeys.lastResort(userId, d),
          ).srem(keys.devices(userId), d);
        await m.exec();
        return gone;
      });
      await mailboxes.purge(userId, removed);
      announce(userId, { reason: 'device-list', identityChanged: false, removedDevices: removed });
      return { devices: deviceList.devices };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'devices',
    subject: subj.keydir.devices,
    schema: DevicesRequestSchema,
    // One GET: the gateway asks this for every send to check recipients.
    handler: async ({ userId }): Promise<DevicesResult> => ({ devices: (await readList(userId))?.devices ?? [] }),
  });

  addKeyPackageEndpoints({
    svc,
    redis,
    log,
    subj,
    config,
    readList,
    hasDevice: async (u, dev) => (await redis.exists(keys.device(u, dev))) === 1,
  });

  log.info({ subjectPrefix: config.subjectPrefix, stream: config.streamName }, 'keydir started');
  return {
    stop: async () => {
      await svc.stop();
    },
  };
}

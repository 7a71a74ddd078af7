import { randomUUID } from 'node:crypto';
import {
  HushError,
  MAX_PREKEYS_STORED,
  type OneTimePrekey,
  type SignedDeviceKey,
  type SignedDeviceList,
  type SignedPrekey,
} from '@hush/protocol';
import type { Redis } from 'ioredis';

/** A per-account write lock; writes are short, so a holder that died frees it after this. */
export const LOCK_TTL_MS = 5_000;
/** How long a writer waits for the account lock before answering INTERNAL (retryable). */
export const LOCK_WAIT_MS = 4_000;

/** What keydir stores per device besides its one-time prekeys. */
export interface DeviceRecord {
  deviceKey: SignedDeviceKey;
  signedPrekey: SignedPrekey;
  publishedAt: number;
}

/**
 * Redis layout (every key carries REDIS_PREFIX):
 *   kd:id:<userId>             the account's Ed25519 identity key (base64)
 *   kd:dl:<userId>             the account's signed device list (JSON SignedDeviceList)
 *   kd:devs:<userId>           set of deviceIds that have published keys
 *   kd:dev:<userId>:<deviceId> JSON {deviceKey, signedPrekey, publishedAt}
 *   kd:otk:<userId>:<deviceId> list of JSON one-time prekeys, oldest first; LPOP claims one
 *   kd:lock:<userId>           write lock (SET NX PX) serialising publishes of one account
 *   kd:rl:bundle:<userId>      fixed-window counter of bundle fetches by a calling account
 *   kd:rl:pair:<userId>:<target>  fixed-window counter of one account's fetches of one target
 *   kd:rl:claims:<target>      fixed-window counter of one-time prekey claims on a target account
 */
export function redisKeys(prefix: string) {
  return {
    identity: (u: string) => `${prefix}kd:id:${u}`,
    deviceList: (u: string) => `${prefix}kd:dl:${u}`,
    devices: (u: string) => `${prefix}kd:devs:${u}`,
    device: (u: string, d: string) => `${prefix}kd:dev:${u}:${d}`,
    prekeys: (u: string, d: string) => `${prefix}kd:otk:${u}:${d}`,
    lock: (u: string) => `${prefix}kd:lock:${u}`,
    bundleRate: (u: string) => `${prefix}kd:rl:bundle:${u}`,
    pairRate: (u: string, target: string) => `${prefix}kd:rl:pair:${u}:${target}`,
    claimRate: (target: string) => `${prefix}kd:rl:claims:${target}`,
  };
}

/**
 * Claims at most one one-time prekey per device, in one atomic script: Redis runs scripts one at
 * a time, so two concurrent claims can never pop the same element (X3DH §3.2: "the server deletes
 * the one-time prekey it sent"). KEYS = n device keys then n prekey lists. Devices without a
 * record are skipped without claiming. ARGV[1] = '0' returns the bundles without claiming (the
 * target's claim budget is spent: X3DH §3.3 runs without a one-time prekey).
 */
export const CLAIM_LUA = `
local claim = ARGV[1] == '1'
local n = #KEYS / 2
local out = {}
for i = 1, n do
  local dev = redis.call('GET', KEYS[i])
  if dev then
    out[#out + 1] = dev
    out[#out + 1] = claim and redis.call('LPOP', KEYS[n + i]) or ''
  else
    out[#out + 1] = ''
    out[#out + 1] = ''
  end
end
return out
`;

/** Appends prekeys only if the stored total stays within the cap. ARGV[1] = cap, rest = keys. */
export const APPEND_CAPPED_LUA = `
local cap = tonumber(ARGV[1])
local len = redis.call('LLEN', KEYS[1])
if len + #ARGV - 1 > cap then return -1 - len end
for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
return len + #ARGV - 1
`;

const RELEASE_LUA = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;

export const sameList = (a: SignedDeviceList, b: SignedDeviceList) =>
  a.version === b.version && a.signature === b.signature && a.devices.join() === b.devices.join();

/** The per-account helpers every write path uses: the account lock, the device list, prekey appends. */
export function accountStore(redis: Redis, keys: ReturnType<typeof redisKeys>) {
  const withLock = async <T>(userId: string, fn: () => Promise<T>): Promise<T> => {
    const token = randomUUID();
    const deadline = Date.now() + LOCK_WAIT_MS;
    while ((await redis.set(keys.lock(userId), token, 'PX', LOCK_TTL_MS, 'NX')) !== 'OK') {
      if (Date.now() > deadline) throw new HushError('INTERNAL', 'The account is busy; retry');
      await new Promise((r) => setTimeout(r, 10 + Math.random() * 20));
    }
    try {
      return await fn();
    } finally {
      await redis.eval(RELEASE_LUA, 1, keys.lock(userId), token);
    }
  };

  const readList = async (userId: string): Promise<SignedDeviceList | null> => {
    const raw = await redis.get(keys.deviceList(userId));
    return raw ? (JSON.parse(raw) as SignedDeviceList) : null;
  };

  const appendPrekeys = async (userId: string, deviceId: string, list: OneTimePrekey[]): Promise<number> => {
    if (list.length === 0) return redis.llen(keys.prekeys(userId, deviceId));
    const res = (await redis.eval(
      APPEND_CAPPED_LUA,
      1,
      keys.prekeys(userId, deviceId),
      String(MAX_PREKEYS_STORED),
      ...list.map((k) => JSON.stringify(k)),
    )) as number;
    if (res < 0) {
      const stored = -1 - res;
      throw new HushError(
        'KEYS_TOO_MANY_PREKEYS',
        `At most ${MAX_PREKEYS_STORED} one-time prekeys are stored; ${stored} are, so at most ${MAX_PREKEYS_STORED - stored} more fit`,
      );
    }
    return res;
  };

  return { withLock, readList, appendPrekeys };
}

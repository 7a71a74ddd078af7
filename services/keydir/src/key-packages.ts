import {
  type ClaimedKeyPackages,
  HushError,
  type KeyPackageCount,
  MAX_KEY_PACKAGES_STORED,
  type PublishedKeyPackage,
  type SignedDeviceList,
  type Subjects,
} from '@hush/protocol';
import { addJsonEndpoint, FIXED_WINDOW_LUA, type svcm } from '@hush/service-kit';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { KeydirConfig } from './config.js';
import { CountRequestSchema, KeyPackageClaimSchema, KeyPackageUploadSchema, keysInvalidCode } from './schemas.js';

type Service = Awaited<ReturnType<ReturnType<typeof svcm>['add']>>;

/**
 * MLS key packages (RFC 9420 §10), kept like one-time prekeys: each one-use package is handed out
 * once, atomically; when a device has none left, its last-resort package is handed out instead
 * (and kept), so a device can always be added to a group (RFC 9420 §16.8 allows this; the client
 * rotates its leaf with an update commit after joining from one). keydir stores them opaque: it
 * checks shapes and sizes only; members verify the package and its leaf binding.
 *
 * Redis (REDIS_PREFIX first):
 *   kd:kp:<userId>:<deviceId>    list of JSON {ref, body}, oldest first; LPOP claims one
 *   kd:kplr:<userId>:<deviceId>  JSON {ref, body}: the last-resort package
 *   kd:rl:kpclaims:<target>      fixed-window counter of claims on a target account
 */
export function keyPackageKeys(prefix: string) {
  return {
    list: (u: string, d: string) => `${prefix}kd:kp:${u}:${d}`,
    lastResort: (u: string, d: string) => `${prefix}kd:kplr:${u}:${d}`,
    claimRate: (target: string) => `${prefix}kd:rl:kpclaims:${target}`,
  };
}

/**
 * One script per claim, so two concurrent claims never get the same package. KEYS = n lists then
 * n last-resort keys; ARGV[1] = '1' to pop one-use packages ('0' when the target's claim budget
 * is spent: only last-resort packages, which draining cannot exhaust). Returns per device
 * [package JSON or '', '1' if last resort].
 */
const CLAIM_KP_LUA = `
local pop = ARGV[1] == '1'
local n = #KEYS / 2
local out = {}
for i = 1, n do
  local kp = pop and redis.call('LPOP', KEYS[i]) or false
  if kp then
    out[#out + 1] = kp
    out[#out + 1] = '0'
  else
    out[#out + 1] = redis.call('GET', KEYS[n + i]) or ''
    out[#out + 1] = '1'
  end
end
return out
`;

/** Appends packages only if the stored total stays within the cap. ARGV[1] = cap, rest = packages. */
const APPEND_KP_LUA = `
local cap = tonumber(ARGV[1])
local len = redis.call('LLEN', KEYS[1])
if len + #ARGV - 1 > cap then return -1 - len end
for i = 2, #ARGV do redis.call('RPUSH', KEYS[1], ARGV[i]) end
return len + #ARGV - 1
`;

export interface KeyPackageDeps {
  svc: Service;
  redis: Redis;
  log: Logger;
  subj: Subjects;
  config: KeydirConfig;
  /** The account's current signed device list (only listed devices are handed out). */
  readList: (userId: string) => Promise<SignedDeviceList | null>;
  /** Whether the device has published its keys (a device record exists). */
  hasDevice: (userId: string, deviceId: string) => Promise<boolean>;
}

export function addKeyPackageEndpoints(d: KeyPackageDeps): void {
  const { svc, redis, log, subj, config } = d;
  const keys = keyPackageKeys(config.redisPrefix);
  const store = (p: PublishedKeyPackage) => JSON.stringify({ ref: p.ref, body: p.body });

  const count = async (userId: string, deviceId: string): Promise<KeyPackageCount> => {
    const [remaining, lr] = await Promise.all([
      redis.llen(keys.list(userId, deviceId)),
      redis.exists(keys.lastResort(userId, deviceId)),
    ]);
    return { remaining, lastResort: lr === 1 };
  };

  addJsonEndpoint(svc, log, {
    name: 'kp-upload',
    subject: subj.keydir.keyPackagesUpload,
    schema: KeyPackageUploadSchema,
    invalidCode: keysInvalidCode,
    handler: async ({ caller, body }): Promise<KeyPackageCount> => {
      const { userId, deviceId } = caller;
      if (!(await d.hasDevice(userId, deviceId))) {
        throw new HushError('KEYS_NOT_FOUND', 'Publish this device’s keys before its key packages');
      }
      const refs = new Set([...body.keyPackages, ...(body.lastResort ? [body.lastResort] : [])].map((p) => p.ref));
      if (refs.size !== body.keyPackages.length + (body.lastResort ? 1 : 0)) {
        throw new HushError('KEYS_MALFORMED', 'Key package refs must be distinct');
      }
      if (body.lastResort) await redis.set(keys.lastResort(userId, deviceId), store(body.lastResort));
      if (body.keyPackages.length > 0) {
        const res = (await redis.eval(
          APPEND_KP_LUA,
          1,
          keys.list(userId, deviceId),
          String(MAX_KEY_PACKAGES_STORED),
          ...body.keyPackages.map(store),
        )) as number;
        if (res < 0) {
          const stored = -1 - res;
          throw new HushError(
            'KEYS_TOO_MANY_KEY_PACKAGES',
            `At most ${MAX_KEY_PACKAGES_STORED} key packages are stored; ${stored} are, so at most ${MAX_KEY_PACKAGES_STORED - stored} more fit`,
          );
        }
      }
      return count(userId, deviceId);
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'kp-count',
    subject: subj.keydir.keyPackagesCount,
    schema: CountRequestSchema,
    handler: ({ caller }): Promise<KeyPackageCount> => count(caller.userId, caller.deviceId),
  });

  addJsonEndpoint(svc, log, {
    name: 'kp-claim',
    subject: subj.keydir.keyPackagesClaim,
    schema: KeyPackageClaimSchema,
    handler: async ({ caller, userId }): Promise<ClaimedKeyPackages> => {
      const list = await d.readList(userId);
      if (!list) throw new HushError('KEYS_NOT_FOUND');
      // Every listed device but the caller's own (adding one's other devices claims from one's own account).
      const devices = list.devices.filter((x) => !(userId === caller.userId && x === caller.deviceId));
      const [claims] = (await redis.eval(
        FIXED_WINDOW_LUA,
        1,
        keys.claimRate(userId),
        String(config.claimWindowMs),
      )) as [number, number];
      const pop = userId === caller.userId || claims <= config.prekeyClaimsPerTarget;
      const raw = (await redis.eval(
        CLAIM_KP_LUA,
        devices.length * 2,
        ...devices.map((x) => keys.list(userId, x)),
        ...devices.map((x) => keys.lastResort(userId, x)),
        pop ? '1' : '0',
      )) as string[];
      const packages: ClaimedKeyPackages['packages'] = [];
      devices.forEach((deviceId, i) => {
        const kp = raw[2 * i];
        if (!kp) return;
        const p = JSON.parse(kp) as PublishedKeyPackage;
        packages.push({ deviceId, ref: p.ref, body: p.body, lastResort: raw[2 * i + 1] === '1' });
      });
      if (packages.length === 0) throw new HushError('KEYS_NO_KEY_PACKAGE');
      return { userId, packages };
    },
  });
}

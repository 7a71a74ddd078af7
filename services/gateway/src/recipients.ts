import type { DevicesResult, Subjects } from '@hush/protocol';
import { HushError } from '@hush/protocol';
import { DEVICE_CACHE_MS } from './constants.js';
import type { Rpc } from './nats-rpc.js';

/**
 * Current device ids per user, from keydir (`keydir.devices`), cached briefly and dropped early on
 * `events.keys.changed.<user>`. The gateway refuses envelopes for devices that are not (or no longer)
 * in a user's list, so nobody can fill a stale mailbox that no device will ever drain.
 */
export class DeviceDirectory {
  private readonly cache = new Map<string, { devices: Set<string>; until: number }>();

  constructor(
    private readonly rpc: Rpc,
    private readonly s: Subjects,
    private readonly now: () => number = Date.now,
  ) {}

  invalidate(userId: string): void {
    this.cache.delete(userId);
  }

  async devices(userId: string): Promise<Set<string>> {
    const hit = this.cache.get(userId);
    if (hit && hit.until > this.now()) return hit.devices;
    let devices: Set<string>;
    try {
      const r = await this.rpc.call<DevicesResult>(this.s.keydir.devices, { userId });
      devices = new Set(r.devices);
    } catch (e) {
      if (e instanceof HushError && (e.code === 'KEYS_NOT_FOUND' || e.code === 'USER_NOT_FOUND')) devices = new Set();
      else throw e;
    }
    this.cache.set(userId, { devices, until: this.now() + DEVICE_CACHE_MS });
    if (this.cache.size > 50_000) this.cache.clear();
    return devices;
  }

  /** Throws GW_UNKNOWN_RECIPIENT naming the first address that is not a current device. */
  async check(addresses: { user: string; device: string }[]): Promise<void> {
    const users = [...new Set(addresses.map((a) => a.user))];
    const lists = new Map(await Promise.all(users.map(async (u) => [u, await this.devices(u)] as const)));
    for (const a of addresses) {
      if (!lists.get(a.user)?.has(a.device)) {
        throw new HushError('GW_UNKNOWN_RECIPIENT', `No device ${a.device} for user ${a.user}`);
      }
    }
  }
}

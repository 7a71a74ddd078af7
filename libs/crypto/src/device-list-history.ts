/**
 * The newest signed device list per account, with the versions seen before it, and the check every
 * message goes through: a device that is not in its account's newest signed list can neither be
 * encrypted to nor be believed as a sender (Sesame §2.3: a user's devices are the set its records
 * name; here that set is signed by the account identity so the server cannot change it).
 *
 * Rules (PROTOCOL.md §5.1):
 * - versions only go up: a list older than the newest we hold is refused (E2E_STALE_DEVICE_LIST);
 * - one version has one content: the same version with other devices or another issuedAt, newest
 *   or remembered, is a fork (E2E_DEVICE_LIST_CONFLICT): a lying server or a misused identity key;
 * - a record signed under another identity key belongs to an identity the user has since replaced
 *   (the caller trust-checks the key first) and is started afresh;
 * - sessions with a device that a newer list drops are deleted.
 */
import type { SignedDeviceList } from '@hush/protocol';
import { DEVICE_LIST_HISTORY } from './constants.js';
import { type DeviceListContent, verifyDeviceList } from './device-list.js';
import { equalBytes, fromBase64 } from './encoding.js';
import { CryptoError } from './errors.js';
import type { Primitives } from './primitives/types.js';
import type { Address, CryptoStore, DeviceListHistoryEntry, PeerDeviceListRecord } from './storage/types.js';

/**
 * How a verified list relates to what we held: `first` (nothing before), `newer` (adopted),
 * `same` (the newest again), `older` (a genuine earlier version, only where allowed).
 */
export type DeviceListStatus = 'first' | 'newer' | 'same' | 'older';

export interface DeviceListUpdate extends DeviceListContent {
  status: DeviceListStatus;
  /** Devices in this list that the one held before lacked (empty for `first`): "Bob added a device". */
  added: string[];
  /** Devices the one held before had and this list drops: sessions with them were deleted. */
  removed: string[];
}

/** A checked list not yet stored: `commitDeviceList` stores it (so a refused message changes nothing). */
export interface DeviceListPlan {
  update: DeviceListUpdate;
  /** The record to store, or null when nothing changes. */
  record: PeerDeviceListRecord | null;
}

export interface DeviceListCheck {
  userId: string;
  /** The account identity key, already compared with the trust store by the caller. */
  identityKey: Uint8Array;
  list: SignedDeviceList;
  /**
   * Accept a genuine earlier version without error (status `older`, nothing stored). Lists that
   * travel inside messages may lag behind; lists the key directory serves as current may not.
   */
  allowOlder?: boolean;
}

const sameContent = (a: DeviceListHistoryEntry, b: DeviceListHistoryEntry) =>
  a.version === b.version && a.issuedAt === b.issuedAt && a.devices.join('\n') === b.devices.join('\n');

/** History of a record; records written before history existed hold just their newest list. */
export function historyOf(r: PeerDeviceListRecord): DeviceListHistoryEntry[] {
  return r.history ?? [{ version: r.version, issuedAt: r.issuedAt, devices: [...r.devices].sort() }];
}

/** The record held for `userId` under `identityKey`, or undefined (none, or one of a replaced identity). */
export async function heldDeviceList(
  store: CryptoStore,
  userId: string,
  identityKey: Uint8Array,
): Promise<PeerDeviceListRecord | undefined> {
  const r = await store.getPeerDeviceList(userId);
  if (!r || (r.identityKey && !equalBytes(r.identityKey, identityKey))) return undefined;
  return r;
}

/** Verifies `list` and compares it with the history held; stores nothing. */
export async function checkDeviceList(
  prims: Primitives,
  store: CryptoStore,
  opts: DeviceListCheck,
): Promise<DeviceListPlan> {
  const content = await verifyDeviceList(prims, opts.userId, opts.identityKey, opts.list);
  const entry: DeviceListHistoryEntry = {
    version: content.version,
    issuedAt: content.issuedAt,
    devices: content.devices,
  };
  const record = (history: DeviceListHistoryEntry[]): PeerDeviceListRecord => ({
    version: content.version,
    devices: content.devices,
    issuedAt: content.issuedAt,
    signature: fromBase64(opts.list.signature),
    identityKey: opts.identityKey,
    history: history.slice(-DEVICE_LIST_HISTORY),
  });
  const held = await heldDeviceList(store, opts.userId, opts.identityKey);
  if (!held) {
    return { update: { ...content, status: 'first', added: [], removed: [] }, record: record([entry]) };
  }
  const history = historyOf(held);
  const seen = history.find((h) => h.version === content.version);
  if (seen && !sameContent(seen, entry)) {
    throw new CryptoError('E2E_DEVICE_LIST_CONFLICT', `Two different device lists with version ${content.version}`, {
      details: { userId: opts.userId, version: content.version },
    });
  }
  if (content.version < held.version) {
    if (!opts.allowOlder) {
      throw new CryptoError('E2E_STALE_DEVICE_LIST', `Device list version ${content.version} < ${held.version}`, {
        details: { userId: opts.userId, version: content.version, newest: held.version },
      });
    }
    return { update: { ...content, status: 'older', added: [], removed: [] }, record: null };
  }
  if (content.version === held.version) {
    // history always holds the newest list, so `seen` matched it above. Same list: store it only to upgrade a record written without signature or history.
    const upgrade = !held.signature || !held.identityKey || !held.history;
    return {
      update: { ...content, status: 'same', added: [], removed: [] },
      record: upgrade ? record(history) : null,
    };
  }
  return {
    update: {
      ...content,
      status: 'newer',
      added: content.devices.filter((d) => !held.devices.includes(d)),
      removed: held.devices.filter((d) => !content.devices.includes(d)),
    },
    record: record([...history, entry]),
  };
}

/** Stores a checked list and deletes sessions with the devices it removes. */
export async function commitDeviceList(store: CryptoStore, userId: string, plan: DeviceListPlan): Promise<void> {
  if (!plan.record) return;
  await store.savePeerDeviceList(userId, plan.record);
  for (const deviceId of plan.update.removed) await store.deleteSessions({ userId, deviceId });
}

/** checkDeviceList then commitDeviceList: verify, compare with history, store, prune sessions. */
export async function acceptDeviceList(
  prims: Primitives,
  store: CryptoStore,
  opts: DeviceListCheck,
): Promise<DeviceListUpdate> {
  const plan = await checkDeviceList(prims, store, opts);
  await commitDeviceList(store, opts.userId, plan);
  return plan.update;
}

/** Where a device stands in a record: in the newest list, only in earlier ones, or never seen. */
export function deviceStanding(r: PeerDeviceListRecord, deviceId: string): 'listed' | 'removed' | 'unknown' {
  if (r.devices.includes(deviceId)) return 'listed';
  return historyOf(r).some((h) => h.devices.includes(deviceId)) ? 'removed' : 'unknown';
}

/**
 * The check run on every message, sent or received: throws E2E_NO_DEVICE_LIST when we hold no list
 * for the account under `identityKey`, E2E_DEVICE_REMOVED when a newer list dropped the device,
 * E2E_UNKNOWN_DEVICE when no list we saw names it.
 */
export function requireListed(r: PeerDeviceListRecord | undefined, device: Address): void {
  if (!r) {
    throw new CryptoError('E2E_NO_DEVICE_LIST', `No signed device list known for ${device.userId}`, {
      details: { userId: device.userId },
    });
  }
  const standing = deviceStanding(r, device.deviceId);
  if (standing === 'listed') return;
  throw new CryptoError(
    standing === 'removed' ? 'E2E_DEVICE_REMOVED' : 'E2E_UNKNOWN_DEVICE',
    `Device ${device.deviceId} is not in ${device.userId}'s device list version ${r.version}`,
    { details: { userId: device.userId, deviceId: device.deviceId, version: r.version } },
  );
}

/** requireListed against the store (the list held under `identityKey`). */
export async function requireListedDevice(store: CryptoStore, device: Address, identityKey: Uint8Array): Promise<void> {
  requireListed(await heldDeviceList(store, device.userId, identityKey), device);
}

import type {
  ClaimedKeyPackages,
  GroupCommitAccepted,
  GroupCommitBody,
  GroupInfo,
  GroupMessageAccepted,
  KeyPackageCount,
  UploadKeyPackagesBody,
} from '@hush/protocol';
import type { GroupRecord } from '../core/groups.js';
import type { DeviceAddress } from './ports.js';

/**
 * The ports of engine/groups.ts (kept apart from ports.ts so the 1:1 engine's interfaces stay as
 * they are): the gateway's group routes and MLS state. Adapters: adapters/client.ts (GroupApi over
 * @hush/client), adapters/mls.ts (GroupCryptoPort over @hush/crypto's MlsGroup and the vault).
 */
export interface GroupApi {
  uploadKeyPackages(b: UploadKeyPackagesBody): Promise<KeyPackageCount>;
  keyPackageCount(): Promise<KeyPackageCount>;
  claimKeyPackages(userId: string): Promise<ClaimedKeyPackages>;
  createGroup(groupId: string): Promise<GroupInfo>;
  getGroup(groupId: string): Promise<GroupInfo>;
  groupCommit(groupId: string, body: GroupCommitBody): Promise<GroupCommitAccepted>;
  groupMessage(groupId: string, id: string, body: string): Promise<GroupMessageAccepted>;
}

/** One leaf of a group's tree: a device, bound to its account's identity key (base64). */
export interface GroupLeaf {
  userId: string;
  deviceId: string;
  identityKey: string;
}

/**
 * Called by the adapter when a leaf names an account whose identity or device list this device
 * does not know yet (or a device missing from the list it knows): the engine fetches and verifies
 * that account's keys (its trust policy applies), then the adapter checks the leaf again.
 */
export type LearnKeys = (userId: string) => Promise<void>;

/** A commit built on `epoch`, not applied until the gateway accepted it (PROTOCOL.md §9.3). */
export interface PendingChange {
  epoch: number;
  commit: string;
  welcome?: string;
  added: DeviceAddress[];
  removed: DeviceAddress[];
}

export type GroupIncoming =
  | { kind: 'application'; sender: { userId: string; deviceId: string }; plaintext: Uint8Array }
  | {
      kind: 'commit';
      committer: { userId: string; deviceId: string } | null;
      added: GroupLeaf[];
      removed: GroupLeaf[];
      removedSelf: boolean;
    }
  /**
   * Proven unusable, so acked: not-member (a removed sender, E2E_GROUP_NOT_MEMBER), wrong-epoch
   * (keys of that epoch are gone), rejected (a leaf failed the binding check, a forged or corrupt
   * message).
   */
  | { kind: 'refused'; reason: 'not-member' | 'wrong-epoch' | 'rejected'; detail: string };

export interface GroupCryptoPort {
  /** Makes this device's MLS leaf signer (bound to the account identity) unless it has one. */
  prepareDevice(userId: string, deviceId: string): Promise<void>;
  /** New key packages to publish; their private halves stay in the vault until a welcome uses one. */
  makeKeyPackages(count: number, lastResort: boolean): Promise<UploadKeyPackagesBody>;
  create(groupId: string): Promise<void>;
  /** One leaf per key package (base64 MLSMessage, as keydir handed them out). */
  proposeAdd(groupId: string, keyPackages: string[], learn: LearnKeys): Promise<PendingChange>;
  /** Every leaf of those devices (a whole account when deviceId is omitted). */
  proposeRemove(groupId: string, targets: { userId: string; deviceId?: string }[]): Promise<PendingChange>;
  /** The gateway accepted the pending commit of this group: apply and store it. */
  applyPending(groupId: string): Promise<void>;
  /** Another commit won the epoch: forget ours (it is built again on the new epoch). */
  dropPending(groupId: string): void;
  /** Joins from a welcome; null when no local key package matches (it was not for this device). */
  join(welcome: string, learn: LearnKeys): Promise<{ groupId: string } | null>;
  encrypt(groupId: string, plaintext: Uint8Array): Promise<string>;
  /** An MLS message of that group: rejects only on a local failure (storage), like CryptoPort.decrypt. */
  process(groupId: string, body: string, learn: LearnKeys): Promise<GroupIncoming>;
  /** The roster (authenticated by MLS), or null without state for that group. */
  members(groupId: string): Promise<GroupLeaf[] | null>;
  /** The devices our own signed device list names (the last one verified), or null. */
  ownDevices(userId: string): Promise<string[] | null>;
  /** Deletes the group's MLS state (left or removed: its keys are of no further use). */
  forget(groupId: string): Promise<void>;
  // Group records (name, admins, people; core/groups.ts), encrypted at rest beside the MLS state.
  groups(): Promise<GroupRecord[]>;
  putGroup(g: GroupRecord): Promise<void>;
}

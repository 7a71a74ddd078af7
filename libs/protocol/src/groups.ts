import { type Static, Type as T } from '@sinclair/typebox';
import { BASE64_PATTERN, MESSAGE_ID_PATTERN } from './ids.js';
import { DeviceId, UserId } from './keys.js';

/**
 * Groups on MLS (RFC 9420): the wire shapes of key packages (kept by keydir) and of group routing
 * (gateway). The server never parses MLS: a key package and every group message are opaque
 * base64; a group is only an id, an epoch counter and the member devices' mailboxes.
 */

/** Group ids: 16 random bytes chosen by the creating client, lower-case hex (subject-safe). */
export const GROUP_ID_PATTERN = '^[0-9a-f]{32}$';
/** WhatsApp allows 1 024 members; every device is a leaf, so this bounds devices, not people. */
export const MAX_GROUP_DEVICES = 2048;
export const MAX_KEY_PACKAGE_BASE64 = 4096;
/** Key packages a device may upload at once, and keep stored (like one-time prekeys). */
export const MAX_KEY_PACKAGES_PER_UPLOAD = 100;
export const MAX_KEY_PACKAGES_STORED = 200;
/** A commit carries an UpdatePath of O(log n) HPKE ciphertexts; a welcome one per added device. */
export const MAX_GROUP_MESSAGE_BASE64 = 200 * 1024;
export const MAX_WELCOME_BASE64 = 1024 * 1024;
export const MAX_ROSTER_CHANGE = 256;

const b64 = (max: number, description: string) =>
  T.String({ pattern: BASE64_PATTERN, minLength: 4, maxLength: max, description });

export const GroupId = T.String({ pattern: GROUP_ID_PATTERN, description: 'Group id: 16 random bytes, hex' });
export const GroupIdParams = T.Object({ groupId: GroupId }, { additionalProperties: false });

export const KeyPackageRef = T.String({
  pattern: BASE64_PATTERN,
  minLength: 44,
  maxLength: 44,
  description: 'RFC 9420 §5.2 KeyPackageRef (32 bytes, base64)',
});
export const PublishedKeyPackage = T.Object(
  { ref: KeyPackageRef, body: b64(MAX_KEY_PACKAGE_BASE64, 'MLSMessage(KeyPackage), base64') },
  { additionalProperties: false },
);

/** PUT /v1/keys/key-packages: one-use packages, and optionally a new last-resort package. */
export const UploadKeyPackagesBody = T.Object(
  {
    keyPackages: T.Array(PublishedKeyPackage, { maxItems: MAX_KEY_PACKAGES_PER_UPLOAD }),
    lastResort: T.Optional(PublishedKeyPackage),
  },
  { additionalProperties: false },
);
export const KeyPackageCount = T.Object(
  { remaining: T.Integer({ minimum: 0 }), lastResort: T.Boolean() },
  { additionalProperties: false },
);
/** POST /v1/keys/:userId/key-packages: claims one package per device of that user. */
export const ClaimedKeyPackages = T.Object(
  {
    userId: UserId,
    packages: T.Array(
      T.Object(
        { deviceId: DeviceId, ref: KeyPackageRef, body: T.String(), lastResort: T.Boolean() },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const GroupDevice = T.Object({ user: UserId, device: DeviceId }, { additionalProperties: false });

/** The routing record: what the server knows of a group. */
export const GroupInfo = T.Object(
  {
    groupId: GroupId,
    epoch: T.Integer({ minimum: 0 }),
    members: T.Array(GroupDevice, { maxItems: MAX_GROUP_DEVICES }),
  },
  { additionalProperties: false },
);

/**
 * POST /v1/groups/:groupId/commits. `epoch` is the epoch the commit was built on: the gateway
 * accepts exactly one commit per epoch (JetStream expected-last-subject-sequence on the group's
 * subject), so concurrent commits cannot fork the group; the loser gets GROUP_EPOCH_MISMATCH,
 * processes the winner and builds its change again. `add`/`remove` change the routing list; they
 * must match the commit, which every member checks cryptographically (the server cannot).
 */
export const GroupCommitBody = T.Object(
  {
    id: T.String({ pattern: MESSAGE_ID_PATTERN }),
    epoch: T.Integer({ minimum: 0 }),
    commit: b64(MAX_GROUP_MESSAGE_BASE64, 'MLSMessage(PrivateMessage commit), base64'),
    welcome: T.Optional(b64(MAX_WELCOME_BASE64, 'MLSMessage(Welcome), base64')),
    add: T.Array(GroupDevice, { maxItems: MAX_ROSTER_CHANGE }),
    remove: T.Array(GroupDevice, { maxItems: MAX_ROSTER_CHANGE }),
  },
  { additionalProperties: false },
);
export const GroupCommitAccepted = T.Object(
  { epoch: T.Integer({ minimum: 0 }), delivered: T.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);

/** POST /v1/groups/:groupId/messages: one ciphertext, fanned out to every other member device. */
export const GroupMessageBody = T.Object(
  { id: T.String({ pattern: MESSAGE_ID_PATTERN }), body: b64(MAX_GROUP_MESSAGE_BASE64, 'MLSMessage, base64') },
  { additionalProperties: false },
);
export const GroupMessageAccepted = T.Object(
  { ts: T.Integer({ minimum: 0 }), delivered: T.Integer({ minimum: 0 }) },
  { additionalProperties: false },
);

/** What the gateway stores for the group's subject (one record per group, the latest). */
export interface GroupRecord {
  epoch: number;
  members: { user: string; device: string }[];
  /** Message id of the commit that made this epoch: a retried POST of it is answered, not refused. */
  lastCommitId: string | null;
}

/** How a group delivery is marked in a device's mailbox (`StoredEnvelope.group`). */
export interface GroupEnvelopeTag {
  id: string;
  kind: 'message' | 'commit' | 'welcome';
}

export type UploadKeyPackagesBody = Static<typeof UploadKeyPackagesBody>;
export type PublishedKeyPackage = Static<typeof PublishedKeyPackage>;
export type KeyPackageCount = Static<typeof KeyPackageCount>;
export type ClaimedKeyPackages = Static<typeof ClaimedKeyPackages>;
export type GroupDevice = Static<typeof GroupDevice>;
export type GroupInfo = Static<typeof GroupInfo>;
export type GroupCommitBody = Static<typeof GroupCommitBody>;
export type GroupCommitAccepted = Static<typeof GroupCommitAccepted>;
export type GroupMessageBody = Static<typeof GroupMessageBody>;
export type GroupMessageAccepted = Static<typeof GroupMessageAccepted>;

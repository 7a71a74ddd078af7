import { type Static, Type as T } from '@sinclair/typebox';
import { BASE64_PATTERN } from './ids.js';
import { DeviceId } from './keys.js';

/**
 * Device linking (docs/ARCHITECTURE.md, "Linking a device"): the account's devices as auth knows
 * them, and the provisioning relay. The relay moves opaque ciphertext between the new device and
 * the approving one, keyed by a random channel id; the gateway binds each channel to the caller's
 * account, and bounds it in size and time. What the bytes mean is @hush/crypto's
 * `provisioning.ts` (libs/crypto/PROTOCOL.md §10).
 */

/** 16 random bytes, base64url (22 characters), chosen by the new device. */
export const LINK_CHANNEL_PATTERN = '^[A-Za-z0-9_-]{22}$';
/** Largest relayed message (base64): a history chunk of ~64 KiB plaintext fits. */
export const LINK_MAX_BODY_BASE64 = 128 * 1024;
/** Messages one channel may hold (both directions together): 2 048 x 96 KiB bounds it near 192 MiB worst case. */
export const LINK_MAX_MESSAGES = 2_048;
/** A channel and everything relayed through it are gone this long after the last message. */
export const LINK_CHANNEL_TTL_MS = 10 * 60_000;
/** Longest a poll waits for a message before answering an empty list. */
export const LINK_MAX_WAIT_MS = 25_000;
/** Most messages one poll returns. */
export const LINK_MAX_BATCH = 32;

export const LinkSide = T.Union([T.Literal('new'), T.Literal('old')], {
  description: 'new: the device being linked; old: the device that approves it',
});
export const LinkChannelParams = T.Object(
  { channel: T.String({ pattern: LINK_CHANNEL_PATTERN }) },
  { additionalProperties: false },
);
/** POST /v1/link/:channel: relay one message to the other side. */
export const LinkPostBody = T.Object(
  {
    to: LinkSide,
    body: T.String({ pattern: BASE64_PATTERN, minLength: 4, maxLength: LINK_MAX_BODY_BASE64 }),
  },
  { additionalProperties: false },
);
/** GET /v1/link/:channel?side=&after=&wait=: messages for `side` after relay sequence `after`. */
export const LinkPollQuery = T.Object(
  {
    side: LinkSide,
    after: T.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0 }),
    wait: T.Integer({ minimum: 0, maximum: LINK_MAX_WAIT_MS, default: 0 }),
  },
  { additionalProperties: false },
);
export const LinkMessage = T.Object(
  { seq: T.Integer({ minimum: 1, description: 'Relay sequence; pass the last one as `after`' }), body: T.String() },
  { additionalProperties: false },
);
export const LinkMessages = T.Object({ messages: T.Array(LinkMessage) }, { additionalProperties: false });
export const LinkPosted = T.Object({ seq: T.Integer({ minimum: 1 }) }, { additionalProperties: false });

/** One device of the caller's account, as auth records it (GET /v1/devices). */
export const DeviceInfo = T.Object(
  {
    deviceId: DeviceId,
    name: T.String({ maxLength: 64 }),
    createdAt: T.Integer({ description: 'Unix ms the device signed in' }),
    lastSeen: T.Integer({ description: 'Unix ms of its last sign-in or token refresh' }),
    current: T.Boolean({ description: 'The device asking' }),
  },
  { additionalProperties: false },
);
export const DeviceInfoList = T.Object({ devices: T.Array(DeviceInfo) }, { additionalProperties: false });
export const DeviceIdParams = T.Object({ deviceId: DeviceId }, { additionalProperties: false });

export type LinkSide = Static<typeof LinkSide>;
export type LinkPostBody = Static<typeof LinkPostBody>;
export type LinkPollQuery = Static<typeof LinkPollQuery>;
export type LinkMessage = Static<typeof LinkMessage>;
export type LinkMessages = Static<typeof LinkMessages>;
export type LinkPosted = Static<typeof LinkPosted>;
export type DeviceInfo = Static<typeof DeviceInfo>;
export type DeviceInfoList = Static<typeof DeviceInfoList>;

import { type Static, Type as T } from '@sinclair/typebox';
import { BASE64_PATTERN, DEVICE_ID_PATTERN, USER_ID_PATTERN } from './ids.js';

/**
 * Public key material as it crosses the wire (JSON, standard base64). keydir checks only shapes
 * and decoded lengths; what a signature covers is defined by @hush/crypto (see its PROTOCOL.md)
 * and checked by clients, because trust decisions are the client's.
 */
const b64 = (bytes: number, description: string) =>
  T.String({
    pattern: BASE64_PATTERN,
    minLength: Math.ceil(bytes / 3) * 4,
    maxLength: Math.ceil(bytes / 3) * 4,
    description,
  });

export const Key32 = (d: string) => b64(32, `${d} (32 bytes, base64)`);
export const Sig64 = (d: string) => b64(64, `${d} (64 bytes, base64)`);

export const UserId = T.String({ pattern: USER_ID_PATTERN, description: 'Opaque user id' });
export const DeviceId = T.String({ pattern: DEVICE_ID_PATTERN, description: 'Opaque device id' });

export const SignedDeviceKey = T.Object(
  {
    publicKey: Key32('X25519 device key'),
    signature: Sig64('Ed25519 signature by the identity key'),
  },
  { additionalProperties: false },
);

export const SignedPrekey = T.Object(
  {
    keyId: T.Integer({ minimum: 0, maximum: 0xffffffff }),
    publicKey: Key32('X25519 signed prekey'),
    createdAt: T.Integer({ minimum: 0, description: 'Unix ms' }),
    signature: Sig64('Ed25519 signature by the identity key'),
  },
  { additionalProperties: false },
);

export const OneTimePrekey = T.Object(
  {
    keyId: T.Integer({ minimum: 0, maximum: 0xffffffff }),
    publicKey: Key32('X25519 one-time prekey'),
    signature: Sig64('Ed25519 signature by the identity key'),
  },
  { additionalProperties: false },
);

export const MAX_PREKEYS_PER_UPLOAD = 200;
export const MAX_PREKEYS_STORED = 1000;
export const MAX_DEVICES_PER_USER = 16;

export const SignedDeviceList = T.Object(
  {
    version: T.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER }),
    devices: T.Array(DeviceId, { minItems: 1, maxItems: MAX_DEVICES_PER_USER, uniqueItems: true }),
    issuedAt: T.Integer({ minimum: 0, description: 'Unix ms' }),
    signature: Sig64('Ed25519 signature by the identity key over (userId, version, devices, issuedAt)'),
  },
  { additionalProperties: false },
);

/** Body of PUT /v1/keys: everything a device publishes about itself. */
export const PublishKeysBody = T.Object(
  {
    identityKey: Key32('Ed25519 account identity key'),
    deviceKey: SignedDeviceKey,
    signedPrekey: SignedPrekey,
    oneTimePrekeys: T.Array(OneTimePrekey, { maxItems: MAX_PREKEYS_PER_UPLOAD }),
    deviceList: SignedDeviceList,
    /**
     * Set only when the user explicitly chose "Reset identity": publishing another identity key
     * than the account's then replaces it (every other device leaves the account). Without it
     * keydir refuses a different identity with KEYS_IDENTITY_MISMATCH, so signing in on a new
     * browser can never reset an account by accident.
     */
    resetIdentity: T.Optional(T.Boolean()),
  },
  { additionalProperties: false },
);

export const UploadPrekeysBody = T.Object(
  {
    oneTimePrekeys: T.Array(OneTimePrekey, { minItems: 1, maxItems: MAX_PREKEYS_PER_UPLOAD }),
    /** Optional rotation of the signed prekey at the same time. */
    signedPrekey: T.Optional(SignedPrekey),
  },
  { additionalProperties: false },
);

export const DeviceBundle = T.Object(
  {
    deviceId: DeviceId,
    deviceKey: SignedDeviceKey,
    signedPrekey: SignedPrekey,
    oneTimePrekey: T.Union([OneTimePrekey, T.Null()]),
  },
  { additionalProperties: false },
);

/** GET /v1/keys/:userId: the user's identity, signed device list and one bundle per device. */
export const UserBundle = T.Object(
  {
    userId: UserId,
    identityKey: Key32('Ed25519 account identity key'),
    deviceList: SignedDeviceList,
    devices: T.Array(DeviceBundle),
  },
  { additionalProperties: false },
);

export const PrekeyCount = T.Object({ remaining: T.Integer({ minimum: 0 }) }, { additionalProperties: false });

export type SignedDeviceKey = Static<typeof SignedDeviceKey>;
export type SignedPrekey = Static<typeof SignedPrekey>;
export type OneTimePrekey = Static<typeof OneTimePrekey>;
export type SignedDeviceList = Static<typeof SignedDeviceList>;
export type PublishKeysBody = Static<typeof PublishKeysBody>;
export type UploadPrekeysBody = Static<typeof UploadPrekeysBody>;
export type DeviceBundle = Static<typeof DeviceBundle>;
export type UserBundle = Static<typeof UserBundle>;
export type PrekeyCount = Static<typeof PrekeyCount>;

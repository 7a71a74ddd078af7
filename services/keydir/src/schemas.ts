import {
  DeviceId,
  MAX_KEY_PACKAGES_PER_UPLOAD,
  MAX_PREKEYS_PER_UPLOAD,
  PublishKeysBody,
  SignedDeviceList,
  UploadKeyPackagesBody,
  UploadPrekeysBody,
  UserId,
} from '@hush/protocol';
import { Type as T } from '@sinclair/typebox';
import type { ValueError } from '@sinclair/typebox/compiler';

const Caller = T.Object({ userId: UserId, deviceId: DeviceId }, { additionalProperties: false });

export const PublishKeysRequestSchema = T.Object(
  { caller: Caller, keys: PublishKeysBody },
  { additionalProperties: false },
);
export const UploadPrekeysRequestSchema = T.Object(
  { caller: Caller, body: UploadPrekeysBody },
  { additionalProperties: false },
);
export const CountRequestSchema = T.Object({ caller: Caller }, { additionalProperties: false });
export const BundleRequestSchema = T.Object({ caller: Caller, userId: UserId }, { additionalProperties: false });
export const DeviceListRequestSchema = T.Object(
  { caller: Caller, deviceList: SignedDeviceList },
  { additionalProperties: false },
);
export const KeyPackageUploadSchema = T.Object(
  { caller: Caller, body: UploadKeyPackagesBody },
  { additionalProperties: false },
);
export const KeyPackageClaimSchema = T.Object({ caller: Caller, userId: UserId }, { additionalProperties: false });
export const DevicesRequestSchema = T.Object({ userId: UserId }, { additionalProperties: false });

/**
 * A schema failure inside key material is KEYS_MALFORMED (the message names the field); too many
 * one-time prekeys in one upload is KEYS_TOO_MANY_PREKEYS; anything else is VALIDATION_FAILED.
 */
export function keysInvalidCode(e: ValueError) {
  if (/\/keyPackages$/.test(e.path) && Array.isArray(e.value) && e.value.length > MAX_KEY_PACKAGES_PER_UPLOAD) {
    return 'KEYS_TOO_MANY_KEY_PACKAGES' as const;
  }
  if (/\/oneTimePrekeys$/.test(e.path) && Array.isArray(e.value) && e.value.length > MAX_PREKEYS_PER_UPLOAD) {
    return 'KEYS_TOO_MANY_PREKEYS' as const;
  }
  if (/^\/(keys|body|deviceList)(\/|$)/.test(e.path)) return 'KEYS_MALFORMED' as const;
  return 'VALIDATION_FAILED' as const;
}

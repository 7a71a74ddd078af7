import { type Static, Type as T } from '@sinclair/typebox';
import { DeviceId, UserId } from './keys.js';

export const Credentials = T.Object(
  {
    username: T.String({ minLength: 1, maxLength: 64 }),
    password: T.String({ minLength: 1, maxLength: 1024 }),
    deviceName: T.String({
      minLength: 1,
      maxLength: 64,
      description: 'Shown in the device list, e.g. "Firefox on laptop"',
    }),
    inviteCode: T.Optional(
      T.String({ minLength: 1, maxLength: 64, description: 'Needed to register when the server is invite-only' }),
    ),
  },
  { additionalProperties: false },
);

export const Session = T.Object(
  {
    userId: UserId,
    username: T.String(),
    deviceId: DeviceId,
    accessToken: T.String({ description: 'EdDSA JWT, at most 15 minutes' }),
    accessExpiresAt: T.Integer({ description: 'Unix ms' }),
    refreshToken: T.String({ description: 'Opaque, single use; rotated on every refresh' }),
    refreshExpiresAt: T.Integer({ description: 'Unix ms' }),
  },
  { additionalProperties: false },
);

export const RefreshBody = T.Object(
  { refreshToken: T.String({ minLength: 16, maxLength: 256 }) },
  { additionalProperties: false },
);

export const UserProfile = T.Object({ userId: UserId, username: T.String() }, { additionalProperties: false });

/** Claims of the access JWT (besides iss, aud, exp, iat, jti; header carries kid, alg EdDSA). */
export interface AccessClaims {
  sub: string; // userId
  dev: string; // deviceId
  usr: string; // username
  jti: string;
}

export type Credentials = Static<typeof Credentials>;
export type Session = Static<typeof Session>;
export type RefreshBody = Static<typeof RefreshBody>;
export type UserProfile = Static<typeof UserProfile>;

export const JWT_ISSUER = 'hush-auth';
export const JWT_AUDIENCE = 'hush';
export const ACCESS_TTL_MS = 15 * 60_000;
/**
 * The longest an access token may live, whatever ACCESS_TTL_MS says: a stolen token is useful
 * this long at most (docs/SECURITY.md). Auth clamps to it; gateways refuse longer tokens.
 */
export const MAX_ACCESS_TTL_MS = 15 * 60_000;
export const REFRESH_TTL_MS = 30 * 24 * 3600_000;

import { Credentials, DeviceId, UserId } from '@hush/protocol';
import { Type as T } from '@sinclair/typebox';

/**
 * Schemas of the NATS request bodies (the shapes are the interfaces in @hush/protocol service.ts).
 * Username and password are only bounded here; their rules are checked by the handlers so that
 * the client gets AUTH_INVALID_USERNAME / AUTH_WEAK_PASSWORD rather than a generic schema error.
 */
const ClientAddr = T.String({ minLength: 1, maxLength: 100, description: 'Client address as seen by the gateway' });
const Caller = T.Object({ userId: UserId, deviceId: DeviceId }, { additionalProperties: false });

export const RegisterRequestSchema = T.Object(
  {
    username: T.String({ maxLength: 64 }),
    password: T.String({ maxLength: 1024 }),
    deviceName: Credentials.properties.deviceName,
    inviteCode: Credentials.properties.inviteCode,
    clientAddr: ClientAddr,
  },
  { additionalProperties: false },
);
export const LoginRequestSchema = RegisterRequestSchema;
export const RefreshRequestSchema = T.Object(
  { refreshToken: T.String({ minLength: 16, maxLength: 256 }), clientAddr: ClientAddr },
  { additionalProperties: false },
);
export const LogoutRequestSchema = T.Object(
  { caller: Caller, deviceId: T.Optional(DeviceId) },
  { additionalProperties: false },
);
export const LookupRequestSchema = T.Object(
  { username: T.String({ maxLength: 64 }), caller: Caller, clientAddr: ClientAddr },
  { additionalProperties: false },
);
export const ProfileRequestSchema = T.Object({ userId: UserId }, { additionalProperties: false });
export const CheckRequestSchema = T.Object({ userId: UserId, deviceId: DeviceId }, { additionalProperties: false });
export const EmptyRequestSchema = T.Object({});
export const DevicesListRequestSchema = T.Object({ caller: Caller }, { additionalProperties: false });

import { DeviceId, MAX_PRESENCE_QUERY, UserId } from '@hush/protocol';
import { Type as T } from '@sinclair/typebox';

const Caller = T.Object({ userId: UserId, deviceId: DeviceId }, { additionalProperties: false });
/** Gateway and connection ids end up inside Redis keys: keep them short and plain. */
const Token = T.String({ pattern: '^[A-Za-z0-9_.:-]{1,64}$' });
const Time = T.Integer({ minimum: 0 });

export const PresenceQueryRequestSchema = T.Object(
  { caller: Caller, userIds: T.Array(UserId, { maxItems: MAX_PRESENCE_QUERY }) },
  { additionalProperties: false },
);
export const ContactsRequestSchema = T.Object(
  { caller: Caller, contactUserId: UserId },
  { additionalProperties: false },
);

// Events from gateways (extra fields are tolerated: events may grow).
export const ConnectEventSchema = T.Object({
  gatewayId: Token,
  userId: UserId,
  deviceId: DeviceId,
  connId: Token,
  at: Time,
});
export const LeaseEventSchema = T.Object({ gatewayId: Token, at: Time, ttlMs: T.Integer({ minimum: 1 }) });

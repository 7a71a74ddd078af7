import { type Static, Type as T } from '@sinclair/typebox';
import type { GroupEnvelopeTag } from './groups.js';
import { BASE64_PATTERN, MESSAGE_ID_PATTERN } from './ids.js';
import { DeviceId, UserId } from './keys.js';

/**
 * WebSocket frames on /ws (JSON text frames). Full prose in docs/PROTOCOL-WIRE.md.
 * Client -> server: hello (must be first), send, ack, ping, presence.sub.
 * Server -> client: ready, accepted, deliver, error, pong, presence, revoked.
 */
export const WS_PROTOCOL_VERSION = 1;
export const MAX_FRAME_BYTES = 256 * 1024;
export const MAX_ENVELOPES_PER_SEND = 64;
export const MAX_BODY_BASE64 = 200 * 1024;
export const HELLO_TIMEOUT_MS = 5_000;

const MessageId = T.String({ pattern: MESSAGE_ID_PATTERN });
const Body = T.String({
  pattern: BASE64_PATTERN,
  minLength: 4,
  maxLength: MAX_BODY_BASE64,
  description: 'Opaque ciphertext, base64',
});

export const Address = T.Object({ user: UserId, device: DeviceId }, { additionalProperties: false });

export const HelloFrame = T.Object(
  {
    type: T.Literal('hello'),
    token: T.String({ minLength: 10, maxLength: 4096 }),
    v: T.Optional(T.Literal(WS_PROTOCOL_VERSION)),
  },
  { additionalProperties: false },
);
export const SendFrame = T.Object(
  {
    type: T.Literal('send'),
    id: MessageId,
    envelopes: T.Array(T.Object({ to: Address, body: Body }, { additionalProperties: false }), {
      minItems: 1,
      maxItems: MAX_ENVELOPES_PER_SEND,
    }),
  },
  { additionalProperties: false },
);
export const AckFrame = T.Object(
  { type: T.Literal('ack'), seq: T.Integer({ minimum: 1, description: "The deliver frame's seq" }) },
  { additionalProperties: false },
);
export const PingFrame = T.Object(
  { type: T.Literal('ping'), t: T.Optional(T.Number()) },
  { additionalProperties: false },
);
export const PresenceSubFrame = T.Object(
  { type: T.Literal('presence.sub'), users: T.Array(UserId, { maxItems: 100 }) },
  { additionalProperties: false },
);
export const ClientFrame = T.Union([HelloFrame, SendFrame, AckFrame, PingFrame, PresenceSubFrame]);

export interface ReadyFrame {
  type: 'ready';
  user: string;
  device: string;
  gateway: string;
  v: number;
}
export interface AcceptedFrame {
  type: 'accepted';
  id: string;
  ts: number /** envelopes stored (dedup counts as stored) */;
  count: number;
}
export interface DeliverFrame {
  type: 'deliver';
  /** JetStream stream sequence; echo it in an ack frame once the message is decrypted and stored. */
  seq: number;
  id: string;
  from: { user: string; device: string };
  /** Server time the gateway accepted the message (Unix ms). */
  ts: number;
  body: string;
  /** Set for a group delivery (MLS message, commit or welcome of that group). */
  group?: GroupEnvelopeTag;
}
export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  id?: string;
  retryAfter?: number;
}
export interface PongFrame {
  type: 'pong';
  t?: number;
}
export interface PresenceFrame {
  type: 'presence';
  user: string;
  online: boolean;
  lastSeen: number | null;
}
export type ServerFrame = ReadyFrame | AcceptedFrame | DeliverFrame | ErrorFrame | PongFrame | PresenceFrame;

export type HelloFrame = Static<typeof HelloFrame>;
export type SendFrame = Static<typeof SendFrame>;
export type AckFrame = Static<typeof AckFrame>;
export type PingFrame = Static<typeof PingFrame>;
export type PresenceSubFrame = Static<typeof PresenceSubFrame>;
export type ClientFrame = Static<typeof ClientFrame>;
export type Address = Static<typeof Address>;

/**
 * Close codes, in ranges that each mean one thing to a client (`closeAction` in retry.ts):
 * 4000-4099 reconnect with backoff; 4100-4199 refresh the access token, then reconnect;
 * 4400-4499 terminal: do not reconnect without user action or a new sign-in. The 44xx codes echo
 * the HTTP status of the same situation (401, 403, 408, 409).
 */
export const CloseCodes = {
  /** The gateway is shutting down gracefully: reconnect, to any gateway. */
  SERVER_SHUTDOWN: 4000,
  /** Two pings went unanswered (or, on the client, nothing arrived for two intervals). */
  HEARTBEAT_TIMEOUT: 4001,
  /** The mailbox or auth is unavailable right now. */
  UPSTREAM_LOST: 4003,
  /** The access token expired before `hello`. */
  TOKEN_EXPIRED: 4100,
  /** No token, an invalid one, or a frame before `hello`. */
  UNAUTHORIZED: 4401,
  /** The device was signed out (logout, refresh-token reuse, removed from the device list). */
  REVOKED: 4403,
  /** No `hello` within HELLO_TIMEOUT_MS. */
  HELLO_TIMEOUT: 4408,
  /** The same device connected again (here or on another gateway); reconnecting would steal it back forever. */
  REPLACED: 4409,
} as const;

/** What the gateway stores in JetStream for one envelope (the message payload, JSON). */
export interface StoredEnvelope {
  id: string;
  from: { user: string; device: string };
  ts: number;
  body: string;
  group?: GroupEnvelopeTag;
}
/**
 * JetStream dedupe is per stream, not per subject, so the Nats-Msg-Id is the message id scoped
 * by sender device and by recipient device. (Deviation from "message id as Nats-Msg-Id": one send
 * frame carries one message id for many mailboxes in the same stream, and an id chosen by one
 * sender must never suppress another sender's message to the same device.)
 */
export const natsMsgId = (
  messageId: string,
  to: { user: string; device: string },
  from: { user: string; device: string },
) => `${from.user}.${from.device}.${messageId}.${to.user}.${to.device}`;

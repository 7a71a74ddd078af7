import type { ErrorCode, WireError } from './errors.js';
import { HushError } from './errors.js';
import type { PresenceQueryResult } from './presence.js';

/**
 * Every NATS request to auth/keydir/presence gets a JSON reply of this shape. We do not use the
 * micro-service numeric error headers because our codes are strings shared with HTTP and WS.
 */
export type ServiceReply<T> = { ok: true; result: T } | { ok: false; error: WireError };

/** Who is asking: set by the gateway from a verified JWT, never taken from a client body. */
export interface Caller {
  userId: string;
  deviceId: string;
}

// --- request payloads on the NATS side (results are the HTTP response types) ---
export interface RegisterRequest {
  username: string;
  password: string;
  deviceName: string;
  clientAddr: string;
}
export type LoginRequest = RegisterRequest;
export interface RefreshRequest {
  refreshToken: string;
  clientAddr: string;
}
export interface LogoutRequest {
  caller: Caller /** default: the caller's own device */;
  deviceId?: string;
}
/** auth.check: the gateway asks whether a device's access token may still be used. */
export interface CheckRequest {
  userId: string;
  deviceId: string;
}
export interface CheckResult {
  active: boolean;
}
/** auth.logout result: the device that was signed out. */
export interface LogoutResult {
  deviceId: string;
}
/** presence.contacts result. */
export interface ContactsResult {
  contactUserId: string;
}
/** auth.jwks result: a JSON Web Key Set (RFC 7517 §5) with the public signing keys only. */
export interface JwksResult {
  keys: Array<Record<string, unknown>>;
}
/** auth.devices: the caller's account's devices (result: DeviceInfoList). */
export interface DevicesListRequest {
  caller: Caller;
}
export interface LookupRequest {
  username: string;
}
export interface ProfileRequest {
  userId: string;
}
export interface PublishKeysRequest {
  caller: Caller;
  keys: import('./keys.js').PublishKeysBody;
}
export interface UploadPrekeysRequest {
  caller: Caller;
  body: import('./keys.js').UploadPrekeysBody;
}
export interface CountRequest {
  caller: Caller;
}
export interface BundleRequest {
  caller: Caller;
  userId: string;
}
export interface DeviceListRequest {
  caller: Caller;
  deviceList: import('./keys.js').SignedDeviceList;
}
export interface DevicesRequest {
  userId: string;
}
export interface DevicesResult {
  devices: string[];
}
export interface PresenceQueryRequest {
  caller: Caller;
  userIds: string[];
}
/**
 * presence.query result on NATS: the public answer plus `shared`, the requested users who share
 * their presence with the caller. The gateway follows live events of those users only; the HTTP
 * answer (PresenceQueryResult) drops `shared`, so a hidden user still looks "never seen".
 */
export interface PresenceQueryReply extends PresenceQueryResult {
  shared: string[];
}
export interface ContactsRequest {
  caller: Caller;
  contactUserId: string;
}

// --- events ---
export interface DeviceRevokedEvent {
  userId: string;
  deviceId: string;
  reason: 'logout' | 'refresh-reuse' | 'identity-reset';
}
export interface KeysChangedEvent {
  userId: string;
  reason: 'published' | 'device-list' | 'identity-reset';
  identityChanged: boolean;
  /** Devices that left the account (identity reset): their mailboxes and tokens are cleaned up. */
  removedDevices: string[];
  at: number;
}
export interface PresenceConnectEvent {
  gatewayId: string;
  userId: string;
  deviceId: string;
  connId: string;
  at: number;
}
export type PresenceDisconnectEvent = PresenceConnectEvent;
export interface GatewayLeaseEvent {
  gatewayId: string;
  at: number;
  ttlMs: number;
}
export interface PresenceChangedEvent {
  userId: string;
  online: boolean;
  lastSeen: number | null;
}

export const encodeJson = (v: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(v));
export const decodeJson = <T>(b: Uint8Array): T => JSON.parse(new TextDecoder().decode(b)) as T;

export const okReply = <T>(result: T): ServiceReply<T> => ({ ok: true, result });
export const errReply = (e: unknown): ServiceReply<never> => {
  if (e instanceof HushError) return { ok: false, error: e.toWire() };
  const code: ErrorCode = 'INTERNAL';
  return { ok: false, error: { code, message: 'Internal error' } };
};
/** Unwraps a reply or throws the HushError it carries. */
export function unwrapReply<T>(r: ServiceReply<T>): T {
  if (r.ok) return r.result;
  throw HushError.fromWire(r.error);
}

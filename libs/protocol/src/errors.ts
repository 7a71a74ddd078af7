/**
 * The one error catalogue of the project. Codes are stable: clients switch on them,
 * so a code is never renamed or reused. `status` is the HTTP status the gateway answers with.
 * `retryable`: the same request, sent again unchanged after a backoff, may succeed (the failure
 * was transient or a rate limit). Clients decide with `isRetryableCode` (retry.ts), never with
 * their own list, and always within the attempts of the one retry policy. A code that is not
 * retryable needs something to change first (new input, a new token, user action).
 */
export const ErrorCodes = {
  // generic
  VALIDATION_FAILED: { status: 400, retryable: false, message: 'The request does not match its schema' },
  NOT_FOUND: { status: 404, retryable: false, message: 'Not found' },
  INTERNAL: { status: 500, retryable: true, message: 'Internal error' },
  UPSTREAM_UNAVAILABLE: { status: 503, retryable: true, message: 'A backing service did not answer' },
  // auth
  AUTH_INVALID_USERNAME: { status: 400, retryable: false, message: 'Usernames are 3-32 characters of a-z 0-9 _ .' },
  AUTH_WEAK_PASSWORD: { status: 400, retryable: false, message: 'Passwords need at least 8 characters' },
  AUTH_USERNAME_TAKEN: { status: 409, retryable: false, message: 'That username is taken' },
  AUTH_REGISTRATION_CLOSED: { status: 403, retryable: false, message: 'This server does not accept new accounts' },
  AUTH_INVITE_INVALID: { status: 403, retryable: false, message: 'The invite code is missing, used up or expired' },
  AUTH_BAD_CREDENTIALS: { status: 401, retryable: false, message: 'Wrong username or password' },
  AUTH_RATE_LIMITED: { status: 429, retryable: true, message: 'Too many attempts; try again later' },
  AUTH_TOKEN_MISSING: { status: 401, retryable: false, message: 'A bearer token is required' },
  AUTH_TOKEN_INVALID: { status: 401, retryable: false, message: 'The token is not valid' },
  AUTH_TOKEN_EXPIRED: { status: 401, retryable: false, message: 'The token has expired' },
  AUTH_REFRESH_INVALID: { status: 401, retryable: false, message: 'The refresh token is not valid' },
  AUTH_REFRESH_REUSED: {
    status: 401,
    retryable: false,
    message: 'A refresh token was used twice; the device was signed out',
  },
  AUTH_DEVICE_REVOKED: { status: 401, retryable: false, message: 'This device was signed out' },
  AUTH_TOO_MANY_DEVICES: {
    status: 409,
    retryable: false,
    message: 'This account has the most devices allowed; sign one out first',
  },
  // keydir
  KEYS_MALFORMED: { status: 400, retryable: false, message: 'A key, signature or encoding is malformed' },
  KEYS_FORBIDDEN: { status: 403, retryable: false, message: 'A device may only write its own keys' },
  KEYS_NOT_FOUND: { status: 404, retryable: false, message: 'No keys for that user' },
  KEYS_STALE_DEVICE_LIST: { status: 409, retryable: false, message: 'The device list version must increase' },
  KEYS_TOO_MANY_PREKEYS: { status: 400, retryable: false, message: 'Too many one-time prekeys' },
  KEYS_NO_KEY_PACKAGE: { status: 404, retryable: false, message: 'That user has no MLS key package published' },
  KEYS_TOO_MANY_KEY_PACKAGES: { status: 400, retryable: false, message: 'Too many MLS key packages' },
  // groups (MLS routing; the server never sees group names or content)
  GROUP_NOT_FOUND: { status: 404, retryable: false, message: 'No such group' },
  GROUP_EXISTS: { status: 409, retryable: false, message: 'A group with that id exists' },
  GROUP_NOT_MEMBER: { status: 403, retryable: false, message: 'This device is not a member of that group' },
  GROUP_EPOCH_MISMATCH: {
    status: 409,
    retryable: false,
    message: 'Another commit was accepted for that epoch: process it, then build the change again',
  },
  GROUP_TOO_LARGE: { status: 413, retryable: false, message: 'The group would have too many member devices' },
  KEYS_RATE_LIMITED: { status: 429, retryable: true, message: 'Too many key requests; try again later' },
  KEYS_IDENTITY_MISMATCH: {
    status: 409,
    retryable: false,
    message: 'This account has another identity key; link this device from one of your devices, or reset the identity',
  },
  // device linking (provisioning relay)
  LINK_CHANNEL_FULL: {
    status: 413,
    retryable: false,
    message: 'The link channel holds as much as it may; start linking again',
  },
  // attachments
  ATTACH_TOO_LARGE: { status: 413, retryable: false, message: 'Files may be at most 100 MB' },
  ATTACH_NOT_FOUND: {
    status: 404,
    retryable: false,
    message: 'The attachment is gone: it expired, or every device it was for has fetched it',
  },
  ATTACH_STORE_FULL: {
    status: 507,
    retryable: true,
    message: 'The server has no room for attachments now; try again later',
  },
  // encrypted backup (the server holds ciphertext and a verifier only)
  BACKUP_NOT_FOUND: { status: 404, retryable: false, message: 'This account has no backup' },
  BACKUP_WRONG_KEY: { status: 403, retryable: false, message: 'That recovery key does not open this backup' },
  BACKUP_RATE_LIMITED: {
    status: 429,
    retryable: true,
    message: 'Too many wrong recovery keys for this account; try again later',
  },
  BACKUP_TOO_LARGE: { status: 413, retryable: false, message: 'The backup would be larger than this server allows' },
  BACKUP_OTHER_WRITER: {
    status: 409,
    retryable: false,
    message: 'Another device of this account now writes the backup',
  },
  // users / presence
  USER_NOT_FOUND: { status: 404, retryable: false, message: 'No such user' },
  PRESENCE_FORBIDDEN: { status: 403, retryable: false, message: 'Presence is shared only with contacts' },
  // gateway / websocket
  GW_BAD_FRAME: { status: 400, retryable: false, message: 'The frame is not valid JSON or does not match its schema' },
  GW_UNKNOWN_FRAME: { status: 400, retryable: false, message: 'Unknown frame type' },
  GW_FRAME_TOO_LARGE: { status: 413, retryable: false, message: 'The frame is larger than the limit' },
  GW_RATE_LIMITED: { status: 429, retryable: true, message: 'Sending too fast; slow down' },
  GW_NOT_AUTHENTICATED: { status: 401, retryable: false, message: 'Send a hello frame with a valid token first' },
  GW_UNKNOWN_RECIPIENT: { status: 404, retryable: false, message: 'A recipient device does not exist' },
  GW_PUBLISH_FAILED: {
    status: 503,
    retryable: true,
    message: 'The message could not be stored; retry with the same id',
  },
  GW_NOT_READY: { status: 503, retryable: true, message: 'The gateway is not ready' },
  GW_TOO_MANY_SUBSCRIPTIONS: {
    status: 400,
    retryable: false,
    message: 'This connection follows the presence of as many users as it may',
  },
  GW_ORIGIN_FORBIDDEN: {
    status: 403,
    retryable: false,
    message: 'WebSocket connections are accepted only from the configured origins',
  },
} as const satisfies Record<string, { status: number; retryable: boolean; message: string }>;

export type ErrorCode = keyof typeof ErrorCodes;

/** The JSON shape of every error that crosses a wire (HTTP body, WS frame, NATS reply). */
export interface WireError {
  code: ErrorCode;
  message: string;
  /** Seconds to wait before retrying, for *_RATE_LIMITED. */
  retryAfter?: number;
}

export class HushError extends Error {
  override readonly name = 'HushError';
  readonly code: ErrorCode;
  readonly status: number;
  /** From the catalogue: may the same request be sent again after a backoff? */
  readonly retryable: boolean;
  readonly retryAfter: number | undefined;
  constructor(code: ErrorCode, message?: string, opts?: { cause?: unknown; retryAfter?: number }) {
    super(message ?? ErrorCodes[code].message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = ErrorCodes[code].status;
    this.retryable = ErrorCodes[code].retryable;
    this.retryAfter = opts?.retryAfter;
  }
  toWire(): WireError {
    const w: WireError = { code: this.code, message: this.message };
    if (this.retryAfter !== undefined) w.retryAfter = this.retryAfter;
    return w;
  }
  static fromWire(w: WireError): HushError {
    const code = (w.code in ErrorCodes ? w.code : 'INTERNAL') as ErrorCode;
    return new HushError(code, w.message, w.retryAfter === undefined ? undefined : { retryAfter: w.retryAfter });
  }
}

export function isHushError(e: unknown): e is HushError {
  return e instanceof HushError;
}

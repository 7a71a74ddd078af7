/**
 * The one error catalogue of the project. Codes are stable: clients switch on them,
 * so a code is never renamed or reused. `status` is the HTTP status the gateway answers with.
 */
export const ErrorCodes = {
  // generic
  VALIDATION_FAILED: { status: 400, message: 'The request does not match its schema' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  INTERNAL: { status: 500, message: 'Internal error' },
  UPSTREAM_UNAVAILABLE: { status: 503, message: 'A backing service did not answer' },
  // auth
  AUTH_INVALID_USERNAME: { status: 400, message: 'Usernames are 3-32 characters of a-z 0-9 _ .' },
  AUTH_WEAK_PASSWORD: { status: 400, message: 'Passwords need at least 8 characters' },
  AUTH_USERNAME_TAKEN: { status: 409, message: 'That username is taken' },
  AUTH_BAD_CREDENTIALS: { status: 401, message: 'Wrong username or password' },
  AUTH_RATE_LIMITED: { status: 429, message: 'Too many attempts; try again later' },
  AUTH_TOKEN_MISSING: { status: 401, message: 'A bearer token is required' },
  AUTH_TOKEN_INVALID: { status: 401, message: 'The token is not valid' },
  AUTH_TOKEN_EXPIRED: { status: 401, message: 'The token has expired' },
  AUTH_REFRESH_INVALID: { status: 401, message: 'The refresh token is not valid' },
  AUTH_REFRESH_REUSED: { status: 401, message: 'A refresh token was used twice; the device was signed out' },
  AUTH_DEVICE_REVOKED: { status: 401, message: 'This device was signed out' },
  AUTH_TOO_MANY_DEVICES: { status: 409, message: 'This account has the most devices allowed; sign one out first' },
  // keydir
  KEYS_MALFORMED: { status: 400, message: 'A key, signature or encoding is malformed' },
  KEYS_FORBIDDEN: { status: 403, message: 'A device may only write its own keys' },
  KEYS_NOT_FOUND: { status: 404, message: 'No keys for that user' },
  KEYS_STALE_DEVICE_LIST: { status: 409, message: 'The device list version must increase' },
  KEYS_TOO_MANY_PREKEYS: { status: 400, message: 'Too many one-time prekeys' },
  KEYS_RATE_LIMITED: { status: 429, message: 'Too many key requests; try again later' },
  // users / presence
  USER_NOT_FOUND: { status: 404, message: 'No such user' },
  PRESENCE_FORBIDDEN: { status: 403, message: 'Presence is shared only with contacts' },
  // gateway / websocket
  GW_BAD_FRAME: { status: 400, message: 'The frame is not valid JSON or does not match its schema' },
  GW_UNKNOWN_FRAME: { status: 400, message: 'Unknown frame type' },
  GW_FRAME_TOO_LARGE: { status: 413, message: 'The frame is larger than the limit' },
  GW_RATE_LIMITED: { status: 429, message: 'Sending too fast; slow down' },
  GW_NOT_AUTHENTICATED: { status: 401, message: 'Send a hello frame with a valid token first' },
  GW_UNKNOWN_RECIPIENT: { status: 404, message: 'A recipient device does not exist' },
  GW_PUBLISH_FAILED: { status: 503, message: 'The message could not be stored; retry with the same id' },
  GW_NOT_READY: { status: 503, message: 'The gateway is not ready' },
  GW_ORIGIN_FORBIDDEN: { status: 403, message: 'WebSocket connections are accepted only from the configured origins' },
} as const satisfies Record<string, { status: number; message: string }>;

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
  readonly retryAfter: number | undefined;
  constructor(code: ErrorCode, message?: string, opts?: { cause?: unknown; retryAfter?: number }) {
    super(message ?? ErrorCodes[code].message, opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.status = ErrorCodes[code].status;
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

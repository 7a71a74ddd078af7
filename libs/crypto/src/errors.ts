/**
 * One error class for the whole protocol, with a stable `code` callers switch on (as libsignal's
 * `SignalProtocolError` variants). These errors never cross the wire: they stay on the device, so
 * they are not part of @hush/protocol's HTTP error catalogue.
 */
export const CryptoErrorCodes = {
  E2E_BAD_SIGNATURE: 'A signature does not verify',
  E2E_BAD_KEY: 'A key has the wrong length or encoding',
  E2E_LOW_ORDER_KEY: 'An X25519 public key is of low order (all-zero shared secret)',
  E2E_BAD_BUNDLE: 'A key bundle or device list is malformed or inconsistent',
  E2E_UNKNOWN_DEVICE: 'A device is not in the signed device list',
  E2E_STALE_DEVICE_LIST: 'The device list is older than one already seen',
  E2E_DEVICE_LIST_CONFLICT: 'Two different device lists carry the same version (a forked or forged history)',
  E2E_NO_DEVICE_LIST: 'No signed device list is known for that account: fetch its keys first',
  E2E_DEVICE_REMOVED: "The device was removed from its account's signed device list",
  E2E_UNTRUSTED_IDENTITY: "The peer's identity key changed; it must be accepted explicitly",
  E2E_SESSION_NOT_FOUND: 'No session with that device',
  E2E_PREKEY_NOT_FOUND: 'The prekey a message refers to is unknown or already used',
  E2E_DUPLICATE_MESSAGE: 'This message was already decrypted',
  E2E_TOO_MANY_SKIPPED: 'Too many skipped messages in a chain or in total',
  E2E_DECRYPT_FAILED: 'The message does not authenticate',
  E2E_BAD_MESSAGE: 'The message is malformed',
  E2E_BAD_STATE: 'Stored state is malformed or of an unknown version',
  E2E_BAD_PADDING: 'The padding is malformed',
  E2E_NO_IDENTITY: 'This device has no identity or device keys yet',
  E2E_UNSUPPORTED: 'The platform lacks a required primitive',
  E2E_GROUP_BAD_CREDENTIAL: "A group leaf is not bound to its account's identity key by a valid signed statement",
  E2E_GROUP_NOT_MEMBER: 'The sender of a group message is not (or no longer) a member of the group',
  E2E_GROUP_WRONG_EPOCH: 'A group handshake message is for another epoch than the current one',
  E2E_GROUP_REJECTED: 'The MLS library refused a group message, key package or welcome',
} as const;

export type CryptoErrorCode = keyof typeof CryptoErrorCodes;

export class CryptoError extends Error {
  override readonly name = 'CryptoError';
  readonly code: CryptoErrorCode;
  /** Extra facts for the caller (e.g. the new identity key on E2E_UNTRUSTED_IDENTITY). */
  readonly details: Record<string, unknown> | undefined;
  constructor(code: CryptoErrorCode, message?: string, opts?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message ?? CryptoErrorCodes[code], opts?.cause === undefined ? undefined : { cause: opts.cause });
    this.code = code;
    this.details = opts?.details;
  }
}

export function isCryptoError(e: unknown, code?: CryptoErrorCode): e is CryptoError {
  return e instanceof CryptoError && (code === undefined || e.code === code);
}

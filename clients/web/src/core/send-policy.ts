import { isHushError, isRetryableCode } from '@hush/protocol';
import type { Conversation } from './model.js';

/**
 * What to do when the gateway refused or did not answer a send (the outbox's decision, kept pure
 * so it is unit-tested without a socket):
 * - `retry`: keep the message queued and send the same frame again on the next connect: network
 *   trouble, codes the protocol's catalogue marks `retryable` (rate limits, server errors: the
 *   one retry policy of @hush/protocol), and auth refusals (401), which the session layer settles
 *   by refreshing the token or asking to sign in again;
 * - `refetch-keys`: the peer's device list changed (GW_UNKNOWN_RECIPIENT): fetch and verify their
 *   bundle again and re-encrypt for the current devices;
 * - `fail`: the request itself is wrong (other 4xx): the message is marked "Not sent".
 */
export type SendErrorAction = 'retry' | 'refetch-keys' | 'fail';

export function classifySendError(e: unknown): SendErrorAction {
  if (!isHushError(e)) return 'retry';
  if (e.code === 'GW_UNKNOWN_RECIPIENT') return 'refetch-keys';
  return isRetryableCode(e.code) || e.status === 401 ? 'retry' : 'fail';
}

/**
 * A key-bundle fetch that failed: `retry` for trouble that passes (network, retryable codes, auth);
 * `not-registered` when the account exists but has no keys yet (KEYS_NOT_FOUND: it registered a
 * moment ago and its first device has not published them): red for now, looked up again while
 * the chat is open and on every send (KEY_WAIT_MS); otherwise the contact cannot be encrypted to
 * (a bundle that fails verification): red.
 */
export function classifyKeyFetchError(e: unknown): 'retry' | 'not-registered' | 'cannot-encrypt' {
  if (isHushError(e)) {
    if (e.code === 'KEYS_NOT_FOUND') return 'not-registered';
    return isRetryableCode(e.code) || e.status === 401 ? 'retry' : 'cannot-encrypt';
  }
  return e instanceof TypeError ? 'retry' : 'cannot-encrypt';
}

/** Said instead of the catalogue's "No keys for that user": nothing is wrong, it is early. */
export const NOT_REGISTERED = 'not registered yet: their keys are not published';

/**
 * Waits between looks at a not-yet-registered contact's keys while their chat is open: quick at
 * first (a registration finishes within seconds), then every 30 s; never a tight loop.
 */
export const KEY_WAIT_MS = [1_000, 2_000, 4_000, 8_000, 15_000, 30_000] as const;
export function keyWaitDelay(attempt: number): number {
  return KEY_WAIT_MS[Math.min(Math.max(0, attempt), KEY_WAIT_MS.length - 1)]!;
}

/**
 * Key-verification refusals from @hush/crypto (by their stable `code`; core does not import the
 * library), said as what they mean for the user: the server handed out keys that do not add up.
 */
const KEY_REFUSALS: Record<string, string> = {
  E2E_STALE_DEVICE_LIST:
    'The server sent an older list of their devices than one already seen here, as a server replaying old keys would.',
  E2E_DEVICE_LIST_CONFLICT: 'The server sent two different lists of their devices under the same version.',
  E2E_UNKNOWN_DEVICE: 'The server listed a device their identity never signed for.',
  E2E_BAD_SIGNATURE: 'Their keys are not signed by their identity key.',
  E2E_LOW_ORDER_KEY: 'Their keys include an unsafe key.',
  E2E_BAD_KEY: 'Their keys are malformed.',
  E2E_BAD_BUNDLE: 'Their keys are malformed.',
};

/** "45 seconds", "1 minute", "3 minutes" (rounded up: never tell someone to come back too early). */
export function waitWords(seconds: number): string {
  if (seconds < 60) {
    const s = Math.ceil(seconds);
    return `${s} second${s === 1 ? '' : 's'}`;
  }
  const m = Math.ceil(seconds / 60);
  return `${m} minute${m === 1 ? '' : 's'}`;
}

/** A sentence for the user; codes come from the protocol's catalogue. */
export function describe(e: unknown): string {
  if (isHushError(e)) {
    // Rate limits say how long to wait (the server's retryAfter, seconds).
    if (e.retryAfter !== undefined && e.retryAfter > 0)
      return `${e.message.replace(/[;.]?\s*try again later\.?$/i, '')}. Try again in ${waitWords(e.retryAfter)}.`;
    return e.message;
  }
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && KEY_REFUSALS[code]) return KEY_REFUSALS[code];
  if (e instanceof TypeError) return 'Cannot reach the server. Check your connection and try again.';
  if (e instanceof Error) return e.message;
  return 'Something went wrong.';
}

/** Why nothing was sent to a red conversation, and what the user can do. */
export function notSentNotice(c: Pick<Conversation, 'username' | 'keysMissing' | 'cannotEncrypt'>): string {
  return c.keysMissing
    ? `${c.username} is not registered yet (no keys published), so nothing was sent. Try again in a moment.`
    : `Cannot encrypt to ${c.username} (${c.cannotEncrypt ?? 'no keys yet'}), so nothing was sent.`;
}

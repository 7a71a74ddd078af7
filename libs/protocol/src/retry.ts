import { ErrorCodes } from './errors.js';
import { CloseCodes } from './ws.js';

/**
 * The one retry policy of the project: when a client sends a failed request again, how long it
 * waits, and what it does after the gateway closes its socket. `@hush/client`, the web client and
 * the fault-test client all use these functions, so they act the same way on the same answer.
 */

export interface RetryPolicy {
  /** First backoff cap in ms; the cap doubles per attempt up to maxBackoffMs. */
  minBackoffMs: number;
  maxBackoffMs: number;
  /** How many times one request (a `send` frame, an HTTP call) is sent again before it fails. */
  maxRetries: number;
}

/**
 * Defaults: a first retry within 250 ms (a gateway restart or a JetStream leader change is over
 * that fast), a 30 s cap so a long outage costs each client one attempt per ~30 s, and 5 retries
 * (about 8 s of trying) before a send is reported as failed and left to the app's outbox.
 */
export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  minBackoffMs: 250,
  maxBackoffMs: 30_000,
  maxRetries: 5,
});

/**
 * Exponential backoff with "full jitter" (a uniform wait between 0 and min(max, min·2^attempt)),
 * which spreads a crowd of clients reconnecting after a gateway restart better than equal or
 * decorrelated jitter (AWS Architecture Blog, "Exponential Backoff and Jitter", 2015).
 * `attempt` counts from 0. `random` returns [0, 1) and is a parameter so tests are deterministic.
 */
export function backoffDelay(
  attempt: number,
  policy: Pick<RetryPolicy, 'minBackoffMs' | 'maxBackoffMs'> = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number {
  const exp = Math.min(Math.max(0, attempt), 30); // 2^30 already exceeds any cap
  const cap = Math.min(policy.maxBackoffMs, policy.minBackoffMs * 2 ** exp);
  return Math.floor(random() * cap);
}

/** Whether the catalogue marks this code retryable. Codes this build does not know are not. */
export function isRetryableCode(code: string): boolean {
  return Object.hasOwn(ErrorCodes, code) && ErrorCodes[code as keyof typeof ErrorCodes].retryable;
}

/**
 * How long to wait before sending a failed request again, or null when it must not be sent again:
 * the code is not retryable, or `retries` (how many times it was already sent again) reached the
 * policy's limit. A server-given `retryAfter` (seconds, rate limits) wins over the backoff.
 */
export function retryDelay(
  error: { code: string; retryAfter?: number | undefined },
  retries: number,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  random: () => number = Math.random,
): number | null {
  if (!isRetryableCode(error.code) || retries >= policy.maxRetries) return null;
  if (error.retryAfter !== undefined && error.retryAfter >= 0) return error.retryAfter * 1000;
  return backoffDelay(retries, policy, random);
}

/** The ranges `closeAction` reads; every code in `CloseCodes` lies in one of them. */
export const CloseCodeRanges = {
  reconnect: [4000, 4099],
  refresh: [4100, 4199],
  terminal: [4400, 4499],
} as const satisfies Record<string, readonly [number, number]>;

/**
 * What a client does after its socket closed with `code`:
 * - `reconnect`: with backoff (`backoffDelay`); 4000–4099 and transport codes (1xxx, e.g. 1006 when
 *   the connection dropped, 1001 when the server went away, 1009 for an over-large frame).
 * - `refresh`: get a new access token, then reconnect at once; 4100–4199.
 * - `stop`: do not reconnect by itself; it needs user action or a new sign-in; 4400–4499.
 * Codes outside these ranges (from a newer server) reconnect with backoff: the backoff bounds the cost.
 */
export type CloseAction = 'reconnect' | 'refresh' | 'stop';

export function closeAction(code: number): CloseAction {
  if (code >= CloseCodeRanges.terminal[0] && code <= CloseCodeRanges.terminal[1]) return 'stop';
  if (code >= CloseCodeRanges.refresh[0] && code <= CloseCodeRanges.refresh[1]) return 'refresh';
  return 'reconnect';
}

/** Kept for callers that only ask "may I reconnect?" (true for `reconnect` and `refresh`). */
export const isRetryableClose = (code: number): boolean => closeAction(code) !== 'stop';

/**
 * Close codes after which the gateway itself is the likely problem (it shut down, crashed, or
 * stopped answering), so a client with several gateway URLs tries the next one.
 */
export function closeMovesGateway(code: number): boolean {
  return code === 1001 || code === 1006 || code === CloseCodes.SERVER_SHUTDOWN || code === CloseCodes.HEARTBEAT_TIMEOUT;
}

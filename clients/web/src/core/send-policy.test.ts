import { ErrorCodes, HushError } from '@hush/protocol';
import { describe, expect, it } from 'vitest';
import { classifyKeyFetchError, classifySendError, keyWaitDelay, describe as sentence } from './send-policy.js';

describe('send error classification', () => {
  it('re-fetches keys when the gateway does not know a recipient device', () => {
    expect(classifySendError(new HushError('GW_UNKNOWN_RECIPIENT'))).toBe('refetch-keys');
  });
  it('retries on network trouble, rate limits, expired tokens and server errors', () => {
    expect(classifySendError(new Error('offline'))).toBe('retry');
    expect(classifySendError(new TypeError('fetch failed'))).toBe('retry');
    for (const code of ['GW_RATE_LIMITED', 'AUTH_TOKEN_EXPIRED', 'INTERNAL'] as const) {
      const e = new HushError(code);
      expect([e.status, classifySendError(e)]).toEqual([e.status, 'retry']);
    }
  });
  it('follows the catalogue’s retryable flag for every code', () => {
    for (const code of Object.keys(ErrorCodes) as (keyof typeof ErrorCodes)[]) {
      const e = new HushError(code);
      const expected =
        code === 'GW_UNKNOWN_RECIPIENT'
          ? 'refetch-keys'
          : ErrorCodes[code].retryable || e.status === 401
            ? 'retry'
            : 'fail';
      expect([code, classifySendError(e)]).toEqual([code, expected]);
    }
  });
  it('fails a message the gateway refuses as malformed', () => {
    const e = new HushError('VALIDATION_FAILED');
    expect(e.status).toBe(400);
    expect(classifySendError(e)).toBe('fail');
  });
});

describe('key fetch error classification', () => {
  it('retries what passes, waits for keys not published yet, and turns the rest into "cannot encrypt"', () => {
    expect(classifyKeyFetchError(new TypeError('fetch failed'))).toBe('retry');
    expect(classifyKeyFetchError(new HushError('INTERNAL'))).toBe('retry');
    expect(classifyKeyFetchError(new HushError('KEYS_RATE_LIMITED'))).toBe('retry');
    expect(classifyKeyFetchError(new HushError('AUTH_TOKEN_EXPIRED'))).toBe('retry');
    // The account exists, its first device has not published keys yet: not an error, early.
    expect(classifyKeyFetchError(new HushError('KEYS_NOT_FOUND'))).toBe('not-registered');
    expect(classifyKeyFetchError(new HushError('VALIDATION_FAILED'))).toBe('cannot-encrypt');
    expect(classifyKeyFetchError(new Error('E2E_BAD_SIGNATURE'))).toBe('cannot-encrypt');
  });
  it('looks again for missing keys after 1, 2, 4, 8, 15 s, then every 30 s', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 50].map(keyWaitDelay)).toEqual([
      1_000, 2_000, 4_000, 8_000, 15_000, 30_000, 30_000, 30_000,
    ]);
  });
  it('says what went wrong in a sentence', () => {
    expect(sentence(new TypeError('x'))).toMatch(/Cannot reach the server/);
    expect(sentence('?')).toBe('Something went wrong.');
    // A key-directory refusal from @hush/crypto, said in words rather than "version 2 < 3".
    const stale = Object.assign(new Error('Device list version 2 < 3'), { code: 'E2E_STALE_DEVICE_LIST' });
    expect(sentence(stale)).toMatch(/older list of their devices than one already seen/);
  });

  it('says how long to wait when rate-limited', () => {
    expect(sentence(new HushError('AUTH_RATE_LIMITED', undefined, { retryAfter: 90 }))).toBe(
      'Too many attempts. Try again in 2 minutes.',
    );
    expect(sentence(new HushError('AUTH_RATE_LIMITED', undefined, { retryAfter: 1 }))).toBe(
      'Too many attempts. Try again in 1 second.',
    );
    expect(sentence(new HushError('AUTH_RATE_LIMITED'))).toBe('Too many attempts; try again later');
  });
});

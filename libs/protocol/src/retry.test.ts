import { describe, expect, it } from 'vitest';
import { ErrorCodes } from './errors.js';
import {
  backoffDelay,
  CloseCodeRanges,
  closeAction,
  closeMovesGateway,
  DEFAULT_RETRY_POLICY,
  isRetryableCode,
  retryDelay,
} from './retry.js';
import { CloseCodes } from './ws.js';

const inRange = (code: number, [lo, hi]: readonly [number, number]) => code >= lo && code <= hi;

describe('close codes', () => {
  it('puts every declared close code in exactly one range', () => {
    for (const [name, code] of Object.entries(CloseCodes)) {
      const ranges = Object.entries(CloseCodeRanges).filter(([, r]) => inRange(code, r));
      expect(
        ranges.map(([r]) => r),
        name,
      ).toHaveLength(1);
    }
  });

  it('tells a client to stop after being replaced, revoked, unauthorised or timed out at hello', () => {
    for (const code of [CloseCodes.REPLACED, CloseCodes.REVOKED, CloseCodes.UNAUTHORIZED, CloseCodes.HELLO_TIMEOUT]) {
      expect(closeAction(code)).toBe('stop');
    }
  });

  it('tells a client to refresh its token after TOKEN_EXPIRED and to reconnect after transient closes', () => {
    expect(closeAction(CloseCodes.TOKEN_EXPIRED)).toBe('refresh');
    for (const code of [CloseCodes.SERVER_SHUTDOWN, CloseCodes.HEARTBEAT_TIMEOUT, CloseCodes.UPSTREAM_LOST]) {
      expect(closeAction(code)).toBe('reconnect');
    }
    for (const code of [1001, 1006, 1009, 1011]) expect(closeAction(code)).toBe('reconnect');
  });

  it('moves to another gateway only when the gateway itself went away', () => {
    expect(closeMovesGateway(1006)).toBe(true);
    expect(closeMovesGateway(CloseCodes.SERVER_SHUTDOWN)).toBe(true);
    expect(closeMovesGateway(CloseCodes.UPSTREAM_LOST)).toBe(false);
    expect(closeMovesGateway(CloseCodes.REPLACED)).toBe(false);
  });
});

describe('retry policy', () => {
  it('marks only transient failures, rate limits and a full store retryable', () => {
    const retryable = Object.entries(ErrorCodes)
      .filter(([, v]) => v.retryable)
      .map(([k]) => k)
      .sort();
    expect(retryable).toEqual([
      'ATTACH_STORE_FULL',
      'AUTH_RATE_LIMITED',
      'BACKUP_RATE_LIMITED',
      'GW_NOT_READY',
      'GW_PUBLISH_FAILED',
      'GW_RATE_LIMITED',
      'INTERNAL',
      'KEYS_RATE_LIMITED',
      'UPSTREAM_UNAVAILABLE',
    ]);
    expect(isRetryableCode('GW_PUBLISH_FAILED')).toBe(true);
    expect(isRetryableCode('GW_UNKNOWN_RECIPIENT')).toBe(false);
    expect(isRetryableCode('SOMETHING_NEWER')).toBe(false);
    expect(isRetryableCode('toString')).toBe(false);
  });

  it('draws the backoff uniformly below a cap that doubles per attempt up to the maximum', () => {
    const p = { minBackoffMs: 100, maxBackoffMs: 1_000 };
    expect(backoffDelay(0, p, () => 0.999)).toBe(99);
    expect(backoffDelay(2, p, () => 0.5)).toBe(200);
    expect(backoffDelay(10, p, () => 0.999)).toBe(999);
    expect(backoffDelay(1_000, p, () => 0.999)).toBe(999);
    expect(backoffDelay(3, p, () => 0)).toBe(0);
  });

  it('retries a retryable code within the attempt limit, honouring retryAfter', () => {
    const p = { ...DEFAULT_RETRY_POLICY, maxRetries: 2 };
    expect(retryDelay({ code: 'GW_RATE_LIMITED', retryAfter: 3 }, 0, p)).toBe(3_000);
    expect(retryDelay({ code: 'GW_PUBLISH_FAILED' }, 1, p, () => 0.5)).toBe(250);
    expect(retryDelay({ code: 'GW_PUBLISH_FAILED' }, 2, p)).toBeNull();
    expect(retryDelay({ code: 'GW_UNKNOWN_RECIPIENT' }, 0, p)).toBeNull();
  });
});

import { randomBytes } from 'node:crypto';
import { HushError } from '@hush/protocol';
import { describe, expect, it } from 'vitest';
import { checkB64, PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './validate.js';

const code = (f: () => void) => {
  try {
    f();
    return 'ok';
  } catch (e) {
    return e instanceof HushError ? e.code : 'other';
  }
};

describe('key encoding checks', () => {
  it('accepts canonical base64 of exactly the expected length', () => {
    expect(code(() => checkB64('k', randomBytes(32).toString('base64'), PUBLIC_KEY_BYTES))).toBe('ok');
    expect(code(() => checkB64('s', randomBytes(64).toString('base64'), SIGNATURE_BYTES))).toBe('ok');
  });

  it('refuses one byte too few or too many', () => {
    expect(code(() => checkB64('k', randomBytes(31).toString('base64'), 32))).toBe('KEYS_MALFORMED');
    expect(code(() => checkB64('k', randomBytes(33).toString('base64'), 32))).toBe('KEYS_MALFORMED');
  });

  it('refuses a second spelling of the same bytes (non-zero padding bits)', () => {
    const canonical = Buffer.alloc(32).toString('base64'); // 'AAAA…A='
    const other = `${canonical.slice(0, 42)}B=`;
    expect(Buffer.from(other, 'base64').equals(Buffer.alloc(32))).toBe(true);
    expect(code(() => checkB64('k', other, 32))).toBe('KEYS_MALFORMED');
  });

  it('refuses base64url and names the field', () => {
    const raw = Buffer.from(Array.from({ length: 32 }, (_, i) => 250 + (i % 6)));
    expect(() => checkB64('deviceKey.publicKey', raw.toString('base64url'), 32)).toThrow(/deviceKey\.publicKey/);
  });
});

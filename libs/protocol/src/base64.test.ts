import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { base64Bytes, fromBase64, toBase64 } from './base64.js';
import { BASE64_PATTERN } from './ids.js';

describe('base64', () => {
  it("matches Node's encoder and the wire pattern, and round-trips, at every length up to 70 and at 3 MB", () => {
    const pattern = new RegExp(BASE64_PATTERN);
    for (const n of [...Array.from({ length: 71 }, (_, i) => i), 3 * 1024 * 1024 + 1]) {
      const bytes = new Uint8Array(randomBytes(n));
      const s = toBase64(bytes);
      expect(s).toBe(Buffer.from(bytes).toString('base64'));
      if (n < 100) expect(pattern.test(s)).toBe(true);
      // Compared as buffers: toEqual walks a 3 MB array element by element (17 s on a loaded CI).
      expect(Buffer.from(fromBase64(s)).equals(bytes)).toBe(true);
      expect(base64Bytes(s)).toBe(n);
    }
  });

  it('refuses malformed and non-canonical input with VALIDATION_FAILED', () => {
    for (const bad of ['QQ', 'QR==', 'QUJ=', 'Q===', 'QU$D', 'QUJD=', 'Q=JD', 'QUJD\n', '====']) {
      expect(() => fromBase64(bad), bad).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
    expect(fromBase64('')).toEqual(new Uint8Array(0));
  });
});

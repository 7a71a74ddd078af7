import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PLAINTEXT_BYTES } from './constants.js';
import { fromBase64, toBase64 } from './encoding.js';
import { pad, paddedLength, unpad } from './padding.js';

describe('padding', () => {
  it('round-trips any plaintext and hides its length inside a bucket', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (p) => {
        const padded = pad(p);
        expect(padded.length).toBe(paddedLength(p.length));
        expect([256, 512, 1024, 2048, 4096]).toContain(padded.length);
        expect(unpad(padded)).toEqual(p);
      }),
      { numRuns: 200 },
    );
  });

  it('gives every message of up to 255 bytes the same length', () => {
    expect(pad(new Uint8Array(0)).length).toBe(256);
    expect(pad(new Uint8Array(255)).length).toBe(256);
    expect(pad(new Uint8Array(256)).length).toBe(512);
  });

  it('refuses malformed padding and oversize plaintext with typed errors', () => {
    expect(() => unpad(new Uint8Array(256))).toThrow(expect.objectContaining({ code: 'E2E_BAD_PADDING' }));
    expect(() => unpad(new Uint8Array(100))).toThrow(expect.objectContaining({ code: 'E2E_BAD_PADDING' }));
    expect(() => pad(new Uint8Array(MAX_PLAINTEXT_BYTES + 1))).toThrow(
      expect.objectContaining({ code: 'E2E_BAD_PADDING' }),
    );
  });
});

describe('base64', () => {
  it('round-trips and matches the platform encoder', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (b) => {
        const s = toBase64(b);
        expect(s).toBe(btoa(String.fromCharCode(...b)));
        expect(fromBase64(s)).toEqual(b);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses non-canonical and malformed input', () => {
    for (const bad of ['QQ', 'QR==', 'QUJ=', 'Q===', 'QU$D', 'QUJD=']) {
      expect(() => fromBase64(bad), bad).toThrow(expect.objectContaining({ code: 'E2E_BAD_KEY' }));
    }
  });
});

import * as S from '@signalapp/libsignal-client';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concat, utf8 } from './encoding.js';
import { compareQrPayload, fingerprintDigits, qrPayload, safetyNumber } from './safety-number.js';
import { iteratedSha512, iteratedSha512Portable, sha512Engine } from './sha512.js';

type B = Uint8Array<ArrayBuffer>;

const hexToBytes = (h: string) => Uint8Array.from(h.match(/../g)!, (x) => Number.parseInt(x, 16));

describe('safety numbers', () => {
  it("match libsignal's published displayable-fingerprint vector (fingerprint.rs testVectorsVersion1)", () => {
    // Signal's 33-byte key encodings and phone-number stable ids, 5200 iterations.
    const alice = hexToBytes('0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868');
    const bob = hexToBytes('05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b');
    const a = fingerprintDigits(alice, utf8('+14152222222'));
    const b = fingerprintDigits(bob, utf8('+14153333333'));
    expect(a <= b ? a + b : b + a).toBe('300354477692869396892869876765458257569162576843440918079131');
  });

  it("match libsignal's displayable fingerprint for the same key bytes and ids", () => {
    for (let i = 0; i < 3; i++) {
      const a = S.PrivateKey.generate().getPublicKey();
      const b = S.PrivateKey.generate().getPublicKey();
      const aId = utf8(`alice-${i}`) as B;
      const bId = utf8(`bob-${i}`) as B;
      const theirs = S.Fingerprint.new(5200, 2, aId, a, bId, b).displayableFingerprint().toString();
      // Signal hashes its 33-byte key encoding (0x05 ‖ key); feed ours the same bytes.
      const x = fingerprintDigits(a.serialize(), aId);
      const y = fingerprintDigits(b.serialize(), bId);
      expect(x <= y ? x + y : y + x).toBe(theirs);
    }
  });

  it('are 60 digits, the same for both sides, and change when a key changes', () => {
    const ka = new Uint8Array(32).fill(1);
    const kb = new Uint8Array(32).fill(2);
    const ab = safetyNumber({ stableId: 'alice', identityKey: ka }, { stableId: 'bob', identityKey: kb });
    const ba = safetyNumber({ stableId: 'bob', identityKey: kb }, { stableId: 'alice', identityKey: ka });
    expect(ab).toMatch(/^\d{60}$/);
    expect(ba).toBe(ab);
    const changed = safetyNumber(
      { stableId: 'alice', identityKey: ka },
      { stableId: 'bob', identityKey: new Uint8Array(32).fill(3) },
    );
    expect(changed).not.toBe(ab);
    expect(changed.slice(0, 30) === ab.slice(0, 30) || changed.slice(30) === ab.slice(30)).toBe(true);
  });

  it('use a WebAssembly SHA-512 loop that gives the same bytes as the portable one', () => {
    expect(sha512Engine()).toBe('wasm');
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.uint8Array({ minLength: 32, maxLength: 32 }),
        fc.integer({ min: 1, max: 40 }),
        (start, key, n) => {
          expect(iteratedSha512(start, key, n)).toEqual(iteratedSha512Portable(start, key, n));
        },
      ),
      { numRuns: 60 },
    );
    const k = new Uint8Array(32).fill(9);
    expect(iteratedSha512(concat(new Uint8Array(2), k), k, 5200)).toEqual(
      iteratedSha512Portable(concat(new Uint8Array(2), k), k, 5200),
    );
  });
});

describe('QR payloads', () => {
  const alice = { stableId: 'aliceuser01', identityKey: new Uint8Array(32).fill(1) };
  const bob = { stableId: 'bobuser0001', identityKey: new Uint8Array(32).fill(2) };

  it("match when Bob scans Alice's code and both see the same keys", () => {
    expect(compareQrPayload(qrPayload(alice, bob), bob, alice)).toBe('match');
    expect(compareQrPayload(qrPayload(bob, alice), alice, bob)).toBe('match');
  });

  it('mismatch when either key differs (a man in the middle)', () => {
    const mallory = { ...alice, identityKey: new Uint8Array(32).fill(6) };
    expect(compareQrPayload(qrPayload(mallory, bob), bob, alice)).toBe('mismatch');
    expect(compareQrPayload(qrPayload(alice, { ...bob, identityKey: new Uint8Array(32).fill(7) }), bob, alice)).toBe(
      'mismatch',
    );
    expect(compareQrPayload(new Uint8Array([1, 2, 3]), bob, alice)).toBe('mismatch');
  });

  it('report a payload of another version as wrong-version', () => {
    const p = qrPayload(alice, bob);
    p[6] = 9;
    expect(compareQrPayload(p, bob, alice)).toBe('wrong-version');
  });
});

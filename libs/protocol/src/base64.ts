import { HushError } from './errors.js';

/**
 * The project's one base64: standard alphabet with padding (RFC 4648 §4), the wire's
 * BASE64_PATTERN. Built on the platform's btoa/atob (Node 20 and every browser), without Node's
 * Buffer, so libs/crypto, the web client and the services share it.
 */
export function toBase64(bytes: Uint8Array): string {
  let bin = '';
  const CHUNK = 0x8000; // keeps String.fromCharCode's argument count bounded
  for (let i = 0; i < bytes.length; i += CHUNK) bin += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(bin);
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * Strict decoder: refuses characters outside the alphabet, missing or misplaced padding, and
 * non-zero bits after the last byte (a second spelling of the same bytes). Throws
 * VALIDATION_FAILED; callers with their own error code (libs/crypto) translate it.
 */
export function fromBase64(s: string): Uint8Array {
  if (typeof s !== 'string' || s.length % 4 !== 0 || /[^A-Za-z0-9+/=]/.test(s)) {
    throw new HushError('VALIDATION_FAILED', 'Malformed base64');
  }
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const firstPad = s.indexOf('=');
  if (firstPad !== -1 && firstPad < s.length - pad) throw new HushError('VALIDATION_FAILED', 'Malformed base64');
  if (pad > 0) {
    const last = B64.indexOf(s[s.length - pad - 1]!);
    if ((pad === 1 && (last & 3) !== 0) || (pad === 2 && (last & 15) !== 0)) {
      throw new HushError('VALIDATION_FAILED', 'Non-canonical base64');
    }
  }
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

/** Decoded byte length of a base64 string, without decoding it. */
export function base64Bytes(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

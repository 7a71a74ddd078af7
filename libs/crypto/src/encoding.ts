/** Byte helpers with no Node-only APIs (no Buffer), so the same code runs in browsers. */
import { fromBase64 as decodeBase64, toBase64 } from '@hush/protocol';
import { CryptoError } from './errors.js';

/** Standard base64 with padding: the project's one implementation, in @hush/protocol. */
export { toBase64 };

/** Strict decoder (see @hush/protocol's fromBase64), failing with this library's error code. */
export function fromBase64(s: string): Uint8Array {
  try {
    return decodeBase64(s);
  } catch (e) {
    throw new CryptoError('E2E_BAD_KEY', e instanceof Error ? e.message : 'Malformed base64');
  }
}

export function toHex(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(16).padStart(2, '0');
  return s;
}

export function fromHex(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new CryptoError('E2E_BAD_KEY', 'Malformed hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });
export const utf8 = (s: string): Uint8Array => te.encode(s);
export const fromUtf8 = (b: Uint8Array): string => td.decode(b);

export function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Constant-time for equal lengths (the lengths themselves are public). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}

export function u32be(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n >>> 0, false);
  return b;
}

/** Unsigned 64-bit big-endian of a safe integer (timestamps, versions). */
export function u64be(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new CryptoError('E2E_BAD_BUNDLE', 'Integer out of range');
  const b = new Uint8Array(8);
  const dv = new DataView(b.buffer);
  dv.setUint32(0, Math.floor(n / 2 ** 32), false);
  dv.setUint32(4, n >>> 0, false);
  return b;
}

/** Length-prefixed (u16) UTF-8 string, so concatenated fields cannot be confused with each other. */
export function lpString(s: string): Uint8Array {
  const b = utf8(s);
  if (b.length > 0xffff) throw new CryptoError('E2E_BAD_BUNDLE', 'String too long');
  return concat(new Uint8Array([b.length >> 8, b.length & 255]), b);
}

export function checkLength(name: string, b: unknown, len: number): Uint8Array {
  if (!(b instanceof Uint8Array) || b.length !== len) {
    throw new CryptoError('E2E_BAD_KEY', `${name} must be ${len} bytes`);
  }
  return b;
}

/** Decodes a base64 field and checks its exact length, naming the field in the error. */
export function b64Field(name: string, s: string, len: number): Uint8Array {
  let b: Uint8Array;
  try {
    b = fromBase64(s);
  } catch (e) {
    throw new CryptoError('E2E_BAD_KEY', `${name} is not valid base64`, { cause: e });
  }
  return checkLength(name, b, len);
}

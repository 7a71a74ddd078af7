/** Byte helpers with no Node-only APIs (no Buffer), so the same code runs in browsers. */
import { CryptoError } from './errors.js';

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Standard base64 with padding (RFC 4648 §4), as the wire contract in @hush/protocol uses. */
export function toBase64(bytes: Uint8Array): string {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}==`;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}${B64[(n >> 6) & 63]!}=`;
  }
  return out;
}

/** Strict decoder: refuses bad characters, missing padding and non-zero trailing bits (non-canonical). */
export function fromBase64(s: string): Uint8Array {
  if (typeof s !== 'string' || s.length % 4 !== 0) throw new CryptoError('E2E_BAD_KEY', 'Malformed base64');
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  const out = new Uint8Array((s.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < s.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = s.charCodeAt(i + j);
      const last = i + 4 === s.length;
      if (c === 61 && last && j >= 4 - pad) {
        n <<= 6;
        continue;
      }
      const v = c < 128 ? B64_INDEX[c]! : -1;
      if (v < 0) throw new CryptoError('E2E_BAD_KEY', 'Malformed base64');
      n = (n << 6) | v;
    }
    if (o < out.length) out[o++] = n >> 16;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    if (o < out.length) out[o++] = n & 255;
    if (i + 4 === s.length && ((pad === 1 && (n & 0xff) !== 0) || (pad === 2 && (n & 0xffff) !== 0))) {
      throw new CryptoError('E2E_BAD_KEY', 'Non-canonical base64');
    }
  }
  return out;
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

/** Standard base64 with padding (the wire's BASE64_PATTERN), without Node's Buffer. */
export function toB64(bytes: Uint8Array): string {
  let s = '';
  const CHUNK = 0x8000; // keep String.fromCharCode's argument count bounded
  for (let i = 0; i < bytes.length; i += CHUNK) s += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(s);
}
export function fromB64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
/** Decoded byte length of a base64 string, without decoding it. */
export function b64Bytes(s: string): number {
  const pad = s.endsWith('==') ? 2 : s.endsWith('=') ? 1 : 0;
  return (s.length / 4) * 3 - pad;
}

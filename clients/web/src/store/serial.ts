import { fromB64, toB64 } from '../core/b64.js';

/**
 * JSON that keeps Uint8Array values (keys, ratchet state) intact: they become {"$u8": base64}.
 * Used for every record the vault encrypts, so the crypto library's state objects can be stored
 * without knowing their shape.
 */
export function serialize(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v instanceof Uint8Array) return { $u8: toB64(v) };
    return v;
  });
}

export function deserialize<T>(text: string): T {
  return JSON.parse(text, (_k, v: unknown) => {
    if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
      const o = v as Record<string, unknown>;
      const keys = Object.keys(o);
      if (keys.length === 1 && keys[0] === '$u8' && typeof o.$u8 === 'string') return fromB64(o.$u8);
    }
    return v;
  }) as T;
}

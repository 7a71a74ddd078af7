/**
 * Identifiers that appear in NATS subjects must be subject-safe tokens: no '.', '*', '>' or
 * whitespace. User and device ids are opaque random strings chosen by auth (never the username,
 * which may contain '.', and which we do not want to leak into broker subjects).
 */
export const USER_ID_PATTERN = '^[a-z0-9]{10,32}$';
export const DEVICE_ID_PATTERN = '^[a-z0-9]{6,32}$';
/** Client-chosen message ids: 8-64 url-safe characters (a UUID or 16 random bytes in base64url). */
export const MESSAGE_ID_PATTERN = '^[A-Za-z0-9_-]{8,64}$';
/** After lower-casing: 3-32 of a-z 0-9 _ . */
export const USERNAME_PATTERN = '^[a-z0-9_.]{3,32}$';
/** Standard base64 with padding. */
export const BASE64_PATTERN = '^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$';

const userRe = new RegExp(USER_ID_PATTERN);
const deviceRe = new RegExp(DEVICE_ID_PATTERN);
const usernameRe = new RegExp(USERNAME_PATTERN);
const messageRe = new RegExp(MESSAGE_ID_PATTERN);

export const isUserId = (s: unknown): s is string => typeof s === 'string' && userRe.test(s);
export const isDeviceId = (s: unknown): s is string => typeof s === 'string' && deviceRe.test(s);
export const isMessageId = (s: unknown): s is string => typeof s === 'string' && messageRe.test(s);

/** Lower-cases and checks a username; returns null when it breaks the rules. */
export function normaliseUsername(raw: string): string | null {
  const u = raw.normalize('NFKC').toLowerCase();
  return usernameRe.test(u) ? u : null;
}

/** Random lowercase base32-ish id from a CSPRNG (works in Node 20 and browsers). */
export function randomId(length = 20): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  const bytes = new Uint8Array(length);
  globalThis.crypto.getRandomValues(bytes);
  let out = '';
  for (const b of bytes) out += alphabet[b & 31];
  return out;
}

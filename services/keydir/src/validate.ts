import { HushError, type PublishKeysBody, type SignedDeviceList, type UploadPrekeysBody } from '@hush/protocol';

/** X25519 / Ed25519 public keys are 32 bytes (RFC 7748 §5, RFC 8032 §5.1.5). */
export const PUBLIC_KEY_BYTES = 32;
/** Ed25519 signatures are 64 bytes (RFC 8032 §5.1.6). */
export const SIGNATURE_BYTES = 64;

/**
 * The schema already bounds the characters and the length of each base64 string; this checks
 * what it cannot: the decoded length is exact and the encoding is canonical (re-encoding gives
 * the same text), so two spellings of one key cannot both exist. Names the field on failure.
 */
export function checkB64(field: string, value: string, bytes: number): void {
  const raw = Buffer.from(value, 'base64');
  if (raw.length !== bytes || raw.toString('base64') !== value) {
    throw new HushError('KEYS_MALFORMED', `${field} must be ${bytes} bytes in canonical base64`);
  }
}

export function checkDeviceList(field: string, l: SignedDeviceList): void {
  checkB64(`${field}.signature`, l.signature, SIGNATURE_BYTES);
}

type Prekeys = UploadPrekeysBody['oneTimePrekeys'];
export function checkOneTimePrekeys(field: string, list: Prekeys): void {
  list.forEach((k, i) => {
    checkB64(`${field}[${i}].publicKey`, k.publicKey, PUBLIC_KEY_BYTES);
    checkB64(`${field}[${i}].signature`, k.signature, SIGNATURE_BYTES);
  });
}

export function checkSignedPrekey(field: string, k: PublishKeysBody['signedPrekey']): void {
  checkB64(`${field}.publicKey`, k.publicKey, PUBLIC_KEY_BYTES);
  checkB64(`${field}.signature`, k.signature, SIGNATURE_BYTES);
}

export function checkPublishKeys(k: PublishKeysBody): void {
  checkB64('identityKey', k.identityKey, PUBLIC_KEY_BYTES);
  checkB64('deviceKey.publicKey', k.deviceKey.publicKey, PUBLIC_KEY_BYTES);
  checkB64('deviceKey.signature', k.deviceKey.signature, SIGNATURE_BYTES);
  checkSignedPrekey('signedPrekey', k.signedPrekey);
  checkOneTimePrekeys('oneTimePrekeys', k.oneTimePrekeys);
  checkDeviceList('deviceList', k.deviceList);
}

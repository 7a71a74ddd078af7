import { isHushError } from '@hush/protocol';
import type { ServerApi } from './ports.js';

/** Refusals that mean this device is signed out (not a passing network or server problem). */
const SIGNED_OUT_CODES = new Set([
  'AUTH_DEVICE_REVOKED',
  'AUTH_TOKEN_INVALID',
  'AUTH_TOKEN_MISSING',
  'AUTH_REFRESH_INVALID',
  'AUTH_REFRESH_REUSED',
]);

export const SIGNED_OUT_ELSEWHERE =
  'This device was signed out, from another of your devices or because its sign-in was used somewhere ' +
  'else. To keep them safe, its messages and keys were erased from this browser. Sign in to use Hush here again.';

export const ERASED =
  'Hush was erased from this browser: its messages and keys are gone. The device still shows in your ' +
  'account’s “Linked devices” until you sign it out there.';

/**
 * After a 4409 REPLACED close: either another window of this device took the connection over, or
 * the device was signed out and the gateway's "replaced" overtook its "revoked" (both close this
 * socket). One authenticated call tells them apart: a signed-out device is refused. Anything else
 * (a network error included) counts as "elsewhere": the user can still press "Use here".
 */
export async function whyReplaced(api: ServerApi): Promise<'signed-out' | 'elsewhere'> {
  try {
    await api.prekeyCount();
    return 'elsewhere';
  } catch (e) {
    return isHushError(e) && SIGNED_OUT_CODES.has(e.code) ? 'signed-out' : 'elsewhere';
  }
}

/** True when the key directory holds an identity for the account (it has a linked device). */
export async function accountHasIdentity(api: ServerApi, userId: string): Promise<boolean> {
  try {
    await api.fetchBundle(userId);
    return true;
  } catch (e) {
    if (isHushError(e) && e.code === 'KEYS_NOT_FOUND') return false;
    throw e;
  }
}

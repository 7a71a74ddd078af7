/**
 * When to replace the signed prekey (X3DH §4.2: "Bob will upload a new signed prekey … at some
 * interval (e.g. once a week, or once a month)"). Pure: the caller passes `now`, and calls
 * maintainSignedPrekey on start and then at `nextCheckAt` (or simply daily); a returned new key is
 * uploaded to keydir (UploadPrekeysBody.signedPrekey).
 */
import type { SignedPrekey } from '@hush/protocol';
import { SIGNED_PREKEY_GRACE_MS, SIGNED_PREKEY_ROTATION_MS } from './constants.js';
import { expiredSignedPrekeys, rotateSignedPrekey } from './keys.js';
import type { Primitives, RandomBytes } from './primitives/types.js';
import type { CryptoStore } from './storage/types.js';

export interface SignedPrekeySchedule {
  /** The key peers should use now (the newest), or null when there is none. */
  currentKeyId: number | null;
  /** True when the newest key is SIGNED_PREKEY_ROTATION_MS old (or there is none). */
  rotateNow: boolean;
  /** When the newest key falls due (ms), or `now` when it already has. */
  nextRotationAt: number;
  /** Replaced keys whose grace period is over: delete them. */
  expired: number[];
  /** The earliest moment anything here changes: the next rotation or the next expiry. */
  nextCheckAt: number;
}

export async function signedPrekeySchedule(store: CryptoStore, now: number): Promise<SignedPrekeySchedule> {
  const records = (await store.listSignedPrekeys()).sort((a, b) => a.createdAt - b.createdAt || a.keyId - b.keyId);
  const newest = records.at(-1);
  const nextRotationAt = newest ? Math.max(now, newest.createdAt + SIGNED_PREKEY_ROTATION_MS) : now;
  const expired = expiredSignedPrekeys(records, now);
  // The next expiry: the oldest key still kept was replaced at the createdAt of the key after it.
  const kept = records.filter((r) => !expired.includes(r.keyId));
  const nextExpiry = kept.length > 1 ? kept[1]!.createdAt + SIGNED_PREKEY_GRACE_MS : Number.POSITIVE_INFINITY;
  return {
    currentKeyId: newest?.keyId ?? null,
    rotateNow: !newest || now >= newest.createdAt + SIGNED_PREKEY_ROTATION_MS,
    nextRotationAt,
    expired,
    nextCheckAt: Math.min(nextRotationAt, nextExpiry),
  };
}

/**
 * Rotates the signed prekey when due and deletes replaced keys past their grace period. Returns
 * the new key to upload (or null) and the ids deleted.
 */
export async function maintainSignedPrekey(
  prims: Primitives,
  store: CryptoStore,
  opts: { randomBytes: RandomBytes; now: number },
): Promise<{ rotated: SignedPrekey | null; removed: number[]; nextCheckAt: number }> {
  const before = await signedPrekeySchedule(store, opts.now);
  const rotated = before.rotateNow
    ? await rotateSignedPrekey(prims, store, { randomBytes: opts.randomBytes, now: () => opts.now })
    : null;
  for (const id of before.expired) await store.removeSignedPrekey(id); // rotation may have done it already
  const after = await signedPrekeySchedule(store, opts.now);
  return { rotated, removed: before.expired, nextCheckAt: after.nextCheckAt };
}

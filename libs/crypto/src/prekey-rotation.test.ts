import { describe, expect, it } from 'vitest';
import { FakeKeyDir, makeDevice } from '../test/helpers.js';
import {
  createPrimitives,
  maintainSignedPrekey,
  SIGNED_PREKEY_GRACE_MS,
  SIGNED_PREKEY_ROTATION_MS,
  signedPrekeySchedule,
} from './index.js';

const prims = await createPrimitives();
const DAY = 24 * 3600 * 1000;

describe('signed prekey rotation', () => {
  it('is due a week after the newest key, and says when to look again', async () => {
    const b = await makeDevice(prims, new FakeKeyDir(), 'bobuser0001', 'bdev01');
    const t0 = (await b.store.getSignedPrekey(1))!.createdAt;
    expect(SIGNED_PREKEY_ROTATION_MS).toBe(7 * DAY);
    const early = await signedPrekeySchedule(b.store, t0 + DAY);
    expect(early).toMatchObject({ currentKeyId: 1, rotateNow: false, nextRotationAt: t0 + 7 * DAY, expired: [] });
    expect(early.nextCheckAt).toBe(t0 + 7 * DAY);
    expect(await signedPrekeySchedule(b.store, t0 + 7 * DAY)).toMatchObject({ rotateNow: true });
  });

  it('rotates when due and not before, keeps the old key for late first messages, then deletes it', async () => {
    const b = await makeDevice(prims, new FakeKeyDir(), 'bobuser0001', 'bdev01');
    const t0 = (await b.store.getSignedPrekey(1))!.createdAt;
    const run = (at: number) => maintainSignedPrekey(prims, b.store, { randomBytes: b.rng, now: at });
    expect(await run(t0 + 3 * DAY)).toMatchObject({ rotated: null, removed: [] });
    const r = await run(t0 + 8 * DAY);
    expect(r.rotated).toMatchObject({ keyId: 2, createdAt: t0 + 8 * DAY });
    // The replaced key stays until SIGNED_PREKEY_GRACE_MS after its replacement.
    expect(r.nextCheckAt).toBe(t0 + 15 * DAY);
    expect((await signedPrekeySchedule(b.store, t0 + 9 * DAY)).currentKeyId).toBe(2);
    await run(t0 + 15 * DAY); // key 3
    await run(t0 + 22 * DAY); // key 4
    await run(t0 + 29 * DAY); // key 5
    expect((await b.store.listSignedPrekeys()).map((k) => k.keyId).sort()).toEqual([1, 2, 3, 4, 5]);
    const late = await run(t0 + 8 * DAY + SIGNED_PREKEY_GRACE_MS);
    expect(late.removed).toEqual([1]);
    expect(await b.store.getSignedPrekey(1)).toBeUndefined();
    expect(await b.store.getSignedPrekey(2)).toBeDefined();
  });

  it('makes a first key when there is none', async () => {
    const b = await makeDevice(prims, new FakeKeyDir(), 'bobuser0001', 'bdev01');
    await b.store.removeSignedPrekey(1);
    expect(await signedPrekeySchedule(b.store, 5)).toMatchObject({ currentKeyId: null, rotateNow: true });
    expect((await maintainSignedPrekey(prims, b.store, { randomBytes: b.rng, now: 5 })).rotated).not.toBeNull();
  });
});

import { describe, expect, it } from 'vitest';
import { pair } from '../testing/engines.js';
import { settle } from '../testing/settle.js';
import { RETRY_ATTEMPTS } from './retries.js';

describe('retry requests in the engine', () => {
  it('asks the sender again for an envelope it cannot decrypt, and gets the message once over a fresh session', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    b.crypto.failDecrypts = 1; // Bob lost his session state
    await a.e.send(bobId, 'do not lose me');
    await settle(a.e, b.e);
    const id = a.e.state.messages[bobId]![0]!.id;
    expect(b.crypto.retryAsks).toEqual([
      { to: { user: aliceId, device: a.e.state.me!.deviceId }, messageId: id, attempt: 1 },
    ]);
    expect(b.e.state.messages[aliceId]!.map((m) => m.text)).toEqual(['do not lose me']);
    // The answer went out as a new frame (the gateway dedupes by frame id) carrying the same message.
    const frames = hub.sent.filter((f) => f.envelopes.some((e) => e.to.user === bobId));
    expect(new Set(frames.map((f) => f.id)).size).toBe(frames.length);
    expect(a.e.state.messages[bobId]![0]!.tick).toBe('delivered');
  });

  it('answers a retry request from an account it no longer knows (a restored store) after fetching its keys', async () => {
    const { a, b, bobId } = await pair();
    b.crypto.failDecrypts = 1;
    a.crypto.trusted.delete(bobId); // Alice's store was restored from before she ever talked to Bob
    await a.e.send(bobId, 'still arrives');
    await settle(a.e, b.e);
    expect(b.e.state.messages[a.e.state.me!.userId]!.map((m) => m.text)).toEqual(['still arrives']);
    expect(a.crypto.trusted.has(bobId)).toBe(true);
  });

  it('asks at most RETRY_ATTEMPTS times for a message whose answers keep failing, then gives up', async () => {
    const { a, b, bobId, aliceId } = await pair();
    b.crypto.failDecrypts = RETRY_ATTEMPTS + 1;
    await a.e.send(bobId, 'hard to reach');
    await settle(a.e, b.e);
    const id = a.e.state.messages[bobId]![0]!.id;
    expect(b.crypto.retryAsks.map((r) => [r.messageId, r.attempt])).toEqual(
      Array.from({ length: RETRY_ATTEMPTS }, (_, i) => [id, i + 1]),
    );
    // One "could not decrypt" entry, not one per failed copy.
    expect(b.e.state.messages[aliceId]!.map((m) => [m.id, m.undecryptable])).toEqual([[id, true]]);
    await a.e.send(bobId, 'next');
    await settle(a.e, b.e);
    expect(b.e.state.messages[aliceId]!.map((m) => m.text)).toEqual(['', 'next']);
  });
});

/**
 * Property tests (fast-check) of the whole session layer: random two-way conversations over a
 * network that reorders, loses and duplicates; the skipped-key bounds; and single-bit tampering.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPrimitives, isCryptoError } from '../src/index.js';
import { Conversation } from './conversation.js';

const prims = await createPrimitives();

const action = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ t: fc.constant('send' as const), who: fc.constantFrom('A' as const, 'B' as const) }),
  },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('deliver' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('drop' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('duplicate' as const), pick: fc.nat() }) },
);

describe('random conversations within the bounds', () => {
  it('decrypt every delivered message exactly once to the right plaintext, despite reordering, loss and duplication', async () => {
    let seed = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(action, { minLength: 5, maxLength: 40 }), async (actions) => {
        const c = await Conversation.create(prims, `prop-${seed++}`);
        const replay: (typeof c.inFlight)[number][] = [];
        for (const a of actions) {
          if (a.t === 'send') {
            await c.send(a.who);
            continue;
          }
          if (c.inFlight.length === 0) continue;
          const i = a.pick % c.inFlight.length;
          const m = c.inFlight[i]!;
          if (a.t === 'drop') c.inFlight.splice(i, 1);
          else if (a.t === 'deliver') {
            c.inFlight.splice(i, 1);
            await c.deliverChecked(m);
            replay.push(m);
          } else await c.deliverChecked(m); // duplicate: delivered now, and again later
        }
        // The network finally delivers everything still in flight, then replays what it saw.
        for (const m of [...c.inFlight].reverse()) await c.deliverChecked(m);
        for (const m of replay) await c.deliverChecked(m);
      }),
      { numRuns: 100 },
    );
  });
});

describe('beyond the skipped-key bounds', () => {
  it('a message too far ahead in its chain gets E2E_TOO_MANY_SKIPPED, and the session still works afterwards', async () => {
    let seed = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 5, max: 12 }), async (lost) => {
        const c = await Conversation.create(prims, `bound-${seed++}`, { maxSkipPerChain: 4, maxSkippedTotal: 6 });
        await c.deliverChecked((await c.send('A'))!);
        const sent = [];
        for (let i = 0; i < lost + 1; i++) sent.push((await c.send('A'))!);
        const before = await c.B.store.loadSessions(c.A.address);
        const r = await c.deliver(sent[lost]!);
        expect(r.ok).toBe(false);
        if (!r.ok) expect(isCryptoError(r.error, 'E2E_TOO_MANY_SKIPPED')).toBe(true);
        expect(await c.B.store.loadSessions(c.A.address)).toBe(before);
        // Messages within the bound of that chain still decrypt...
        await c.deliverChecked(sent[2]!);
        // ... and after a round trip (new DH ratchet steps) everything works again.
        await c.deliverChecked((await c.send('B'))!);
        await c.deliverChecked((await c.send('A'))!);
        await c.deliverChecked((await c.send('B'))!);
      }),
      { numRuns: 8 },
    );
  });

  it('evicts the oldest skipped keys beyond the total bound; a too-late message is refused with a typed error', async () => {
    const c = await Conversation.create(prims, 'evict', { maxSkipPerChain: 4, maxSkippedTotal: 6 });
    await c.deliverChecked((await c.send('A'))!);
    const late = [];
    // Three of Alice's chains, each leaving 3 skipped keys at Bob: 9 > 6.
    for (let round = 0; round < 3; round++) {
      const chain = [];
      for (let i = 0; i < 4; i++) chain.push((await c.send('A'))!);
      await c.deliverChecked(chain[3]!);
      late.push(...chain.slice(0, 3));
      await c.deliverChecked((await c.send('B'))!);
    }
    const results = [];
    for (const m of late) {
      const r = await c.deliver(m);
      results.push(r.ok);
      if (!r.ok) expect(isCryptoError(r.error), String(r.error)).toBe(true);
    }
    expect(results.filter((ok) => !ok)).toHaveLength(3); // the oldest 3 were evicted
    expect(results.slice(3).every(Boolean)).toBe(true);
    await c.deliverChecked((await c.send('A'))!);
  });
});

describe('tampering', () => {
  it('any single flipped bit of any message (header, body, tag) is refused and changes no state', async () => {
    let seed = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 3 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (turns, where) => {
          const c = await Conversation.create(prims, `flip-${seed++}`);
          // 0 turns: a prekey (first) message; more: a normal message after DH ratchet steps.
          for (let t = 0; t < turns; t++) await c.deliverChecked((await c.send(t % 2 === 0 ? 'A' : 'B'))!);
          const m = (await c.send(turns % 2 === 0 ? 'A' : 'B'))!;
          const bit = Math.min(m.ct.length * 8 - 1, Math.floor(where * m.ct.length * 8));
          const tampered = m.ct.slice();
          tampered[bit >> 3]! ^= 1 << (bit & 7);
          const recipient = m.from === 'A' ? c.B : c.A;
          const sender = m.from === 'A' ? c.A : c.B;
          const before = await recipient.store.loadSessions(sender.address);
          const prekeys = await recipient.store.countOneTimePrekeys();
          const r = await c.deliver({ ...m, ct: tampered });
          expect(r.ok, `bit ${bit} of ${m.ct.length * 8}`).toBe(false);
          if (!r.ok) expect(isCryptoError(r.error), String(r.error)).toBe(true);
          expect(await recipient.store.loadSessions(sender.address)).toBe(before);
          expect(await recipient.store.countOneTimePrekeys()).toBe(prekeys);
          await c.deliverChecked(m); // the genuine message still decrypts
        },
      ),
      { numRuns: 60 },
    );
  });
});

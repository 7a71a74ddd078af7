/**
 * Forward secrecy and post-compromise security (Double Ratchet §1, §6.5), checked against an
 * attacker who holds a device's complete serialised state.
 */
import { describe, expect, it } from 'vitest';
import { aeadDecrypt } from '../src/aead.js';
import { concat } from '../src/encoding.js';
import { createPrimitives, fromBase64, SessionManager } from '../src/index.js';
import { kdfChain, messageKey } from '../src/kdf.js';
import { parseMessage } from '../src/ratchet/message.js';
import { deserializeSessionSet } from '../src/ratchet/state.js';
import { Conversation } from './conversation.js';
import { seededRandom, stealState } from './helpers.js';

const prims = await createPrimitives();

/** Every 32-byte value anywhere in a serialised state. */
function secretsIn(serialized: string): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const m of serialized.matchAll(/"([A-Za-z0-9+/]{43}=)"/g)) out.push(fromBase64(m[1]!));
  return out;
}

/** Tries every value as a message key, and as a chain key for 64 steps, on the message. */
function anyValueDecrypts(values: Uint8Array[], ad: Uint8Array, ct: Uint8Array): boolean {
  const msg = parseMessage(ct);
  const tryKey = (mk: Uint8Array) => {
    const key = messageKey(mk);
    try {
      aeadDecrypt(key, msg.nonce, msg.ciphertext, concat(ad, msg.headerBytes));
      return true;
    } catch (e) {
      if ((e as { code?: string }).code !== 'E2E_DECRYPT_FAILED') throw e;
      return false;
    }
  };
  for (const v of values) {
    if (tryKey(v)) return true;
    let ck = v;
    for (let i = 0; i < 64; i++) {
      const step = kdfChain(ck);
      if (tryKey(step.messageKey)) return true;
      ck = step.chainKey;
    }
  }
  return false;
}

describe('forward secrecy', () => {
  it("once a session has moved on, nothing in either side's serialised state decrypts an earlier message", async () => {
    const c = await Conversation.create(prims, 'fs');
    const early = (await c.send('A'))!;
    await c.deliverChecked(early);
    const bobEarly = (await c.send('B'))!;
    await c.deliverChecked(bobEarly);
    // Sanity check of the attack: right now, Bob's state still holds the keys of his chain.
    const ad = deserializeSessionSet((await c.B.store.loadSessions(c.A.address))!).sessions[0]!.ad;
    expect(anyValueDecrypts(secretsIn((await c.A.store.loadSessions(c.B.address))!), ad, (await c.send('A'))!.ct)).toBe(
      true,
    );
    for (let t = 0; t < 6; t++) await c.deliverChecked((await c.send(t % 2 === 0 ? 'A' : 'B'))!);
    for (const side of [c.A, c.B]) {
      const peer = side === c.A ? c.B.address : c.A.address;
      const state = (await side.store.loadSessions(peer))!;
      expect(anyValueDecrypts(secretsIn(state), ad, early.ct)).toBe(false);
      expect(anyValueDecrypts(secretsIn(state), ad, bobEarly.ct)).toBe(false);
    }
    // Restoring the stolen state into a working client does not help either.
    const thief = new SessionManager({
      primitives: prims,
      store: await stealState(c.B, [c.A.address]),
      randomBytes: seededRandom('thief'),
      now: () => 0,
    });
    await expect(thief.decrypt(c.A.address, early.ct)).rejects.toMatchObject({ name: 'CryptoError' });
  });

  it('deletes the used one-time prekey, so a later compromise of Bob cannot redo the first X3DH', async () => {
    const c = await Conversation.create(prims, 'fs-otk');
    const first = (await c.send('A'))!;
    const otkId = parseMessage(first.ct).prekey!.oneTimePrekeyId!;
    await c.deliverChecked(first);
    expect(await c.B.store.getOneTimePrekey(otkId)).toBeUndefined();
    const thief = new SessionManager({
      primitives: prims,
      store: await stealState(c.B, []), // no sessions: must redo X3DH from prekeys
      randomBytes: seededRandom('thief'),
      now: () => 0,
    });
    await expect(thief.decrypt(c.A.address, first.ct)).rejects.toMatchObject({ code: 'E2E_PREKEY_NOT_FOUND' });
  });
});

describe('post-compromise security', () => {
  it("an attacker holding a copy of Bob's state can no longer decrypt once both sides completed a new DH ratchet step", async () => {
    const c = await Conversation.create(prims, 'pcs');
    for (let t = 0; t < 3; t++) await c.deliverChecked((await c.send(t % 2 === 0 ? 'A' : 'B'))!);
    // Compromise: the attacker copies all of Bob's state, then only watches the wire.
    const thief = new SessionManager({
      primitives: prims,
      store: await stealState(c.B, [c.A.address]),
      randomBytes: seededRandom('thief'),
      now: () => 0,
    });
    const a1 = (await c.send('A'))!; // same chain as before the compromise
    await c.deliverChecked(a1);
    await c.deliverChecked((await c.send('B'))!); // Bob: new ratchet key (his DH step)
    const a2 = (await c.send('A'))!; // Alice's DH step; still derivable from Bob's old key
    await c.deliverChecked(a2);
    await c.deliverChecked((await c.send('B'))!);
    const a3 = (await c.send('A'))!; // both sides have now stepped since the compromise
    await c.deliverChecked(a3);
    // The attack is real inside the window...
    expect((await thief.decrypt(c.A.address, a1.ct)).plaintext).toEqual(a1.pt);
    expect((await thief.decrypt(c.A.address, a2.ct)).plaintext).toEqual(a2.pt);
    // ... and over once the ratchet healed.
    await expect(thief.decrypt(c.A.address, a3.ct)).rejects.toMatchObject({ code: 'E2E_DECRYPT_FAILED' });
  });
});

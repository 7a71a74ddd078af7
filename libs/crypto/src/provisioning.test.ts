import { describe, expect, it } from 'vitest';
import { seededRandom } from '../test/helpers.js';
import { fromHex, toHex, utf8 } from './encoding.js';
import { isCryptoError } from './errors.js';
import { tweetnaclPrimitives, webcryptoPrimitives } from './primitives/index.js';
import {
  decodeLinkCode,
  decodeOpening,
  deriveProvisioningKeys,
  encodeLinkCode,
  encodeOpening,
  newChannelId,
  openProvisioningChannel,
  PROVISIONING_CODE_DIGITS,
} from './provisioning.js';

const impls = [tweetnaclPrimitives(), webcryptoPrimitives()];
// RFC 7748 §6.1 key pairs, so the derived keys below are pinned to published inputs.
const alice = {
  privateKey: fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
  publicKey: fromHex('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a'),
};
const bob = {
  privateKey: fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'),
  publicKey: fromHex('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f'),
};
const channel = 'AAECAwQFBgcICQoLDA0ODw';

const expectCode = (f: () => unknown, code: string) => {
  try {
    f();
  } catch (e) {
    expect(isCryptoError(e) && e.code).toBe(code);
    return;
  }
  throw new Error(`expected ${code}`);
};

describe.each(impls)('the provisioning channel ($name)', (prims) => {
  it('gives both sides the same keys and comparison code, pinned for the RFC 7748 key pairs', async () => {
    const n = await deriveProvisioningKeys(prims, alice, bob.publicKey, 'new', channel);
    const o = await deriveProvisioningKeys(prims, bob, alice.publicKey, 'old', channel);
    expect(toHex(n.toNew)).toBe(toHex(o.toNew));
    expect(toHex(n.toOld)).toBe(toHex(o.toOld));
    expect(n.code).toBe(o.code);
    expect(n.code).toMatch(new RegExp(`^\\d{${PROVISIONING_CODE_DIGITS}}$`));
    expect(toHex(n.toNew)).not.toBe(toHex(n.toOld));
    // Pinned: a change here breaks every link code in flight between two versions.
    expect({ toNew: toHex(n.toNew).slice(0, 16), code: n.code }).toEqual({ toNew: 'b5e5baeca6892666', code: '226991' });
  });

  it('moves messages both ways in order and refuses replays, reordering, reflection and forgeries', async () => {
    const rnd = seededRandom('prov');
    const newKp = await prims.x25519KeyPair(rnd);
    const oldKp = await prims.x25519KeyPair(rnd);
    const id = newChannelId(rnd);
    const oldSide = await openProvisioningChannel(prims, oldKp, newKp.publicKey, 'old', id, rnd);
    const opening = encodeOpening(oldKp.publicKey, oldSide.seal(utf8('hello')));
    const { oldPublic, sealed } = decodeOpening(opening);
    const newSide = await openProvisioningChannel(prims, newKp, oldPublic, 'new', id, rnd);
    expect(newSide.code).toBe(oldSide.code);
    expect(new TextDecoder().decode(newSide.open(sealed))).toBe('hello');
    // replay of message 0
    expectCode(() => newSide.open(sealed), 'E2E_BAD_MESSAGE');
    const m1 = oldSide.seal(utf8('one'));
    const m2 = oldSide.seal(utf8('two'));
    expectCode(() => newSide.open(m2), 'E2E_BAD_MESSAGE');
    expect(new TextDecoder().decode(newSide.open(m1))).toBe('one');
    const flipped = m2.slice();
    flipped[flipped.length - 1]! ^= 1;
    expectCode(() => newSide.open(flipped), 'E2E_DECRYPT_FAILED');
    expect(new TextDecoder().decode(newSide.open(m2))).toBe('two');
    // the answer direction, and a message reflected back to its sender
    const reply = newSide.seal(utf8('name'));
    expect(new TextDecoder().decode(oldSide.open(reply))).toBe('name');
  });

  it('refuses a message reflected back to the side that sealed it', async () => {
    const rnd = seededRandom('reflect');
    const id = newChannelId(rnd);
    const newSide = await openProvisioningChannel(prims, alice, bob.publicKey, 'new', id, rnd);
    const first = newSide.seal(utf8('name'));
    expectCode(() => newSide.open(first), 'E2E_DECRYPT_FAILED');
  });

  it('refuses a low-order peer key and a channel id that is not one', async () => {
    await expect(deriveProvisioningKeys(prims, alice, new Uint8Array(32), 'new', channel)).rejects.toMatchObject({
      code: 'E2E_LOW_ORDER_KEY',
    });
    await expect(deriveProvisioningKeys(prims, alice, bob.publicKey, 'new', 'short')).rejects.toMatchObject({
      code: 'E2E_BAD_KEY',
    });
  });

  it('derives unrelated keys for another channel id (a message cannot move between channels)', async () => {
    const a = await deriveProvisioningKeys(prims, alice, bob.publicKey, 'new', channel);
    const b = await deriveProvisioningKeys(prims, alice, bob.publicKey, 'new', 'BAECAwQFBgcICQoLDA0ODw');
    expect(toHex(a.toNew)).not.toBe(toHex(b.toNew));
  });
});

describe('link codes', () => {
  it('round-trip and ignore whitespace a paste may add', () => {
    const text = encodeLinkCode({
      version: 1,
      userId: 'abcdefghij0123',
      channelId: channel,
      publicKey: alice.publicKey,
    });
    expect(text).toMatch(/^hush-link:1:abcdefghij0123:AAECAwQFBgcICQoLDA0ODw:[A-Za-z0-9_-]{43}$/);
    const back = decodeLinkCode(` ${text.slice(0, 20)}\n${text.slice(20)} `);
    expect(back.userId).toBe('abcdefghij0123');
    expect(toHex(back.publicKey)).toBe(toHex(alice.publicKey));
  });

  it('refuses other payloads, other versions, bad ids and non-canonical keys', () => {
    const good = encodeLinkCode({
      version: 1,
      userId: 'abcdefghij0123',
      channelId: channel,
      publicKey: alice.publicKey,
    });
    for (const bad of [
      'hello',
      good.replace('hush-link', 'hush-lnk'),
      good.replace(':1:', ':2:'),
      good.replace('abcdefghij0123', 'ABC'),
      good.replace(channel, 'short'),
      `${good}A`,
      good.slice(0, -1),
      `${good.slice(0, -1)}${good.endsWith('B') ? 'C' : 'B'}`,
    ]) {
      expect(() => decodeLinkCode(bad), bad).toThrow();
    }
  });
});

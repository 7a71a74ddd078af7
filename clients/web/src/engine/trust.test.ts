import type { SendFrame } from '@hush/protocol';
import { describe, expect, it } from 'vitest';
import { type Conversation, encryptionStatus } from '../core/model.js';
import { device, mailboxOf, pair } from '../testing/engines.js';
import type { FakeHub } from '../testing/hub.js';
import { settle } from '../testing/settle.js';
import type { Engine } from './engine.js';

const conv = (e: Engine, peer: string): Conversation => e.state.conversations.find((x) => x.peer === peer)!;
const texts = (e: Engine, peer: string) => (e.state.messages[peer] ?? []).map((m) => `${m.dir}:${m.text}`);
/** Every frame the hub accepted from now on that addresses one of that user's devices. */
const framesTo = (hub: FakeHub, user: string) => {
  const from = hub.sent.length;
  return (): SendFrame[] => hub.sent.slice(from).filter((f) => f.envelopes.some((e) => e.to.user === user));
};

/** Alice has verified Bob; then Bob comes back on a fresh profile (new identity) and writes. */
async function verifiedPeerReturns() {
  const p = await pair();
  const { hub, a, b, bobId, aliceId } = p;
  await a.e.send(bobId, 'hi');
  await settle(a.e, b.e);
  await a.e.markVerified(bobId);
  expect(encryptionStatus(conv(a.e, bobId))).toBe('green');
  hub.clock.advance(60_000);
  const b2 = await device(hub);
  await b2.e.login('bob', 'password2');
  // Signing in does not reset anything; bob explicitly chooses "Reset identity".
  expect(b2.e.state.phase).toBe('link');
  await b2.e.resetIdentity();
  await settle(a.e, b2.e);
  await b2.e.startChat('alice');
  const toBob = framesTo(hub, bobId);
  await b2.e.send(aliceId, 'new phone');
  await settle(a.e, b2.e);
  return { ...p, b2, toBob };
}

describe('trust that fails closed', () => {
  it('sends nothing to a verified contact whose identity changed, queued messages included, until the user accepts', async () => {
    const { hub, a, b2, bobId, aliceId, toBob } = await verifiedPeerReturns();
    // Alice reads the message, with the change noted in the timeline before it.
    expect(texts(a.e, bobId)).toEqual(['out:hi', 'event:bob’s safety number changed', 'in:new phone']);
    const c = conv(a.e, bobId);
    expect([encryptionStatus(c), c.keyChange?.wasVerified, c.sendHold]).toEqual(['yellow', true, 'user']);
    // Her reply, her receipts and her typing all wait.
    a.e.openConversation(bobId);
    a.e.typing(bobId, true);
    await a.e.send(bobId, 'is that really you?');
    await settle(a.e, b2.e);
    expect(toBob()).toEqual([]);
    expect(mailboxOf(hub, b2.e)).toEqual([]);
    expect(a.e.state.messages[bobId]!.at(-1)!.tick).toBe('pending');
    expect(texts(b2.e, aliceId)).toEqual(['out:new phone']);
    // Dismissing is not a choice for a verified contact.
    await a.e.dismissKeyChange(bobId);
    expect(conv(a.e, bobId).keyChange).not.toBeNull();
    // She looks at the new safety number and accepts it: the queue goes, unverified (yellow).
    await a.e.acceptKeyChange(bobId);
    await settle(a.e, b2.e);
    expect(texts(b2.e, aliceId)).toEqual(['out:new phone', 'in:is that really you?']);
    expect(encryptionStatus(conv(a.e, bobId))).toBe('yellow');
    expect(conv(a.e, bobId).sendHold).toBeNull();
  });

  it('lets verifying the new safety number again release what waited, green', async () => {
    const { a, b2, bobId, aliceId } = await verifiedPeerReturns();
    await a.e.send(bobId, 'waiting');
    await settle(a.e, b2.e);
    const info = await b2.e.safety(aliceId);
    expect(info).not.toBeNull();
    // Alice scans the QR code on Bob's new screen; it matches the new key she was shown.
    expect(await a.e.verifyPayload(bobId, info!.qrPayload)).toBe(true);
    await settle(a.e, b2.e);
    expect(encryptionStatus(conv(a.e, bobId))).toBe('green');
    expect(texts(b2.e, aliceId)).toContain('in:waiting');
  });

  it('holds a verified contact’s identity swapped by a lying key directory: nothing reaches the new device', async () => {
    const { hub, a, b, bobId } = await pair();
    await a.e.send(bobId, 'before');
    await settle(a.e, b.e);
    await a.e.markVerified(bobId);
    // The directory now claims bob has another identity and one device the attacker holds.
    const acct = hub.byId(bobId)!;
    acct.identityKey = 'FORGED-IDENTITY-KEY';
    acct.devices = ['evil000001'];
    const toBob = framesTo(hub, bobId);
    await a.e.send(bobId, 'secret');
    await settle(a.e, b.e);
    expect(toBob()).toEqual([]);
    expect(hub.mailboxes.get(`${bobId}.evil000001`)).toBeUndefined();
    const c = conv(a.e, bobId);
    expect([encryptionStatus(c), c.sendHold, c.identityKey]).toEqual(['yellow', 'user', 'FORGED-IDENTITY-KEY']);
    expect(texts(a.e, bobId)).toContain('event:bob’s safety number changed');
    expect(a.e.state.messages[bobId]!.find((m) => m.text === 'secret')!.tick).toBe('pending');
    // The real bob keeps writing over the old session: read, but it settles nothing.
    await b.e.send(a.e.state.me!.userId, 'still me');
    await settle(a.e, b.e);
    expect(texts(a.e, bobId)).toContain('in:still me');
    expect([conv(a.e, bobId).sendHold, conv(a.e, bobId).identityKey]).toEqual(['user', 'FORGED-IDENTITY-KEY']);
    expect(toBob()).toEqual([]);
  });

  it('shows an unverified contact’s change in the timeline and sends once the new bundle verified', async () => {
    const { hub, a, b, bobId } = await pair();
    await a.e.send(bobId, 'before');
    await settle(a.e, b.e);
    hub.clock.advance(60_000);
    const acct = hub.byId(bobId)!;
    acct.identityKey = 'NEW-IDENTITY-KEY';
    acct.devices = ['newdev0001'];
    await a.e.send(bobId, 'after');
    await settle(a.e, b.e);
    const c = conv(a.e, bobId);
    expect([encryptionStatus(c), c.keyChange?.wasVerified, c.sendHold]).toEqual(['yellow', false, null]);
    expect(texts(a.e, bobId)).toEqual(['out:before', 'event:bob’s safety number changed', 'out:after']);
    expect(hub.mailboxes.get(`${bobId}.newdev0001`)).toHaveLength(1);
  });
});

import { describe, expect, it } from 'vitest';
import type { ChatMessage } from '../core/model.js';
import { pair as basePair, linkOf, mailboxOf } from '../testing/engines.js';
import { settle } from '../testing/settle.js';
import type { Engine } from './engine.js';

async function pair() {
  const p = await basePair();
  return { ...p, link: (e: Engine) => linkOf(p.hub, e), mailbox: (e: Engine) => mailboxOf(p.hub, e) };
}

describe('inbox', () => {
  it('leaves an envelope in the mailbox when the local store fails, and stores it once on redelivery', async () => {
    const { a, b, bobId, aliceId, link, mailbox } = await pair();
    await a.e.send(bobId, 'first');
    await settle(a.e, b.e);
    b.history.failWrites = true;
    await a.e.send(bobId, 'kept on the server');
    await settle(a.e, b.e);
    // Not acked: the gateway still holds it, and bob is told.
    expect(mailbox(b.e)).toHaveLength(1);
    expect(b.e.state.messages[aliceId]!.map((m) => m.text)).toEqual(['first']);
    expect(b.e.state.notice).toMatch(/could not be saved/);
    // The disk has room again and the gateway delivers it once more (a reconnect).
    b.history.failWrites = false;
    link(b.e).goOnline();
    await settle(a.e, b.e);
    expect(mailbox(b.e)).toEqual([]);
    expect(b.e.state.messages[aliceId]!.map((m) => m.text)).toEqual(['first', 'kept on the server']);
    expect(a.e.state.messages[bobId]![1]!.tick).toBe('delivered');
  });

  it('acks an envelope proven undecryptable and shows "could not decrypt" in the conversation', async () => {
    const { a, b, aliceId, link, mailbox } = await pair();
    const me = b.e.state.me!;
    await link(a.e).send({
      type: 'send',
      id: 'forged-envelope-01',
      envelopes: [{ to: { user: me.userId, device: me.deviceId }, body: btoa('not a ratchet message') }],
    });
    await settle(a.e, b.e);
    expect(mailbox(b.e)).toEqual([]);
    const list = b.e.state.messages[aliceId]!;
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ id: 'forged-envelope-01', dir: 'in', undecryptable: true });
  });

  it('acks a redelivered duplicate without showing it twice', async () => {
    const { a, b, bobId, aliceId, link, mailbox } = await pair();
    await a.e.send(bobId, 'once');
    await settle(a.e, b.e);
    // The ack was lost: the gateway delivers the same envelope again.
    const frame = a.e.state.messages[bobId]![0]!.wire!;
    expect(frame.kind).toBe('sent');
    link(b.e).push({ ...mailboxFrame(frame, aliceId, a.e.state.me!.deviceId), seq: 999 });
    await settle(a.e, b.e);
    expect(mailbox(b.e)).toEqual([]);
    expect(b.e.state.messages[aliceId]!.map((m) => m.text)).toEqual(['once']);
  });
});

function mailboxFrame(w: NonNullable<ChatMessage['wire']>, user: string, device: string) {
  if (w.kind !== 'sent') throw new Error('not a sent frame');
  return {
    type: 'deliver' as const,
    seq: 0,
    id: w.frame.id,
    from: { user, device },
    ts: 1,
    body: w.frame.envelopes[0]!.body,
  };
}

import { describe, expect, it } from 'vitest';
import { visibleMessages } from '../core/model.js';
import { device, linkOf, mailboxOf, pair } from '../testing/engines.js';
import { settle } from '../testing/settle.js';
import type { Engine } from './engine.js';

const shown = (e: Engine, conv: string) => visibleMessages(e.state.messages[conv] ?? []);
const texts = (e: Engine, conv: string) => shown(e, conv).map((m) => m.text);

describe('message operations between two browsers (fake time)', () => {
  it('reply, react, edit and delete for everyone reach the other side', async () => {
    const { a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'lunch at noon?');
    await settle(a.e, b.e);
    const id = a.e.state.messages[bobId]![0]!.id;
    await b.e.messages.reply(aliceId, id, 'yes!');
    await b.e.messages.react(aliceId, id, '👍');
    await a.e.messages.edit(bobId, id, 'lunch at one?');
    await settle(a.e, b.e);
    const onA = shown(a.e, bobId);
    expect(onA.map((m) => m.text)).toEqual(['lunch at one?', 'yes!']);
    expect(onA[1]!.reply).toEqual({ id, from: aliceId, text: 'lunch at noon?' });
    expect(onA[0]!.reactions?.[bobId]?.emoji).toBe('👍');
    const onB = shown(b.e, aliceId);
    expect(onB[0]).toMatchObject({ text: 'lunch at one?', editedAt: expect.any(Number) });
    expect(onB[0]!.reactions?.[bobId]?.emoji).toBe('👍');
    // Bob may not edit Alice's message: refused on his side, nothing sent.
    await b.e.messages.edit(aliceId, id, 'hijacked');
    expect(b.e.state.notice).toMatch(/only the author/);
    await a.e.messages.deleteForEveryone(bobId, id);
    await settle(a.e, b.e);
    for (const [e, conv] of [
      [a.e, bobId],
      [b.e, aliceId],
    ] as const) {
      const m = shown(e, conv)[0]!;
      expect(m).toMatchObject({ deleted: true, text: '' });
      expect(m.reactions).toBeUndefined();
    }
    // Unread counts and list previews ignore the controls.
    expect(b.e.state.conversations.find((c) => c.peer === aliceId)!.lastText).toBe('yes!');
  });

  it('a control that arrives before its message is kept (hidden, once) and applied when the message comes', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    linkOf(hub, b.e).goOffline();
    await a.e.send(bobId, 'frist');
    const id = a.e.state.messages[bobId]![0]!.id;
    await a.e.messages.edit(bobId, id, 'first');
    await a.e.messages.react(bobId, id, '🎉');
    await settle(a.e, b.e);
    // Reordered on the way: the controls before the message, and the edit twice.
    const box = mailboxOf(hub, b.e);
    expect(box).toHaveLength(3);
    hub.mailboxes.set(`${b.e.state.me!.userId}.${b.e.state.me!.deviceId}`, [
      box[2]!,
      box[1]!,
      { ...box[1]!, seq: 9_999 },
      box[0]!,
    ]);
    linkOf(hub, b.e).goOnline();
    await settle(a.e, b.e);
    const list = b.e.state.messages[aliceId]!;
    expect(list.filter((m) => m.op)).toEqual([]);
    expect(shown(b.e, aliceId)).toHaveLength(1);
    expect(shown(b.e, aliceId)[0]).toMatchObject({ text: 'first', editedAt: expect.any(Number) });
    expect(shown(b.e, aliceId)[0]!.reactions?.[aliceId]?.emoji).toBe('🎉');
    expect(mailboxOf(hub, b.e)).toEqual([]);
  });

  it('a duplicate or an older edit does not undo a newer one, and a delete is never undone', async () => {
    const { a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'v1');
    await settle(a.e, b.e);
    const id = a.e.state.messages[bobId]![0]!.id;
    const th = b.e.messages.direct(aliceId);
    await b.e.messages.ops.receive(th, 'edit-new-01', { t: 'edit', target: id, text: 'v3' }, aliceId, 3e12, 1);
    await b.e.messages.ops.receive(th, 'edit-old-01', { t: 'edit', target: id, text: 'v2' }, aliceId, 2e12, 1);
    expect(texts(b.e, aliceId)).toEqual(['v3']);
    await b.e.messages.ops.receive(th, 'delete-0001', { t: 'delete', target: id }, aliceId, 4e12, 1);
    await b.e.messages.ops.receive(th, 'edit-late-1', { t: 'edit', target: id, text: 'back' }, aliceId, 5e12, 1);
    expect(shown(b.e, aliceId)[0]).toMatchObject({ deleted: true, text: '' });
  });

  it('forwards a message to another conversation, marked as forwarded', async () => {
    const { hub, a, b, bobId } = await pair();
    const c = await device(hub);
    await c.e.register('carol', 'password3');
    await settle(a.e, b.e, c.e);
    const carolId = (await a.e.startChat('carol'))!;
    await a.e.send(bobId, 'pass it on');
    await settle(a.e, b.e, c.e);
    const id = a.e.state.messages[bobId]![0]!.id;
    await a.e.messages.forward(bobId, id, carolId);
    await settle(a.e, b.e, c.e);
    const got = shown(c.e, a.e.state.me!.userId);
    expect(got).toHaveLength(1);
    expect(got[0]).toMatchObject({ text: 'pass it on', forwarded: true });
  });

  it('disappearing messages: the setting is a notice on both sides; ours go when sent + timer, theirs when read + timer, also after a reload', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    await a.e.messages.setDisappearing(bobId, 5);
    await settle(a.e, b.e);
    expect(texts(a.e, bobId)).toEqual(['You set messages to disappear after 5 seconds']);
    expect(texts(b.e, aliceId)).toEqual(['alice set messages to disappear after 5 seconds']);
    expect(b.e.state.conversations.find((c) => c.peer === aliceId)!.timer?.seconds).toBe(5);
    await a.e.send(bobId, 'gone soon');
    await settle(a.e, b.e);
    expect(shown(b.e, aliceId).at(-1)).toMatchObject({ text: 'gone soon', ttl: 5 });
    expect(shown(b.e, aliceId).at(-1)!.expiresAt).toBeUndefined();
    hub.clock.advance(5000);
    await settle(a.e, b.e);
    // Alice's copy went 5 s after it was sent; Bob has not read his yet.
    expect(texts(a.e, bobId)).not.toContain('gone soon');
    expect(texts(b.e, aliceId)).toContain('gone soon');
    b.e.openConversation(aliceId);
    await settle(a.e, b.e);
    const readAt = hub.clock.now();
    expect(shown(b.e, aliceId).at(-1)!.expiresAt).toBe(readAt + 5000);
    // A reload before the time is up: the expiry is stored, and the sweep on boot does the rest.
    const again = await device(hub, b.records, b.crypto);
    await settle(again.e);
    hub.clock.advance(5000);
    await settle(again.e);
    expect(texts(again.e, aliceId)).not.toContain('gone soon');
    expect((await again.history.messages(aliceId)).map((m) => m.text)).not.toContain('gone soon');
    expect(again.e.state.conversations.find((c) => c.peer === aliceId)!.lastText).toBe('');
  });

  it('delete for everyone removes the file on every device; delete for me only here; a forwarded file is a new blob', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    const bytes = Uint8Array.from({ length: 3000 }, (_, i) => i % 251);
    await a.e.sendFile(bobId, { name: 'plan.pdf', mime: 'application/pdf', bytes }, 'the plan');
    await a.e.send(bobId, 'just for me to drop');
    await settle(a.e, b.e);
    const [file, text] = shown(a.e, bobId);
    const ref = file!.file!;
    expect(await b.history.getAttachment(ref.id)).toEqual(bytes);

    // Forwarded (here into the same chat): uploaded again from the local copy as a new blob.
    await a.e.messages.forward(bobId, file!.id, bobId);
    await settle(a.e, b.e);
    const fwd = shown(b.e, aliceId).find((m) => m.forwarded)!;
    expect(fwd.file!.id).not.toBe(ref.id);
    expect(await b.e.attachment(fwd.file!)).toEqual(bytes);
    expect(hub.attachments.has(fwd.file!.id)).toBe(false);

    await a.e.messages.deleteForEveryone(bobId, file!.id);
    await settle(a.e, b.e);
    for (const h of [a.history, b.history]) expect(await h.getAttachment(ref.id)).toBeUndefined();
    expect(shown(b.e, aliceId)[0]).toMatchObject({ deleted: true });

    await b.e.messages.deleteForMe(aliceId, text!.id);
    await settle(a.e, b.e);
    expect(texts(b.e, aliceId)).not.toContain('just for me to drop');
    expect((await b.history.messages(aliceId)).some((m) => m.id === text!.id)).toBe(false);
    expect(texts(a.e, bobId)).toContain('just for me to drop');
  });

  it('an undelivered disappearing message is deleted from the server when the sender’s copy expires', async () => {
    const { hub, a, b, bobId } = await pair();
    await a.e.messages.setDisappearing(bobId, 5);
    await settle(a.e, b.e);
    linkOf(hub, b.e).goOffline();
    await a.e.send(bobId, 'never fetched');
    await settle(a.e, b.e);
    const id = a.e.state.messages[bobId]!.find((m) => m.text === 'never fetched')!.id;
    expect(mailboxOf(hub, b.e).map((f) => f.id)).toEqual([id]);
    hub.clock.advance(5000);
    await settle(a.e, b.e);
    expect(texts(a.e, bobId)).not.toContain('never fetched');
    expect(mailboxOf(hub, b.e)).toEqual([]);
  });
});

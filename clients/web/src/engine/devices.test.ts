import { describe, expect, it } from 'vitest';
import type { Conversation } from '../core/model.js';
import { device, pair } from '../testing/engines.js';
import { settle } from '../testing/settle.js';
import type { Engine } from './engine.js';

const conv = (e: Engine, peer: string): Conversation => {
  const c = e.state.conversations.find((x) => x.peer === peer);
  if (!c) throw new Error(`no conversation with ${peer}`);
  return c;
};

/** Waits for a condition the linking flow reaches through the relay (polled, not timed). */
const until = async (cond: () => boolean, what: string, ...engines: Engine[]) => {
  for (let i = 0; i < 400; i++) {
    if (cond()) return;
    await settle(...engines);
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
};

describe('engine device linking', () => {
  it('links a second browser by its code: identity and history move, both receive, sign-out is remote', async () => {
    const { hub, a, b, bobId, aliceId } = await pair();
    await a.e.send(bobId, 'before');
    await settle(a.e, b.e);
    const identity = a.crypto.identity;

    const a2 = await device(hub);
    await a2.e.login('alice', 'password1');
    expect(a2.e.state.phase).toBe('link');
    await until(() => Boolean(a2.e.devices.view.link?.code), 'link code');
    // Nothing was reset: the account keeps its identity and its one device.
    expect(hub.accounts.get('alice')!.identityKey).toBe(identity);
    expect(hub.accounts.get('alice')!.devices).toEqual([a.e.state.me!.deviceId]);

    const linking = a.e.linkNewDevice(a2.e.devices.view.link!.code!);
    await until(() => a.e.devices.view.link?.stage === 'confirm', 'approve prompt');
    await until(() => a2.e.devices.view.link?.stage === 'confirm', 'code on the new device');
    expect(a.e.devices.view.link!.compare).toMatch(/^\d{6}$/);
    expect(a2.e.devices.view.link!.compare).toBe(a.e.devices.view.link!.compare);
    a.e.approveLink(true);
    await linking;
    expect(a.e.devices.view.link?.stage).toBe('done');
    expect(a.crypto.ownLists).toEqual([2]);
    await until(
      () => a2.e.state.phase === 'ready' && a2.e.state.connection === 'online',
      'new device ready',
      a.e,
      b.e,
      a2.e,
    );
    expect(a2.crypto.identity).toBe(identity);
    expect(a2.e.state.messages[bobId]!.map((m) => m.text)).toEqual(['before']);
    expect(hub.accounts.get('alice')!.devices.sort()).toEqual([a.e.state.me!.deviceId, a2.e.state.me!.deviceId].sort());

    // Bob learns of the device and writes to both; each of alice's devices gets the other's sent copy.
    await until(() => Boolean(conv(b.e, aliceId).deviceNotice), 'device notice', a.e, b.e, a2.e);
    expect(conv(b.e, aliceId).deviceNotice).toBe('alice added a device. Messages you send now reach it too.');
    await b.e.send(aliceId, 'to both');
    await settle(a.e, b.e, a2.e);
    expect(a2.e.state.messages[bobId]!.map((m) => m.text)).toContain('to both');
    expect(a.e.state.messages[bobId]!.map((m) => m.text)).toContain('to both');
    await a2.e.send(bobId, 'from the new one');
    await settle(a.e, b.e, a2.e);
    expect(a.e.state.messages[bobId]!.find((m) => m.text === 'from the new one')?.dir).toBe('out');

    // Reading on one device reads on the other.
    expect(conv(a.e, bobId).unread).toBe(1);
    a2.e.openConversation(bobId);
    await settle(a.e, b.e, a2.e);
    expect(conv(a.e, bobId).unread).toBe(0);

    await a.e.loadDevices();
    expect(a.e.devices.view.devices!.map((d) => d.linked)).toEqual([true, true]);
    const removed = a2.e.state.me!.deviceId;
    await a.e.signOutDevice(removed);
    await settle(a.e, b.e, a2.e);
    expect(a2.e.state.phase).toBe('signed-out');
    expect(hub.accounts.get('alice')!.devices).toEqual([a.e.state.me!.deviceId]);
    expect(a.e.devices.view.devices!.map((d) => d.deviceId)).toEqual([a.e.state.me!.deviceId]);

    // Bob was told of the shorter list at once; a message the removed device still sends (or a
    // server replays for it) is refused, and bob is told so.
    const bobKey = `${bobId}.${b.e.state.me!.deviceId}`;
    const body = btoa(JSON.stringify({ idk: identity, n: 1, pt: btoa('{"v":1,"t":"text","text":"ghost"}') }));
    hub.mailboxes.set(bobKey, [
      ...(hub.mailboxes.get(bobKey) ?? []),
      { type: 'deliver', seq: ++hub.seq, id: 'ghostmsg0001', from: { user: aliceId, device: removed }, ts: 1, body },
    ]);
    hub.deliverTo(bobKey);
    await settle(a.e, b.e);
    expect(b.e.state.messages[aliceId]!.map((m) => m.text)).not.toContain('ghost');
    expect(conv(b.e, aliceId).deviceNotice).toMatch(/device alice removed was refused/);
  });

  it('refuses a code of another account and a pasted text that is no code', async () => {
    const { a, b } = await pair();
    await b.e.linkNewDevice('hello there');
    expect(b.e.devices.view.link).toMatchObject({ stage: 'failed', error: 'This is not a link code' });
    const other = `hush-link:1:${'x'.repeat(16)}:AAECAwQFBgcICQoLDA0ODw:${'A'.repeat(43)}`;
    await a.e.linkNewDevice(other);
    expect(a.e.devices.view.link?.error).toMatch(/another account/);
  });
});

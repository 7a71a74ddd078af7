import { randomBytes } from 'node:crypto';
import { HushClient } from '@hush/client';
import { CloseCodes } from '@hush/protocol';
import type { Stack } from '@hush/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backbone, body, closedCode, fakeKeys, Inbox, msgId, newUser, WS } from './support.js';

// Linking a second device through the real services and two gateway processes: the new device
// signs in pending, the two devices talk over the relay (each on its own gateway), the old one
// signs a device list with the new one in it, and later signs it out remotely.
let stack: Stack;
let gw0: string;
let gw1: string;

beforeAll(async () => {
  stack = await backbone(2);
  [gw0, gw1] = stack.gatewayUrls as [string, string];
}, 180_000);
afterAll(async () => {
  await stack?.stop();
});

const channelId = () => randomBytes(16).toString('base64url');
const sig = () => randomBytes(64).toString('base64');

describe('linking a device (auth + keydir + gateway relay)', () => {
  it('keeps a signed-in device pending until the account’s device list names it, then signs it out remotely', async () => {
    const alice = await newUser(gw0, 'alice');
    const bob = await newUser(gw1, 'bob');
    const first = alice.client.session!;
    const keys1 = (await alice.client.fetchBundle(first.userId)).identityKey;

    // A second browser signs in: a new device of the same account, nothing else changes.
    const fresh = new HushClient({ baseUrl: gw1, WebSocket: WS });
    const s2 = await fresh.login(first.username, 'correct horse battery staple', 'phone');
    const pending = { user: s2.userId, device: s2.deviceId };
    const seen = await bob.client.fetchBundle(first.userId);
    expect(seen.identityKey).toBe(keys1);
    expect(seen.devices.map((d) => d.deviceId)).toEqual([first.deviceId]);
    const b = bob.client.connect();
    await b.ready();
    await expect(b.send(msgId('pend'), [{ to: pending, body: body('too early') }])).rejects.toMatchObject({
      code: 'GW_UNKNOWN_RECIPIENT',
    });

    // "Linked devices" on the old device shows both, with names.
    const list = await alice.client.listDevices();
    expect(list.devices.map((d) => [d.deviceId, d.name, d.current])).toEqual([
      [first.deviceId, 'alice device', true],
      [s2.deviceId, 'phone', false],
    ]);

    // The relay: the new device waits on gateway 1, the old one writes through gateway 0.
    const ch = channelId();
    const waiting = fresh.linkPoll(ch, 'new', 0, 10_000);
    await new Promise((r) => setTimeout(r, 200));
    await alice.client.linkSend(ch, 'new', body('opening'));
    const got = await waiting;
    expect(got.messages.map((m) => Buffer.from(m.body, 'base64').toString())).toEqual(['opening']);
    await fresh.linkSend(ch, 'old', body('my name'));
    expect((await alice.client.linkPoll(ch, 'old', 0, 0)).messages).toHaveLength(1);
    // Another account cannot read the channel.
    expect((await bob.client.linkPoll(ch, 'new', 0, 0)).messages).toEqual([]);

    // The old device signs version 2 with the new device; the new one publishes under the same identity.
    await alice.client.publishDeviceList({
      version: 2,
      devices: [first.deviceId, s2.deviceId],
      issuedAt: Date.now(),
      signature: sig(),
    });
    const keys2 = fakeKeys(s2.deviceId);
    const listed = (await alice.client.fetchBundle(first.userId)).deviceList;
    await fresh.publishKeys({ ...keys2, identityKey: keys1, deviceList: listed });
    const after = await bob.client.fetchBundle(first.userId);
    expect(after.identityKey).toBe(keys1);
    expect(after.devices.map((d) => d.deviceId).sort()).toEqual([first.deviceId, s2.deviceId].sort());

    // Now it can be written to and receives.
    const n = fresh.connect();
    await n.ready();
    const inbox = new Inbox().attach(n);
    const hello = msgId('linked');
    await b.send(hello, [{ to: pending, body: body('welcome') }]);
    await inbox.waitForIds([hello]);

    // Remote sign-out: re-signed list without it, and its tokens revoked.
    const closed = closedCode(n);
    await alice.client.publishDeviceList({
      version: 3,
      devices: [first.deviceId],
      issuedAt: Date.now(),
      signature: sig(),
    });
    await alice.client.signOutDevice(s2.deviceId);
    expect([CloseCodes.REVOKED, CloseCodes.REPLACED, CloseCodes.UPSTREAM_LOST]).toContain(await closed);
    await expect(fresh.listDevices()).rejects.toMatchObject({ code: 'AUTH_DEVICE_REVOKED' });
    expect((await alice.client.listDevices()).devices.map((d) => d.deviceId)).toEqual([first.deviceId]);
    await expect(b.send(msgId('gone'), [{ to: pending, body: body('stop') }])).rejects.toMatchObject({
      code: 'GW_UNKNOWN_RECIPIENT',
    });
    // A device of another account cannot be signed out.
    await expect(bob.client.signOutDevice(first.deviceId)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    b.close();
  });
});

import { HushClient } from '@hush/client';
import { CloseCodes, type KeysChangedEvent, subjects } from '@hush/protocol';
import { natsOptions, type Stack } from '@hush/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import {
  addGateway,
  backbone,
  body,
  closedCode,
  type Device,
  fakeKeys,
  Inbox,
  msgId,
  newUser,
  sameDevice,
  sleep,
  WS,
} from './support.js';

// Two gateway processes, the three services as processes, private nats-server and redis-server.
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

describe('messages through two gateways', () => {
  it('lets two users exchange envelopes while connected to different gateway processes', async () => {
    const alice = await newUser(gw0, 'alice');
    const bob = await newUser(gw1, 'bob');
    const a = alice.client.connect();
    const b = bob.client.connect();
    await Promise.all([a.ready(), b.ready()]);
    const aIn = new Inbox().attach(a);
    const bIn = new Inbox().attach(b);
    const toBob = Array.from({ length: 10 }, () => msgId('ab'));
    const toAlice = Array.from({ length: 10 }, () => msgId('ba'));
    await Promise.all([
      ...toBob.map((id) => a.send(id, [{ to: bob.addr, body: body(`secret ${id}`) }])),
      ...toAlice.map((id) => b.send(id, [{ to: alice.addr, body: body(`secret ${id}`) }])),
    ]);
    await Promise.all([bIn.waitForIds(toBob), aIn.waitForIds(toAlice)]);
    expect(bIn.frames.find((f) => f.id === toBob[0])).toMatchObject({
      from: alice.addr,
      body: body(`secret ${toBob[0]}`),
    });
    a.close();
    b.close();
  });

  it('gives a device that was offline its backlog, in order, when it reconnects to the other gateway', async () => {
    const alice = await newUser(gw0, 'alice');
    const bob = await newUser(gw0, 'bob');
    const b0 = bob.client.connect();
    await b0.ready();
    b0.close();
    const a = alice.client.connect();
    await a.ready();
    const ids = Array.from({ length: 30 }, (_, i) => `${msgId('bl')}_${String(i).padStart(3, '0')}`);
    for (const id of ids) await a.send(id, [{ to: bob.addr, body: body(id) }]);
    const b1 = sameDevice(bob, gw1).connect();
    const inbox = new Inbox().attach(b1);
    await inbox.waitForIds(ids);
    expect(inbox.ids).toEqual(ids);
    expect(inbox.frames.map((f) => f.seq)).toEqual([...inbox.frames.map((f) => f.seq)].sort((x, y) => x - y));
    a.close();
    b1.close();
  });

  it('delivers a message id that was sent repeatedly, through both gateways, once', async () => {
    const alice = await newUser(gw0, 'alice');
    const bob = await newUser(gw1, 'bob');
    const a0 = alice.client.connect();
    await a0.ready();
    const id = msgId('dup');
    for (let i = 0; i < 3; i++) await a0.send(id, [{ to: bob.addr, body: body('once') }]);
    a0.close();
    await closedCode(a0);
    const a1 = sameDevice(alice, gw1).connect();
    await a1.ready();
    await a1.send(id, [{ to: bob.addr, body: body('once') }]);
    const marker = msgId('mark');
    await a1.send(marker, [{ to: bob.addr, body: body('marker') }]);
    const b = bob.client.connect();
    const inbox = new Inbox().attach(b);
    await inbox.waitForIds([marker]);
    await sleep(300);
    expect(inbox.ids).toEqual([id, marker]);
    a1.close();
    b.close();
  });

  it('keeps other users\u2019 traffic flowing while one socket sends malformed, oversized and unknown frames', async () => {
    const alice = await newUser(gw0, 'alice');
    const bob = await newUser(gw0, 'bob');
    const mallory = await newUser(gw0, 'mallory');
    const a = alice.client.connect();
    const b = bob.client.connect();
    await Promise.all([a.ready(), b.ready()]);
    const inbox = new Inbox().attach(b);
    const raw = new WebSocket(`${gw0.replace('http', 'ws')}/ws`);
    await new Promise((r) => raw.once('open', r));
    const errors: string[] = [];
    raw.on('message', (d) => {
      const f = JSON.parse(d.toString());
      if (f.type === 'error') errors.push(f.code);
    });
    const frameOf = (type: string) =>
      new Promise((r) => raw.on('message', (d) => JSON.parse(d.toString()).type === type && r(true)));
    const ready = frameOf('ready');
    raw.send(JSON.stringify({ type: 'hello', token: mallory.session.accessToken }));
    await ready;
    const junk = [
      '{oops',
      JSON.stringify({ type: 'warp', id: 'abcdefgh' }),
      JSON.stringify({ type: 'send', id: 'x', envelopes: 'no' }),
      JSON.stringify({ type: 'send', id: 'abcdefgh', envelopes: [{ to: bob.addr, body: 'A'.repeat(300_000) }] }),
      JSON.stringify({ type: 'ack', seq: -1 }),
    ];
    const ids = Array.from({ length: 20 }, () => msgId('ok'));
    const sending = Promise.all(ids.map((id) => a.send(id, [{ to: bob.addr, body: body(id) }])));
    for (let i = 0; i < 10; i++) for (const j of junk) raw.send(j);
    await sending;
    await inbox.waitForIds(ids);
    // A socket's frames are answered in order: once the ping's pong is here, every junk frame's
    // error is too, and the socket is still open.
    const pong = frameOf('pong');
    raw.send(JSON.stringify({ type: 'ping' }));
    expect(await pong).toBe(true);
    expect(errors).toContain('GW_BAD_FRAME');
    expect(errors).toContain('GW_UNKNOWN_FRAME');
    expect(errors).toContain('GW_FRAME_TOO_LARGE');
    expect(raw.readyState).toBe(WebSocket.OPEN);
    expect((await fetch(`${gw0}/readyz`)).status).toBe(200);
    raw.close();
    a.close();
    b.close();
  });
});

describe('what a device may do', () => {
  let alice: Device;
  let bob: Device;
  beforeAll(async () => {
    alice = await newUser(gw0, 'alice');
    bob = await newUser(gw1, 'bob');
  });

  it('reads only its own mailbox: another user\u2019s token never yields its envelopes', async () => {
    const eve = await newUser(gw0, 'eve');
    const e = eve.client.connect();
    const eIn = new Inbox().attach(e, false);
    await e.ready();
    // Eve acks guessed sequence numbers; they name nothing on her socket.
    for (let s = 1; s < 100; s++) e.ack(s);
    const a = alice.client.connect();
    await a.ready();
    const id = msgId('priv');
    await a.send(id, [{ to: bob.addr, body: body('for bob') }]);
    const b = bob.client.connect();
    const bIn = new Inbox().attach(b);
    await bIn.waitForIds([id]);
    expect(eIn.unique.has(id)).toBe(false);
    a.close();
    b.close();
    e.close();
  });

  it('cannot publish a device list that leaves out the publishing device', async () => {
    const other = await newUser(gw0, 'other');
    const r = await fetch(`${gw1}/v1/keys/device-list`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${other.session.accessToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        version: 2,
        devices: [alice.addr.device],
        issuedAt: Date.now(),
        signature: Buffer.alloc(64, 1).toString('base64'),
      }),
    });
    expect(r.status).toBe(403);
    expect((await r.json()).error.code).toBe('KEYS_FORBIDDEN');
  });

  it('hands out each one-time prekey at most once under many concurrent claims through the HTTP API', async () => {
    const target = await newUser(gw0, 'target', { prekeys: 40 });
    const claimers = await Promise.all(Array.from({ length: 4 }, (_, i) => newUser(i % 2 ? gw1 : gw0, `claim${i}`)));
    const results = await Promise.all(
      Array.from({ length: 60 }, (_, i) => claimers[i % claimers.length]!.client.fetchBundle(target.addr.user)),
    );
    const keyIds = results.flatMap((r) => r.devices.map((d) => d.oneTimePrekey?.keyId)).filter((k) => k !== undefined);
    expect(keyIds.length).toBe(40);
    expect(new Set(keyIds).size).toBe(keyIds.length);
    expect(results.filter((r) => r.devices[0]?.oneTimePrekey === null)).toHaveLength(20);
    expect((await target.client.prekeyCount()).remaining).toBe(0);
  });
});

describe('logout', () => {
  it('closes the device\u2019s socket on every gateway within a second and refuses its token afterwards', async () => {
    const carol = await newUser(gw0, 'carol');
    const token = carol.session.accessToken;
    const conn = sameDevice(carol, gw1).connect();
    await conn.ready();
    const revoked = new Promise<number>((r) => conn.on('revoked', (e) => r(e.code)));
    const t0 = Date.now();
    await carol.client.logout(); // through gw0; the socket lives on gw1
    expect(await revoked).toBe(4403);
    expect(Date.now() - t0).toBeLessThan(1_000);
    for (const url of [gw0, gw1]) {
      const r = await fetch(`${url}/v1/keys/count`, { headers: { authorization: `Bearer ${token}` } });
      expect(r.status).toBe(401);
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ type: 'hello', token }));
      const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
      expect(code).toBe(4403);
    }
  });

  it('is enforced by a gateway started after the logout (it asks auth, not only its memory)', async () => {
    const dave = await newUser(gw0, 'dave');
    const token = dave.session.accessToken;
    await dave.client.logout();
    const late = await addGateway(stack);
    const ws = new WebSocket(`${late.url!.replace('http', 'ws')}/ws`);
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', token }));
    expect(await new Promise<number>((r) => ws.once('close', (c) => r(c)))).toBe(4403);
    await late.kill();
    stack.gateways.splice(stack.gateways.indexOf(late), 1);
  }, 180_000);
});

describe('presence through the gateways', () => {
  it('shows a contact going online and offline as its device connects and disconnects elsewhere', async () => {
    const alice = await newUser(gw0, 'alice');
    const bob = await newUser(gw1, 'bob');
    await bob.client.addContact(alice.addr.user); // bob shares his presence with alice
    const a = alice.client.connect();
    await a.ready();
    const seen: { online: boolean }[] = [];
    a.on('presence', (p) => p.user === bob.addr.user && seen.push(p));
    a.subscribePresence([bob.addr.user]);
    await waitUntil(() => seen.length >= 1);
    const b = bob.client.connect();
    await b.ready();
    await waitUntil(() => seen.some((p) => p.online));
    b.close();
    await waitUntil(() => seen.at(-1)?.online === false);
    a.close();
  });
});

async function waitUntil(pred: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(50);
  }
}

describe('an explicit identity reset on sign-in (keydir -> auth -> gateways)', () => {
  it('drops the old devices: their sockets close, their mailboxes are purged, contacts are told', async () => {
    const alice = await newUser(gw0, 'alice');
    const bob = await newUser(gw1, 'bob');
    const nc = await connect({ servers: stack.nats.url, ...natsOptions(stack.nats, 'observer') });
    const changed: KeysChangedEvent[] = [];
    const sub = nc.subscribe(subjects(stack.env.SUBJECT_PREFIX).events.keysChanged(alice.addr.user), {
      callback: (_e, m) => {
        changed.push(m.json<KeysChangedEvent>());
      },
    });
    // Alice's first device receives a message but does not ack it: it stays in its mailbox.
    const a1 = alice.client.connect();
    await a1.ready();
    const a1In = new Inbox().attach(a1, false);
    const b = bob.client.connect();
    await b.ready();
    const pending = msgId('pend');
    await b.send(pending, [{ to: alice.addr, body: body('before the reset') }]);
    await a1In.waitForIds([pending]);
    const a1Closed = closedCode(a1);

    // Alice signs in on a new device that does not hold her identity key. Publishing another
    // identity is refused unless she explicitly chose "Reset identity"; then it is a new identity.
    const fresh = new HushClient({ baseUrl: gw1, WebSocket: WS });
    const s2 = await fresh.login(alice.session.username, 'correct horse battery staple', 'new phone');
    const keys2 = fakeKeys(s2.deviceId);
    await expect(fresh.publishKeys(keys2)).rejects.toMatchObject({ code: 'KEYS_IDENTITY_MISMATCH' });
    await fresh.publishKeys({ ...keys2, resetIdentity: true });

    // The old socket ends either way: 4403 (terminal) when auth's revocation arrives first, 4409
    // when the hub hears of the new connection first, 4003 (reconnect, then refused at hello) when
    // keydir's deletion of its mailbox consumer does.
    expect([CloseCodes.REVOKED, CloseCodes.REPLACED, CloseCodes.UPSTREAM_LOST]).toContain(await a1Closed);
    // Its token is refused from now on, on every gateway.
    for (const url of [gw0, gw1]) {
      const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`);
      await new Promise((r) => ws.once('open', r));
      ws.send(JSON.stringify({ type: 'hello', token: alice.session.accessToken }));
      expect(await new Promise<number>((r) => ws.once('close', (c) => r(c)))).toBe(4403);
    }
    expect(changed.at(-1)).toMatchObject({
      userId: alice.addr.user,
      identityChanged: true,
      reason: 'identity-reset',
      removedDevices: [alice.addr.device],
    });
    // Stream state is read with the operator's credentials: the observer may only subscribe.
    const adminNc = await connect({ servers: stack.nats.url, ...natsOptions(stack.nats, 'admin') });
    const jsm = await jetstreamManager(adminNc);
    const subject = subjects(stack.env.SUBJECT_PREFIX).mailbox(alice.addr.user, alice.addr.device);
    const info = await jsm.streams.info(stack.env.STREAM_NAME!, { subjects_filter: subject });
    expect(info.state.subjects?.[subject] ?? 0).toBe(0);
    await adminNc.close();

    // Bob now sees only the new device, under the new identity key, and cannot address the old one.
    const bundle = await bob.client.fetchBundle(alice.addr.user);
    expect(bundle.identityKey).toBe(keys2.identityKey);
    expect(bundle.devices.map((d) => d.deviceId)).toEqual([s2.deviceId]);
    await expect(b.send(msgId('old'), [{ to: alice.addr, body: body('to the old device') }])).rejects.toMatchObject({
      code: 'GW_UNKNOWN_RECIPIENT',
    });
    sub.unsubscribe();
    await nc.close();
    b.close();
  });
});

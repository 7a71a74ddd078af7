import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { subjects } from '@hush/protocol';
import { registry } from '@hush/service-kit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { b64, http, register, type SecurityStack, securityStack, Ws } from './stack.js';

// The WebSocket path of the real gateway against real keydir/presence: message-id scope, client
// protocol violations, and the bounds on queued frames, presence.sub and directory lookups.
const SEND_BURST = 100;
let st: SecurityStack;
beforeAll(async () => {
  st = await securityStack('secws', { gateway: { sendBurst: SEND_BURST, sendRate: 1 } });
});
afterAll(async () => {
  await st?.stop();
});

const msgId = () => `m${randomBytes(6).toString('hex')}`;

describe('message ids', () => {
  it('never lets one sender’s message id suppress another sender’s message to the same device', async () => {
    const [alice, mallory, bob] = await Promise.all([
      register(st.gw, 'alice'),
      register(st.gw, 'mallory'),
      register(st.gw, 'bob'),
    ]);
    const id = msgId();
    const m = await Ws.connect(st.gw.wsUrl, mallory.session.accessToken);
    m.send({ type: 'send', id, envelopes: [{ to: bob.addr, body: b64('from mallory first') }] });
    expect(await m.nextType('accepted')).toMatchObject({ id });
    const a = await Ws.connect(st.gw.wsUrl, alice.session.accessToken);
    a.send({ type: 'send', id, envelopes: [{ to: bob.addr, body: b64('from alice') }] });
    expect(await a.nextType('accepted')).toMatchObject({ id });
    // The same sender retrying the same id is still stored once (its outbox resends byte-identically).
    a.send({ type: 'send', id, envelopes: [{ to: bob.addr, body: b64('from alice') }] });
    await a.nextType('accepted');

    const b = await Ws.connect(st.gw.wsUrl, bob.session.accessToken);
    const first = await b.nextType('deliver');
    const second = await b.nextType('deliver');
    expect(new Set([first.from, second.from].map((f) => (f as { user: string }).user))).toEqual(
      new Set([alice.addr.user, mallory.addr.user]),
    );
    // No third copy: a later message from alice is the next delivery, and the mailbox delivers in
    // stream order, so a stored duplicate would have come before it.
    for (const f of [first, second]) b.send({ type: 'ack', seq: f.seq });
    const marker = msgId();
    a.send({ type: 'send', id: marker, envelopes: [{ to: bob.addr, body: b64('after') }] });
    await a.nextType('accepted');
    expect(await b.nextType('deliver')).toMatchObject({ id: marker });
    expect(b.frames.filter((f) => f.type === 'deliver')).toHaveLength(0);
    for (const c of [a, m, b]) c.close();
  });
});

/** Opens a raw TCP WebSocket (no client library to stop us breaking the protocol). */
async function rawSocket(url: string): Promise<Socket> {
  const { port } = new URL(url);
  const sock = connect(Number(port), '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    sock.once('error', reject);
    sock.write(
      'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
    );
    sock.once('data', (d) => (d.toString().startsWith('HTTP/1.1 101') ? resolve() : reject(new Error(d.toString()))));
  });
  return sock;
}
const masked = (first: number, payload: number[]) => {
  const mask = [1, 2, 3, 4];
  return Buffer.from([first, 0x80 | payload.length, ...mask, ...payload.map((b, i) => b ^ mask[i % 4]!)]);
};

describe('client protocol violations', () => {
  it('are counted and logged below warning level, never as server errors', async () => {
    const violations = [
      Buffer.from([0x81, 0x02, 0x68, 0x69]), // unmasked client frame
      masked(0x83, []), // reserved opcode
      masked(0xc1, [0x68]), // RSV1 without an extension
      masked(0x81, [0xff, 0xfe, 0xfd]), // text frame that is not UTF-8
    ];
    const before = st.gw.logs.length;
    for (const frame of violations) {
      const sock = await rawSocket(st.gw.url);
      const closed = new Promise((r) => sock.once('close', r));
      sock.write(frame);
      await closed;
    }
    // Counted in the socket's error handler, which may run just after the client saw the close.
    await vi.waitFor(() => {
      const counted = st.gw.app.hub.protocolViolations.snapshot();
      expect(Object.values(counted).reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(violations.length);
    });
    const exported = await registry.metrics();
    expect(exported).toMatch(/^hush_ws_protocol_violations_total\{[^}]*code="WS_ERR_[A-Z_]+"[^}]*\} [1-9]/m);
    const lines = st.gw.logs.slice(before).map((l) => JSON.parse(l) as { level: number; msg: string });
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });
});

describe('bounds on the WebSocket path', () => {
  it('stops reading a socket that floods frames faster than they are handled', async () => {
    const [u, bob] = await Promise.all([register(st.gw, 'flood'), register(st.gw, 'floodbob')]);
    const c = await Ws.connect(st.gw.wsUrl, u.session.accessToken);
    const conn = [...st.gw.app.hub.all].find((x) => x.identity?.userId === u.addr.user)!;
    // 60 sends of 150 KB each (9 MB): each waits for a JetStream ack, so they arrive far faster
    // than they are handled.
    const body = randomBytes(110_000).toString('base64');
    const ids = Array.from({ length: 60 }, msgId);
    for (const id of ids) c.send({ type: 'send', id, envelopes: [{ to: bob.addr, body }] });
    for (const id of ids) await c.next((f) => f.id === id, 100_000);
    expect(conn.peakQueuedBytes).toBeGreaterThan(0);
    expect(conn.peakQueuedBytes).toBeLessThanOrEqual(2 * 1024 * 1024);
    c.close();
  }, 120_000);

  it('rate-limits presence.sub and caps the users one socket follows', async () => {
    const u = await register(st.gw, 'psub', { keys: false });
    // Four users share presence with u; this gateway lets a socket follow three.
    const friends = await Promise.all(Array.from({ length: 4 }, (_, i) => register(st.gw, `pf${i}`, { keys: false })));
    for (const f of friends) await http(st.gw, 'PUT', `/v1/contacts/${u.addr.user}`, { token: f.session.accessToken });
    const capped = await st.addGateway({ maxPresenceFollows: 3 });
    const c = await Ws.connect(capped.wsUrl, u.session.accessToken);
    c.send({ type: 'presence.sub', users: friends.slice(0, 3).map((f) => f.addr.user) });
    for (let i = 0; i < 3; i++) await c.nextType('presence');
    c.send({ type: 'presence.sub', users: [friends[3]!.addr.user] });
    expect(await c.nextType('error')).toMatchObject({ code: 'GW_TOO_MANY_SUBSCRIPTIONS' });
    // Ten presence.sub frames may come at once (two are spent); the rest wait a second each.
    for (let i = 0; i < 12; i++) c.send({ type: 'presence.sub', users: [friends[0]!.addr.user] });
    c.send({ type: 'ping', t: 1 });
    await c.next((f) => f.type === 'pong');
    const answers = c.frames.splice(0);
    const limited = answers.filter((f) => f.type === 'error');
    expect(limited.length).toBeGreaterThanOrEqual(4);
    for (const f of limited) expect(f).toMatchObject({ code: 'GW_RATE_LIMITED', retryAfter: expect.any(Number) });
    expect(answers.filter((f) => f.type === 'presence').length + limited.length).toBe(12);
    c.close();
  });

  it('charges a send one token per distinct recipient user, so one frame cannot buy 64 directory lookups', async () => {
    const u = await register(st.gw, 'lookups');
    const c = await Ws.connect(st.gw.wsUrl, u.session.accessToken);
    const s = subjects(st.env.prefix);
    let lookups = 0;
    const spy = st.env.nc.subscribe(s.keydir.devices, { callback: () => void lookups++ });
    await st.env.nc.flush();
    for (let i = 0; i < 10; i++) {
      const envelopes = Array.from({ length: 64 }, () => ({
        to: { user: randomBytes(10).toString('hex'), device: randomBytes(6).toString('hex') },
        body: b64('x'),
      }));
      c.send({ type: 'send', id: msgId(), envelopes });
      const f = await c.next((f) => f.type === 'error');
      expect(['GW_UNKNOWN_RECIPIENT', 'GW_RATE_LIMITED']).toContain(f.code);
    }
    // Each lookup reached the broker before its answer reached the gateway, so a round trip on the
    // spy's connection delivers every one of them.
    await st.env.nc.flush();
    spy.unsubscribe();
    // The burst (plus a token a second) bounds the lookups, not 10 x 64.
    expect(lookups).toBeLessThanOrEqual(SEND_BURST + 20);
    c.close();
  });
});

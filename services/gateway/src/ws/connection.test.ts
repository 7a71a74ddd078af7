import { CloseCodes, MAX_FRAME_BYTES } from '@hush/protocol';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, type Harness, harness, WsProbe } from '../test-support.js';

let h: Harness;
const alice = { user: 'alice00000001', device: 'adev01' };
const bob = { user: 'bob0000000001', device: 'bdev01' };
const bob2 = { user: 'bob0000000001', device: 'bdev02' };

beforeAll(async () => {
  h = await harness({ sendRate: 20, sendBurst: 40, helloTimeoutMs: 2_000 });
  h.devices.set(alice.user, [alice.device]);
  h.devices.set(bob.user, [bob.device, bob2.device]);
});
afterAll(async () => {
  await h?.close();
});

const connect = async (who: { user: string; device: string }) =>
  WsProbe.connect(h.wsUrl, await h.token(who.user, who.device));
let n = 0;
const msgId = () => `msg${Date.now().toString(36)}x${++n}`;

describe('the /ws handshake', () => {
  it('binds the socket to the token and answers ready', async () => {
    const p = new WsProbe(h.wsUrl);
    await p.opened;
    p.send({ type: 'hello', token: await h.token(alice.user, alice.device) });
    const ready = await p.nextType('ready');
    expect(ready).toMatchObject({ user: alice.user, device: alice.device, v: 1 });
    p.close();
  });

  it('refuses any frame before hello with GW_NOT_AUTHENTICATED and close 4401', async () => {
    const p = new WsProbe(h.wsUrl);
    await p.opened;
    p.send({ type: 'ping' });
    expect(await p.nextType('error')).toMatchObject({ code: 'GW_NOT_AUTHENTICATED' });
    expect((await p.closed).code).toBe(CloseCodes.UNAUTHORIZED);
  });

  it('closes with 4408 when no hello arrives in time', async () => {
    const p = new WsProbe(h.wsUrl);
    await p.opened;
    expect((await p.closed).code).toBe(CloseCodes.HELLO_TIMEOUT);
  });

  it('closes with 4100 (refresh, then reconnect) for an expired token', async () => {
    const p = new WsProbe(h.wsUrl);
    await p.opened;
    p.send({ type: 'hello', token: await h.token(alice.user, alice.device, { iatOffset: -700, expSeconds: 600 }) });
    expect(await p.nextType('error')).toMatchObject({ code: 'AUTH_TOKEN_EXPIRED' });
    expect((await p.closed).code).toBe(CloseCodes.TOKEN_EXPIRED);
  });

  it('closes with 4401 for tokens signed by another key, for alg none, and for a wrong audience', async () => {
    const other = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const header = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    const claims = Buffer.from(
      JSON.stringify({ sub: alice.user, dev: alice.device, iss: 'hush-auth', aud: 'hush', jti: 'x', iat: 1, exp: 9e9 }),
    ).toString('base64url');
    const tokens = [
      await h.token(alice.user, alice.device, { key: other.privateKey }),
      await h.token(alice.user, alice.device, { key: other.privateKey, kid: 'unknown-kid' }),
      `${header}.${claims}.`,
      await h.token(alice.user, alice.device, { audience: 'someone-else' }),
      await h.token(alice.user, alice.device, { issuer: 'evil' }),
      'not-a-jwt-at-all',
    ];
    for (const token of tokens) {
      const p = new WsProbe(h.wsUrl);
      await p.opened;
      p.send({ type: 'hello', token });
      expect(await p.nextType('error')).toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
      expect((await p.closed).code).toBe(CloseCodes.UNAUTHORIZED);
    }
  });

  it('refuses an HMAC token that uses the public key as its secret (algorithm confusion)', async () => {
    const token = await new SignJWT({ dev: alice.device })
      .setProtectedHeader({ alg: 'HS256', kid: 'k1' })
      .setSubject(alice.user)
      .setIssuer('hush-auth')
      .setAudience('hush')
      .setIssuedAt()
      .setJti('j')
      .setExpirationTime('5m')
      .sign(new TextEncoder().encode('public-key-bytes'));
    const p = new WsProbe(h.wsUrl);
    await p.opened;
    p.send({ type: 'hello', token });
    expect((await p.closed).code).toBe(CloseCodes.UNAUTHORIZED);
  });
});

describe('sending and delivery', () => {
  it('acks a send only after storing it, and pushes it to the recipient device, which acks it', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    const id = msgId();
    a.send({ type: 'send', id, envelopes: [{ to: bob, body: b64('ciphertext-1') }] });
    expect(await a.nextType('accepted')).toMatchObject({ id, count: 1 });
    const d = await b.nextType<{ seq: number; id: string; from: unknown; body: string }>('deliver');
    expect(d).toMatchObject({ id, from: alice, body: b64('ciphertext-1') });
    b.send({ type: 'ack', seq: d.seq });
    a.close();
    b.close();
  });

  it('delivers an offline device its backlog in order when it connects', async () => {
    const a = await connect(alice);
    const ids = Array.from({ length: 10 }, () => msgId());
    for (const id of ids) {
      a.send({ type: 'send', id, envelopes: [{ to: bob2, body: b64(id) }] });
      await a.nextType('accepted');
    }
    const b = await connect(bob2);
    const got: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const d = await b.nextType<{ seq: number; id: string }>('deliver');
      got.push(d.id);
      b.send({ type: 'ack', seq: d.seq });
    }
    expect(got).toEqual(ids);
    a.close();
    b.close();
  });

  it('stores a repeated message id once, so the recipient gets it once', async () => {
    const a = await connect(alice);
    const id = msgId();
    for (let i = 0; i < 3; i++) {
      a.send({ type: 'send', id, envelopes: [{ to: bob2, body: b64('same') }] });
      await a.nextType('accepted');
    }
    const marker = msgId();
    a.send({ type: 'send', id: marker, envelopes: [{ to: bob2, body: b64('marker') }] });
    await a.nextType('accepted');
    const b = await connect(bob2);
    const first = await b.nextType<{ id: string; seq: number }>('deliver');
    const second = await b.nextType<{ id: string; seq: number }>('deliver');
    expect([first.id, second.id]).toEqual([id, marker]);
    b.send({ type: 'ack', seq: first.seq });
    b.send({ type: 'ack', seq: second.seq });
    await new Promise((r) => setTimeout(r, 200));
    expect(b.frames.filter((f) => f.type === 'deliver')).toEqual([]);
    a.close();
    b.close();
  });

  it('redelivers an unacked envelope on the next connection (at-least-once)', async () => {
    const a = await connect(alice);
    const id = msgId();
    a.send({ type: 'send', id, envelopes: [{ to: bob2, body: b64('again') }] });
    await a.nextType('accepted');
    const b1 = await connect(bob2);
    expect(await b1.nextType('deliver')).toMatchObject({ id });
    b1.close();
    await b1.closed;
    const b2 = await connect(bob2);
    const d = await b2.nextType<{ id: string; seq: number }>('deliver');
    expect(d.id).toBe(id);
    b2.send({ type: 'ack', seq: d.seq });
    a.close();
    b2.close();
  });

  it('refuses envelopes for devices that are not current devices of their user', async () => {
    const a = await connect(alice);
    const id = msgId();
    a.send({ type: 'send', id, envelopes: [{ to: { user: bob.user, device: 'ghost1' }, body: b64('x') }] });
    expect(await a.nextType('error')).toMatchObject({ code: 'GW_UNKNOWN_RECIPIENT', id });
    a.close();
  });
});

describe('isolation between devices', () => {
  it('gives a device only its own mailbox: the binding comes from the token, not from frames', async () => {
    const a = await connect(alice);
    const eve = await connect(bob); // eve holds bob's first device token; the target is bob2
    const id = msgId();
    a.send({ type: 'send', id, envelopes: [{ to: bob2, body: b64('for bob2 only') }] });
    await a.nextType('accepted');
    // There is no frame to name a mailbox: a hello-like frame naming another device is refused.
    eve.send({ type: 'hello', token: await h.token(bob2.user, bob2.device) });
    expect(await eve.nextType('error')).toMatchObject({ code: 'GW_BAD_FRAME' });
    eve.send({ type: 'send', id: msgId(), envelopes: [{ to: bob2, body: b64('x') }], mailbox: 'bob2' });
    expect(await eve.nextType('error')).toMatchObject({ code: 'GW_BAD_FRAME' });
    // Acking guessed sequence numbers on another socket does not consume bob2's envelope.
    for (let seq = 1; seq < 200; seq++) eve.send({ type: 'ack', seq });
    await new Promise((r) => setTimeout(r, 300));
    expect(eve.frames.filter((f) => f.type === 'deliver' && f.id === id)).toEqual([]);
    const b2 = await connect(bob2);
    const d = await b2.next<{ seq: number }>((f) => f.type === 'deliver' && f.id === id);
    b2.send({ type: 'ack', seq: d.seq });
    a.close();
    eve.close();
    b2.close();
  });

  it('closes the older socket with 4409 (terminal) when the same device connects again', async () => {
    const first = await connect(alice);
    const second = await connect(alice);
    expect((await first.closed).code).toBe(CloseCodes.REPLACED);
    second.send({ type: 'ping', t: 1 });
    expect(await second.nextType('pong')).toMatchObject({ t: 1 });
    second.close();
  });

  it('closes a revoked device within a second with 4403 and refuses its token afterwards', async () => {
    const dev = { user: 'carol00000001', device: 'cdev01' };
    const token = await h.token(dev.user, dev.device);
    const p = await WsProbe.connect(h.wsUrl, token);
    const t0 = Date.now();
    const r = await h.app.inject({ method: 'POST', url: '/v1/logout', headers: { authorization: `Bearer ${token}` } });
    expect(r.statusCode).toBe(204);
    expect((await p.closed).code).toBe(CloseCodes.REVOKED);
    expect(Date.now() - t0).toBeLessThan(1_000);
    const again = new WsProbe(h.wsUrl);
    await again.opened;
    again.send({ type: 'hello', token });
    expect((await again.closed).code).toBe(CloseCodes.REVOKED);
  });
});

describe('bad frames', () => {
  it('answers malformed, unknown, invalid and oversized frames with error frames and keeps the socket', async () => {
    const a = await connect(alice);
    a.send('{not json');
    expect(await a.nextType('error')).toMatchObject({ code: 'GW_BAD_FRAME' });
    a.send({ type: 'teleport', id: 'abcdefgh' });
    expect(await a.nextType('error')).toMatchObject({ code: 'GW_UNKNOWN_FRAME' });
    a.send({ type: 'send', id: 'abcdefgh', envelopes: [] });
    expect(await a.nextType('error')).toMatchObject({ code: 'GW_BAD_FRAME', id: 'abcdefgh' });
    a.send({ type: 'send', id: 'abcdefgh', envelopes: [{ to: bob, body: 'not base64!' }] });
    expect(await a.nextType('error')).toMatchObject({ code: 'GW_BAD_FRAME' });
    a.send('[1,2,3]');
    expect(await a.nextType('error')).toMatchObject({ code: 'GW_BAD_FRAME' });
    a.ws.send(Buffer.from([1, 2, 3]), { binary: true });
    expect(await a.nextType('error')).toMatchObject({ code: 'GW_BAD_FRAME' });
    a.send({ type: 'send', id: 'bigbigbig', envelopes: [{ to: bob, body: 'A'.repeat(MAX_FRAME_BYTES) }] });
    expect(await a.nextType('error')).toMatchObject({ code: 'GW_FRAME_TOO_LARGE' });
    a.send({ type: 'ping', t: 42 });
    expect(await a.nextType('pong')).toMatchObject({ t: 42 });
    const id = msgId();
    a.send({ type: 'send', id, envelopes: [{ to: bob, body: b64('still works') }] });
    expect(await a.nextType('accepted')).toMatchObject({ id });
    a.close();
  });
});

describe('rate limiting', () => {
  // Its own gateway with a refill so slow (one token per 5 s) that however long a loaded machine
  // takes for the 60 round trips, fewer than 20 tokens come back: the outcome does not depend on time.
  let slow: Harness;
  beforeAll(async () => {
    slow = await harness({ sendRate: 0.2, sendBurst: 40 });
  });
  afterAll(async () => {
    await slow?.close();
  });

  it('answers GW_RATE_LIMITED with retryAfter once a device exceeds its burst', async () => {
    const dev = { user: 'dave00000001', device: 'ddev01' };
    slow.devices.set(dev.user, [dev.device]);
    const p = await WsProbe.connect(slow.wsUrl, await slow.token(dev.user, dev.device));
    const codes: string[] = [];
    for (let i = 0; i < 60; i++) {
      p.send({ type: 'send', id: msgId(), envelopes: [{ to: dev, body: b64('x') }] });
      const f = await p.next((f) => f.type === 'accepted' || f.type === 'error');
      codes.push(f.type === 'error' ? String(f.code) : 'ok');
      if (f.type === 'error') expect(f.retryAfter).toBeGreaterThanOrEqual(1);
    }
    expect(codes.slice(0, 40).every((c) => c === 'ok')).toBe(true);
    expect(codes).toContain('GW_RATE_LIMITED');
    p.close();
  });
});

describe('presence', () => {
  it('answers presence.sub for every user asked, and forwards changes only of those who share presence', async () => {
    const carol = { user: 'carol0000001', device: 'cdev01' };
    // Bob shares his presence with alice and is connected; carol shares nothing.
    const shared = await h.app.inject({
      method: 'PUT',
      url: `/v1/contacts/${alice.user}`,
      headers: { authorization: `Bearer ${await h.token(bob.user, bob.device)}` },
    });
    expect(shared.statusCode).toBe(204);
    const b = await connect(bob);
    const a = await connect(alice);
    a.send({ type: 'presence.sub', users: [bob.user, carol.user] });
    const first = [await a.nextType('presence'), await a.nextType('presence')];
    expect(first).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ user: bob.user, online: true }),
        expect.objectContaining({ user: carol.user, online: false, lastSeen: null }),
      ]),
    );
    const change = (userId: string) =>
      h.nc.publish(
        h.s.events.presenceChanged(userId),
        new TextEncoder().encode(JSON.stringify({ userId, online: false, lastSeen: 123 })),
      );
    change(carol.user); // not followed: must not reach alice
    change(bob.user);
    expect(await a.nextType('presence')).toMatchObject({ user: bob.user, online: false, lastSeen: 123 });
    expect(a.frames.filter((f) => f.type === 'presence' && f.user === carol.user)).toEqual([]);
    a.close();
    b.close();
  });
});

import { type Caller, encodeJson, LINK_MAX_MESSAGES, okReply } from '@hush/protocol';
import { jetstream } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness } from '../test-support.js';

let h: Harness;
const alice = { user: 'alice00000001', device: 'adev01' };
const aliceNew = { user: 'alice00000001', device: 'adev02' };
const mallory = { user: 'mallory000001', device: 'mdev01' };
const channel = 'Zm9vYmFyYmF6cXV4MTIzNA';

beforeAll(async () => {
  h = await harness();
  // auth.devices stand-in: echoes the caller so the test sees what the gateway forwarded.
  h.nc.subscribe(h.s.auth.devices, {
    callback: (_e, m) => {
      const { caller } = JSON.parse(new TextDecoder().decode(m.data)) as { caller: Caller };
      m.respond(
        encodeJson(
          okReply({
            devices: [
              { deviceId: caller.deviceId, name: 'laptop', createdAt: 1, lastSeen: 2, current: true, extra: 'x' },
            ],
          }),
        ),
      );
    },
  });
  await h.nc.flush();
});
afterAll(async () => {
  await h?.close();
});

const auth = async (who: { user: string; device: string }) => ({
  authorization: `Bearer ${await h.token(who.user, who.device)}`,
});
const post = async (who: typeof alice, to: 'new' | 'old', body: string, ch = channel) =>
  h.app.inject({ method: 'POST', url: `/v1/link/${ch}`, headers: await auth(who), payload: { to, body } });
const poll = async (who: typeof alice, side: 'new' | 'old', after = 0, wait = 0, ch = channel) =>
  h.app.inject({
    method: 'GET',
    url: `/v1/link/${ch}?side=${side}&after=${after}&wait=${wait}`,
    headers: await auth(who),
  });
const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('the provisioning relay', () => {
  it('relays ciphertext to the named side, in order, after the caller’s cursor', async () => {
    const a = await post(alice, 'new', b64('opening'));
    expect(a.statusCode).toBe(200);
    const b = await post(alice, 'new', b64('identity'));
    await post(aliceNew, 'old', b64('device name'));
    const got = (await poll(aliceNew, 'new')).json();
    expect(got.messages.map((m: { body: string }) => Buffer.from(m.body, 'base64').toString())).toEqual([
      'opening',
      'identity',
    ]);
    expect(got.messages[0].seq).toBe(a.json().seq);
    const rest = (await poll(aliceNew, 'new', a.json().seq)).json();
    expect(rest.messages.map((m: { seq: number }) => m.seq)).toEqual([b.json().seq]);
    expect((await poll(aliceNew, 'new', b.json().seq)).json()).toEqual({ messages: [] });
    const back = (await poll(alice, 'old')).json();
    expect(Buffer.from(back.messages[0].body, 'base64').toString()).toBe('device name');
  });

  it('answers a waiting poll as soon as a message arrives', async () => {
    const ch = 'd2FpdGluZ3BvbGwxMjM0NQ';
    const waiting = poll(aliceNew, 'new', 0, 10_000, ch);
    await new Promise((r) => setTimeout(r, 300));
    await post(alice, 'new', b64('late'), ch);
    const got = (await waiting).json();
    expect(got.messages).toHaveLength(1);
  });

  it('keeps a channel inside its account: another account sees nothing and writes elsewhere', async () => {
    const ch = 'b3duYWNjb3VudG9ubHkxMg';
    await post(alice, 'new', b64('for alice only'), ch);
    expect((await poll(mallory, 'new', 0, 0, ch)).json()).toEqual({ messages: [] });
    await post(mallory, 'new', b64('from mallory'), ch);
    const mine = (await poll(aliceNew, 'new', 0, 0, ch)).json();
    expect(mine.messages.map((m: { body: string }) => Buffer.from(m.body, 'base64').toString())).toEqual([
      'for alice only',
    ]);
  });

  it('answers bad input with stable codes', async () => {
    const headers = await auth(alice);
    const cases = [
      { method: 'POST' as const, url: '/v1/link/short', payload: { to: 'new', body: b64('x') } },
      { method: 'POST' as const, url: `/v1/link/${channel}`, payload: { to: 'both', body: b64('x') } },
      { method: 'POST' as const, url: `/v1/link/${channel}`, payload: { to: 'new', body: 'not base64!' } },
      { method: 'POST' as const, url: `/v1/link/${channel}`, payload: { to: 'new', body: 'A'.repeat(140_000) } },
      { method: 'POST' as const, url: `/v1/link/${channel}`, payload: { to: 'new', body: b64('x'), more: 1 } },
      { method: 'GET' as const, url: `/v1/link/${channel}?side=new&wait=999999` },
      { method: 'GET' as const, url: `/v1/link/${channel}?side=sideways` },
      { method: 'GET' as const, url: `/v1/link/${channel}?side=new&after=-1` },
    ];
    for (const c of cases) {
      const r = await h.app.inject({ ...c, headers });
      expect(r.json().error?.code, `${c.method} ${c.url}`).toBe('VALIDATION_FAILED');
      expect(r.statusCode).toBe(400);
    }
    const anon = await h.app.inject({ method: 'GET', url: `/v1/link/${channel}?side=new` });
    expect(anon.json().error.code).toBe('AUTH_TOKEN_MISSING');
  });

  it('refuses more than the channel may hold with LINK_CHANNEL_FULL', async () => {
    const ch = 'ZnVsbGNoYW5uZWwxMjM0NQ';
    const headers = await auth(alice);
    for (let i = 0; i < LINK_MAX_MESSAGES; i++) {
      await jetstream(h.nc).publish(h.s.link(alice.user, ch, i % 2 ? 'new' : 'old'), 'AAAA');
    }
    const r = await h.app.inject({
      method: 'POST',
      url: `/v1/link/${ch}`,
      headers,
      payload: { to: 'new', body: 'AAAA' },
    });
    expect(r.statusCode).toBe(413);
    expect(r.json().error.code).toBe('LINK_CHANNEL_FULL');
    // other channels are unaffected
    expect((await post(alice, 'new', 'AAAA', 'b3RoZXJjaGFubmVsMTIzNA')).statusCode).toBe(200);
  });
});

describe('linked devices', () => {
  it('lists the caller’s account devices through auth, with undeclared fields dropped', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/v1/devices', headers: await auth(alice) });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toEqual({
      devices: [{ deviceId: alice.device, name: 'laptop', createdAt: 1, lastSeen: 2, current: true }],
    });
  });

  it('signs out another device remotely by forwarding a logout naming it', async () => {
    const r = await h.app.inject({
      method: 'DELETE',
      url: `/v1/devices/${aliceNew.device}`,
      headers: await auth(alice),
    });
    expect(r.statusCode).toBe(204);
    const sent = h.seen.filter((x) => x.subject === 'auth.logout').at(-1)?.body;
    expect(sent).toEqual({ caller: { userId: alice.user, deviceId: alice.device }, deviceId: aliceNew.device });
    const bad = await h.app.inject({ method: 'DELETE', url: '/v1/devices/NOT.AN.ID', headers: await auth(alice) });
    expect(bad.json().error.code).toBe('VALIDATION_FAILED');
  });
});

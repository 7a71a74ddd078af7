import { CloseCodes, encodeJson, HushError, okReply, type Session } from '@hush/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { b64, type Harness, harness } from '../../../services/gateway/src/test-support.js';
import { HushClient } from './index.js';
import type { WebSocketCtor } from './types.js';

// The client against the real gateway (real NATS/JetStream); auth/keydir/presence are the
// gateway harness's stand-ins so that this test does not depend on those services.
let h: Harness;
const alice = { user: 'alice00000001', device: 'adev01' };
const bob = { user: 'bob0000000001', device: 'bdev01' };

beforeAll(async () => {
  h = await harness();
  h.devices.set(alice.user, [alice.device]);
  h.devices.set(bob.user, [bob.device]);
  // A refresh endpoint that mints a fresh token for whoever the refresh token names.
  h.nc.subscribe(h.s.auth.refresh, {
    callback: (_e, m) => {
      const { refreshToken } = JSON.parse(new TextDecoder().decode(m.data)) as { refreshToken: string };
      const [user, device] = refreshToken.split(':') as [string, string];
      void session(user, device).then((s) => m.respond(encodeJson(okReply(s))));
    },
  });
});
afterAll(async () => {
  await h?.close();
});

async function session(user: string, device: string, o?: Parameters<Harness['token']>[2]): Promise<Session> {
  return {
    userId: user,
    username: `name_${user}`,
    deviceId: device,
    accessToken: await h.token(user, device, o),
    accessExpiresAt: Date.now() + 600_000,
    refreshToken: `${user}:${device}:${'r'.repeat(16)}`,
    refreshExpiresAt: Date.now() + 3_600_000,
  };
}

const client = async (who: { user: string; device: string }) =>
  new HushClient({
    baseUrl: h.url,
    WebSocket: WebSocket as unknown as WebSocketCtor,
    session: await session(who.user, who.device),
  });

let n = 0;
const msgId = () => `cm${Date.now().toString(36)}x${++n}`;

/** Server-side socket of a device, to simulate network failures from the gateway's end. */
const serverSocketOf = (device: string) => [...h.app.hub.all].find((c) => c.identity?.deviceId === device);

describe('HushClient over HTTP', () => {
  it('throws HushError with the gateway code', async () => {
    const c = new HushClient({ baseUrl: h.url });
    await expect(c.prekeyCount()).rejects.toMatchObject({ code: 'AUTH_TOKEN_MISSING' });
    c.session = await session(alice.user, alice.device, { audience: 'wrong' });
    const err = await c.prekeyCount().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HushError);
    expect(err).toMatchObject({ code: 'AUTH_TOKEN_INVALID' });
  });

  it('refreshes once on AUTH_TOKEN_EXPIRED and retries the call', async () => {
    const seen: (Session | null)[] = [];
    const c = new HushClient({
      baseUrl: h.url,
      session: await session(alice.user, alice.device, { iatOffset: -1000 }),
      onSession: (s) => seen.push(s),
    });
    const r = await c.presence([bob.user]);
    expect(r.users[0]).toMatchObject({ userId: bob.user });
    expect(seen).toHaveLength(1);
  });
});

describe('HushClient connections', () => {
  it('sends, receives and acks through the gateway', async () => {
    const a = (await client(alice)).connect();
    const b = (await client(bob)).connect();
    await Promise.all([a.ready(), b.ready()]);
    const got = new Promise<{ id: string; seq: number }>((r) => b.on('deliver', r));
    const id = msgId();
    const accepted = await a.send(id, [{ to: bob, body: b64('hello bob') }]);
    expect(accepted).toMatchObject({ id, count: 1 });
    const d = await got;
    expect(d.id).toBe(id);
    b.ack(d.seq);
    a.close();
    b.close();
  });

  it('rejects a send with the HushError of its error frame', async () => {
    const a = (await client(alice)).connect();
    await a.ready();
    await expect(a.send(msgId(), [{ to: { user: bob.user, device: 'nodev1' }, body: b64('x') }])).rejects.toMatchObject(
      {
        code: 'GW_UNKNOWN_RECIPIENT',
      },
    );
    a.close();
  });

  it('reconnects after a retryable close and re-sends what was waiting, with the same id', async () => {
    const a = (await client(alice)).connect({ minBackoffMs: 50, maxBackoffMs: 200 });
    await a.ready();
    const states: string[] = [];
    a.on('state', (s) => states.push(s.state));
    serverSocketOf(alice.device)!.close(CloseCodes.UPSTREAM_LOST, 'test');
    const id = msgId();
    const sent = a.send(id, [{ to: bob, body: b64('queued while offline') }]);
    expect(await sent).toMatchObject({ id });
    expect(states).toContain('offline');
    expect(states.at(-1)).toBe('open');
    const b = (await client(bob)).connect();
    const d = await new Promise<{ id: string; seq: number }>((r) =>
      b.on('deliver', (f) => {
        b.ack(f.seq);
        if (f.id === id) r(f);
      }),
    );
    expect(d.id).toBe(id);
    a.close();
    b.close();
  });

  it('refreshes its token and reconnects after 4100', async () => {
    const c = await client(alice);
    const a = c.connect({ minBackoffMs: 10 });
    await a.ready();
    const before = c.session!.accessToken;
    serverSocketOf(alice.device)!.close(CloseCodes.TOKEN_EXPIRED, 'test');
    await new Promise<void>((r) => a.on('state', (s) => s.state === 'open' && r()));
    expect(c.session!.accessToken).not.toBe(before);
    a.close();
  });

  it('stops for good and reports revoked on 4403, and does not fight a newer connection (4409)', async () => {
    const a = (await client(alice)).connect();
    await a.ready();
    const revoked = new Promise((r) => a.on('revoked', r));
    serverSocketOf(alice.device)!.close(CloseCodes.REVOKED, 'test');
    await revoked;
    expect(a.state).toBe('closed');

    const first = (await client(alice)).connect({ minBackoffMs: 10 });
    await first.ready();
    const closed = new Promise<{ code?: number }>((r) => first.on('state', (s) => s.state === 'closed' && r(s)));
    const second = (await client(alice)).connect();
    await second.ready();
    expect((await closed).code).toBe(CloseCodes.REPLACED);
    expect(second.state).toBe('open');
    second.close();
  });

  it('follows presence of users who share it with the caller', async () => {
    const bobClient = await client(bob);
    await bobClient.addContact(alice.user); // bob shares his presence with alice
    const b = bobClient.connect();
    await b.ready();
    const a = (await client(alice)).connect();
    await a.ready();
    const p = new Promise((r) => a.on('presence', r));
    a.subscribePresence([bob.user]);
    expect(await p).toMatchObject({ type: 'presence', user: bob.user, online: true });
    a.close();
    b.close();
  });
});

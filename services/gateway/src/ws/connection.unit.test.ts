import { type Address, CloseCodes, HushError, type PresenceQueryReply, type StoredEnvelope } from '@hush/protocol';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { TokenIdentity } from '../tokens.js';
import { Connection } from './connection.js';
import type { ConnectionContext, MailboxMessage, MailboxStream } from './context.js';
import type { Transport } from './transport.js';

/**
 * Connection's logic without a socket or a broker: a scripted transport, a context that records
 * what the connection asked of the gateway, and fake timers. The same behaviour end to end (real
 * `ws`, NATS, JetStream) is in connection.test.ts and lifecycle.test.ts.
 */
class ScriptedTransport implements Transport {
  bufferedAmount = 0;
  isOpen = true;
  readonly out: Record<string, unknown>[] = [];
  pings = 0;
  closedWith: number | undefined;
  send(text: string | Buffer): void {
    this.out.push(JSON.parse(String(text)) as Record<string, unknown>);
  }
  ping(): void {
    this.pings++;
  }
  close(code: number): void {
    this.closedWith = code;
    this.isOpen = false;
  }
  ofType(type: string) {
    return this.out.filter((f) => f.type === type);
  }
}

/** A mailbox whose deliveries the test pushes; records acks and naks. */
class ScriptedMailbox implements MailboxStream {
  private readonly queue: MailboxMessage[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  readonly acked: number[] = [];
  readonly naked: number[] = [];
  push(seq: number, env: StoredEnvelope): void {
    this.queue.push({
      seq,
      data: new TextEncoder().encode(JSON.stringify(env)),
      json: <T>() => env as T,
      ack: () => void this.acked.push(seq),
      nak: () => void this.naked.push(seq),
      term: () => undefined,
    });
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<MailboxMessage> {
    for (;;) {
      const m = this.queue.shift();
      if (m) yield m;
      else if (this.ended) return;
      else await new Promise<void>((r) => (this.wake = r));
    }
  }
  async *status(): AsyncIterable<{ type: string }> {}
  async close(): Promise<void> {
    this.ended = true;
    this.wake?.();
  }
}

const alice: TokenIdentity = { userId: 'alice00000001', deviceId: 'adev01' } as TokenIdentity;
const bob: Address = { user: 'bob000000001', device: 'bdev01' };

function context(over: Partial<ConnectionContext> = {}) {
  const mailbox = new ScriptedMailbox();
  const published: { to: Address; env: StoredEnvelope; msgId: string }[] = [];
  const registered: Connection[] = [];
  const ctx: ConnectionContext = {
    config: { helloTimeoutMs: 1_000, heartbeatMs: 10_000, gatewayId: 'gw_test', maxPresenceFollows: 1_000 },
    track: () => undefined,
    untrack: () => undefined,
    authenticate: async (token) => {
      if (token === 'expired-token-xx') throw new HushError('AUTH_TOKEN_EXPIRED');
      if (token !== 'good-token-xxxxx') throw new HushError('AUTH_TOKEN_INVALID');
      return alice;
    },
    register: (c) => void registered.push(c),
    unregister: () => undefined,
    follow: () => undefined,
    consumeMailbox: async () => mailbox,
    admitSend: () => 0,
    takePresenceToken: () => 0,
    countError: () => undefined,
    checkRecipients: async () => undefined,
    publishEnvelope: async (to, env, msgId) => void published.push({ to, env, msgId }),
    queryPresence: async (): Promise<PresenceQueryReply> => ({ users: [], shared: [] }),
    ...over,
  };
  return { ctx, mailbox, published, registered };
}

const silent = pino({ level: 'silent' }) as unknown as FastifyBaseLogger;
const frame = (f: unknown) => Buffer.from(JSON.stringify(f));

function open(over: Partial<ConnectionContext> = {}) {
  const t = new ScriptedTransport();
  const c = context(over);
  const conn = new Connection(t, c.ctx, silent);
  return { t, conn, ...c };
}

async function ready(over: Partial<ConnectionContext> = {}) {
  const o = open(over);
  o.conn.receive(frame({ type: 'hello', token: 'good-token-xxxxx' }), false);
  await vi.advanceTimersByTimeAsync(0);
  expect(o.t.ofType('ready')).toEqual([
    { type: 'ready', user: alice.userId, device: alice.deviceId, gateway: 'gw_test', v: 1 },
  ]);
  return o;
}

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Connection (scripted transport)', () => {
  it('binds to the token’s device, registers, and answers ready', async () => {
    const { conn, registered } = await ready();
    expect(registered).toEqual([conn]);
    expect(conn.key).toBe(`${alice.userId}/${alice.deviceId}`);
    conn.close(1000, 'done');
  });

  it('closes with the code of each hello failure, after an error frame naming it', async () => {
    const cases: [string, number][] = [
      ['expired-token-xx', CloseCodes.TOKEN_EXPIRED],
      ['someone-elses-xx', CloseCodes.UNAUTHORIZED],
    ];
    for (const [token, code] of cases) {
      const { t, conn } = open();
      conn.receive(frame({ type: 'hello', token }), false);
      await vi.advanceTimersByTimeAsync(0);
      expect(t.closedWith).toBe(code);
      expect(t.ofType('error')).toHaveLength(1);
    }
    const { t, conn } = open({
      authenticate: async () => {
        throw new HushError('AUTH_DEVICE_REVOKED');
      },
    });
    conn.receive(frame({ type: 'hello', token: 'good-token-xxxxx' }), false);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.closedWith).toBe(CloseCodes.REVOKED);
  });

  it('closes with 4408 when no hello arrives within the hello timeout', async () => {
    const { t } = open();
    await vi.advanceTimersByTimeAsync(999);
    expect(t.closedWith).toBeUndefined();
    await vi.advanceTimersByTimeAsync(1);
    expect(t.closedWith).toBe(CloseCodes.HELLO_TIMEOUT);
  });

  it('closes with 4001 after two heartbeats without a pong, and not while pongs come', async () => {
    const { t, conn } = await ready();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(t.pings).toBe(2);
    conn.pong();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(t.closedWith).toBeUndefined();
    await vi.advanceTimersByTimeAsync(10_000);
    expect(t.closedWith).toBe(CloseCodes.HEARTBEAT_TIMEOUT);
  });

  it('publishes each envelope with a per-sender, per-recipient dedupe id before answering accepted', async () => {
    const { t, conn, published } = await ready();
    conn.receive(frame({ type: 'send', id: 'msg00000001', envelopes: [{ to: bob, body: 'AAAA' }] }), false);
    await vi.advanceTimersByTimeAsync(0);
    expect(published).toEqual([
      {
        to: bob,
        msgId: `${alice.userId}.${alice.deviceId}.msg00000001.${bob.user}.${bob.device}`,
        env: expect.objectContaining({ id: 'msg00000001' }),
      },
    ]);
    expect(t.ofType('accepted')).toEqual([expect.objectContaining({ id: 'msg00000001', count: 1 })]);
    conn.close(1000, 'done');
  });

  it('starts the next send’s publishes while an earlier one waits for JetStream, and answers both in frame order', async () => {
    const releases: (() => void)[] = [];
    const started: string[] = [];
    const { t, conn } = await ready({
      publishEnvelope: (_to, env) => {
        started.push(env.id);
        return new Promise<void>((r) => releases.push(r));
      },
    });
    conn.receive(frame({ type: 'send', id: 'msg00000010', envelopes: [{ to: bob, body: 'AAAA' }] }), false);
    conn.receive(frame({ type: 'send', id: 'msg00000011', envelopes: [{ to: bob, body: 'AAAA' }] }), false);
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual(['msg00000010', 'msg00000011']);
    releases[1]!(); // the second is stored first ...
    await vi.advanceTimersByTimeAsync(0);
    expect(t.ofType('accepted')).toEqual([]); // ... but is not answered before the first
    releases[0]!();
    await vi.advanceTimersByTimeAsync(0);
    expect(t.ofType('accepted').map((f) => f.id)).toEqual(['msg00000010', 'msg00000011']);
    conn.close(1000, 'done');
  });

  it('handles an ack at once, even while a send waits for JetStream', async () => {
    const { conn, mailbox } = await ready({ publishEnvelope: () => new Promise<void>(() => undefined) });
    mailbox.push(21, { id: 'msg00000021', from: { user: bob.user, device: bob.device }, ts: 1, body: 'AAAA' });
    await vi.advanceTimersByTimeAsync(0);
    conn.receive(frame({ type: 'send', id: 'msg00000012', envelopes: [{ to: bob, body: 'AAAA' }] }), false);
    conn.receive(frame({ type: 'ack', seq: 21 }), false);
    expect(mailbox.acked).toEqual([21]);
    conn.close(1000, 'done');
  });

  it('answers a rate-limited or failed send with the error and the send’s id', async () => {
    const { t, conn } = await ready({
      admitSend: (() => {
        let n = 0;
        return () => (n++ === 0 ? 2 : 0);
      })(),
      publishEnvelope: async () => {
        throw new Error('no JetStream ack');
      },
    });
    conn.receive(frame({ type: 'send', id: 'msg00000002', envelopes: [{ to: bob, body: 'AAAA' }] }), false);
    conn.receive(frame({ type: 'send', id: 'msg00000003', envelopes: [{ to: bob, body: 'AAAA' }] }), false);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.ofType('error')).toEqual([
      expect.objectContaining({ code: 'GW_RATE_LIMITED', id: 'msg00000002', retryAfter: 2 }),
      expect.objectContaining({ code: 'GW_PUBLISH_FAILED', id: 'msg00000003' }),
    ]);
    conn.close(1000, 'done');
  });

  it('delivers the mailbox, acks only what the client acked, and gives the rest back on close', async () => {
    const { t, conn, mailbox } = await ready();
    const env = (id: string): StoredEnvelope => ({
      id,
      from: { user: bob.user, device: bob.device },
      ts: 1,
      body: 'AAAA',
    });
    mailbox.push(7, env('msg00000007'));
    mailbox.push(8, env('msg00000008'));
    await vi.advanceTimersByTimeAsync(0);
    expect(t.ofType('deliver').map((f) => f.seq)).toEqual([7, 8]);
    conn.receive(frame({ type: 'ack', seq: 7 }), false);
    conn.receive(frame({ type: 'ack', seq: 99 }), false); // not a delivery of this socket: ignored
    await vi.advanceTimersByTimeAsync(0);
    expect(mailbox.acked).toEqual([7]);
    conn.closed(1006);
    await vi.advanceTimersByTimeAsync(0);
    expect(mailbox.naked).toEqual([8]);
  });

  it('answers presence.sub for every user asked but follows only those who share presence', async () => {
    const followed: string[] = [];
    const { t, conn } = await ready({
      follow: (_c, userId) => void followed.push(userId),
      queryPresence: async (_caller, userIds) => ({
        users: userIds.map((userId) => ({ userId, online: false, lastSeen: null })),
        shared: ['carol0000001'],
      }),
    });
    conn.receive(frame({ type: 'presence.sub', users: ['carol0000001', 'dave00000001'] }), false);
    await vi.advanceTimersByTimeAsync(0);
    expect(t.ofType('presence').map((f) => f.user)).toEqual(['carol0000001', 'dave00000001']);
    expect(followed).toEqual(['carol0000001']);
    conn.close(1000, 'done');
  });

  it('stops pulling while the transport’s send buffer is over the limit', async () => {
    const { t, conn, mailbox } = await ready();
    t.bufferedAmount = 2 * 1024 * 1024;
    mailbox.push(1, { id: 'msg00000009', from: { user: bob.user, device: bob.device }, ts: 1, body: 'AAAA' });
    await vi.advanceTimersByTimeAsync(1_000);
    expect(t.ofType('deliver')).toHaveLength(0);
    t.bufferedAmount = 0;
    await vi.advanceTimersByTimeAsync(25);
    expect(t.ofType('deliver')).toHaveLength(1);
    conn.close(1000, 'done');
  });
});

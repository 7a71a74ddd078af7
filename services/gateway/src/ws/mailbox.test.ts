import { encodeJson, type StoredEnvelope, subjects } from '@hush/protocol';
import { type RunningServer, startNats, uniquePrefix } from '@hush/testkit';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { FastifyBaseLogger } from 'fastify';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStream } from '../stream.js';
import type { MailboxMessage } from './context.js';
import type { LazyMailbox } from './mailbox.js';
import { MailboxPool } from './mailbox-pool.js';

/**
 * The lazy mailbox against a real nats-server with JetStream: a connected device without a backlog
 * holds no consumer, anything stored reaches it, and the consumer goes away again once idle.
 */

const IDLE_MS = 150;
let nats: RunningServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;
let pool: MailboxPool;
const s = subjects(uniquePrefix('mb'));
const stream = `MBTEST_${Date.now().toString(36).toUpperCase()}`;
const silent = pino({ level: 'silent' }) as unknown as FastifyBaseLogger;
let n = 0;

beforeAll(async () => {
  nats = await startNats({ isolated: true, jetstream: true });
  nc = await connect({ servers: nats.url });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureStream(jsm, { name: stream, subjects: s, maxAgeMs: 10 * 60_000, replicas: 1 });
  pool = new MailboxPool({ nc, js, jsm, streamName: stream, ackWaitMs: 30_000, log: silent, idleMs: IDLE_MS });
}, 60_000);

afterAll(async () => {
  pool?.stop();
  await nc?.close();
  await nats?.stop();
});

function device() {
  n++;
  return { user: `mbuser${n}`, device: `mbdev${n}` };
}

async function publish(to: { user: string; device: string }, id: string): Promise<void> {
  const env: StoredEnvelope = { id, from: { user: 'sender1', device: 'sdev1' }, ts: Date.now(), body: 'AAAA' };
  await js.publish(s.mailbox(to.user, to.device), encodeJson(env), { msgID: `${id}.${to.user}.${to.device}` });
}

async function open(to: { user: string; device: string }): Promise<LazyMailbox> {
  return pool.open(s.mailbox(to.user, to.device), s.consumerName(to.user, to.device));
}

const hasConsumer = (to: { user: string; device: string }) =>
  jsm.consumers.info(stream, s.consumerName(to.user, to.device)).then(
    () => true,
    () => false,
  );

async function until(cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}

/** Reads the mailbox, acking everything, recording ids in order. */
function reader(mb: LazyMailbox) {
  const ids: string[] = [];
  let stop = false;
  const done = (async () => {
    for await (const m of mb as AsyncIterable<MailboxMessage>) {
      ids.push(m.json<StoredEnvelope>().id);
      m.ack();
      if (stop) break;
    }
  })();
  return { ids, done, stop: () => (stop = true) };
}

describe('LazyMailbox (real nats-server)', () => {
  it('holds no consumer while the device has nothing to read, creates one for a new envelope, and drops it once idle', async () => {
    const d = device();
    const mb = await open(d);
    expect(mb.isActive).toBe(false);
    expect(await hasConsumer(d)).toBe(false);
    const r = reader(mb);
    await publish(d, 'first');
    expect(await until(() => r.ids.length === 1)).toBe(true);
    expect(r.ids).toEqual(['first']);
    // Acked and nothing else for IDLE_MS: back to a subscription, and the consumer is gone.
    expect(await until(async () => !mb.isActive && !(await hasConsumer(d)))).toBe(true);
    // ... and the next envelope still arrives.
    await publish(d, 'second');
    expect(await until(() => r.ids.length === 2)).toBe(true);
    expect(r.ids).toEqual(['first', 'second']);
    await mb.close();
  });

  it('delivers a backlog stored before the device connected, in order, at once', async () => {
    const d = device();
    for (const id of ['b1', 'b2', 'b3']) await publish(d, id);
    const mb = await open(d);
    expect(mb.isActive).toBe(true);
    const r = reader(mb);
    expect(await until(() => r.ids.length === 3)).toBe(true);
    expect(r.ids).toEqual(['b1', 'b2', 'b3']);
    await mb.close();
  });

  it('skips nothing published while it switches between subscription and consumer', async () => {
    const d = device();
    const mb = await open(d);
    const r = reader(mb);
    const sent: string[] = [];
    // Gaps around IDLE_MS, so publishes land before, during and after the idle transitions.
    const t0 = Date.now();
    let i = 0;
    while (Date.now() - t0 < 4_000) {
      const id = `race${i++}`;
      sent.push(id);
      await publish(d, id);
      await new Promise((res) => setTimeout(res, (i * 37) % (IDLE_MS * 2)));
    }
    expect(await until(() => sent.every((id) => r.ids.includes(id)))).toBe(true);
    // Every envelope acked once delivered: the stream holds none of this device's any more.
    expect(
      await until(async () => {
        const m = await jsm.streams.getMessage(stream, { last_by_subj: s.mailbox(d.user, d.device) });
        return m === null;
      }),
    ).toBe(true);
    expect(new Set(r.ids).size).toBe(sent.length);
    await mb.close();
  }, 30_000);

  it('gives unacked deliveries back to the next connection of the device', async () => {
    const d = device();
    const mb = await open(d);
    const got: MailboxMessage[] = [];
    const it = mb[Symbol.asyncIterator]();
    const next = it.next();
    await publish(d, 'u1');
    got.push((await next).value as MailboxMessage);
    await mb.close(); // not acked
    const again = await open(d);
    expect(again.isActive).toBe(true);
    const r = reader(again);
    expect(await until(() => r.ids.length === 1)).toBe(true);
    expect(r.ids).toEqual(['u1']);
    expect(got[0]!.json<StoredEnvelope>().id).toBe('u1');
    await again.close();
  });

  it('finds an older envelope left after a newer one was acked (nats-server 2.9 last_by_subj says none)', async () => {
    const d = device();
    const mb = await open(d);
    const it = mb[Symbol.asyncIterator]();
    await publish(d, 'old1');
    await publish(d, 'new2');
    const first = (await it.next()).value as MailboxMessage;
    const second = (await it.next()).value as MailboxMessage;
    expect([first.json<StoredEnvelope>().id, second.json<StoredEnvelope>().id]).toEqual(['old1', 'new2']);
    second.ack(); // the newest goes; the older one stays unacked (lost in transit, say)
    expect(
      await until(
        async () => (await jsm.streams.getMessage(stream, { last_by_subj: s.mailbox(d.user, d.device) })) === null,
      ),
    ).toBe(true);
    await mb.close();
    const again = await open(d);
    expect(again.isActive).toBe(true);
    const r = reader(again);
    expect(await until(() => r.ids.length === 1)).toBe(true);
    expect(r.ids).toEqual(['old1']);
    await again.close();
  });
});

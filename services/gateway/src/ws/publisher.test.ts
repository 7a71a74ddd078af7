import { subjects } from '@hush/protocol';
import { type RunningServer, startNats, uniquePrefix } from '@hush/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureStream } from '../stream.js';
import { MailboxPublisher } from './publisher.js';

/**
 * The mailbox publisher against a real nats-server with JetStream: it resolves only once the
 * envelope is stored (and a retry with the same id is deduplicated), and fails on every way a
 * publish can go unstored: no stream for the subject, the wrong stream, no answer in time.
 */

let nats: RunningServer;
let nc: NatsConnection;
let jsm: JetStreamManager;
const s = subjects(uniquePrefix('pub'));
const stream = `PUBTEST_${Date.now().toString(36).toUpperCase()}`;
const data = new TextEncoder().encode('{"id":"x"}');

beforeAll(async () => {
  nats = await startNats({ isolated: true, jetstream: true });
  nc = await connect({ servers: nats.url });
  jsm = await jetstreamManager(nc);
  await ensureStream(jsm, { name: stream, subjects: s, maxAgeMs: 10 * 60_000, replicas: 1 });
}, 60_000);

afterAll(async () => {
  await nc?.close();
  await nats?.stop();
});

describe('MailboxPublisher', () => {
  it('resolves once JetStream stored the envelope, and a retry with the same id stores nothing new', async () => {
    const p = new MailboxPublisher(nc, stream);
    const subject = s.mailbox('u1', 'd1');
    await Promise.all(Array.from({ length: 50 }, (_, i) => p.publish(subject, data, `m${i}`)));
    await p.publish(subject, data, 'm7');
    const info = await jsm.streams.info(stream, { subjects_filter: subject });
    expect(info.state.subjects?.[subject]).toBe(50);
    p.close();
  });

  it('fails when no stream takes the subject (no responders)', async () => {
    const p = new MailboxPublisher(nc, stream);
    await expect(p.publish('nowhere.at.all', data, 'n1')).rejects.toThrow(/refused: 503/);
    p.close();
  });

  it('fails when the subject belongs to another stream than the expected one', async () => {
    const p = new MailboxPublisher(nc, 'NOT_THIS_STREAM');
    await expect(p.publish(s.mailbox('u2', 'd2'), data, 'w1')).rejects.toThrow(/JetStream/);
    p.close();
  });

  it('fails when nothing answers in time, and when it is closed with publishes outstanding', async () => {
    // A plain subscriber that never replies: the server has a responder, so only the timeout ends it.
    const sink = nc.subscribe('silent.sink');
    const p = new MailboxPublisher(nc, stream, undefined, 300);
    const started = Date.now();
    await expect(p.publish('silent.sink', data, 't1')).rejects.toThrow(/in time/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    const pending = p.publish('silent.sink', data, 't2');
    p.close();
    await expect(pending).rejects.toThrow(/closed/);
    sink.unsubscribe();
  });
});

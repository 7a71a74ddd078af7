import { natsMsgId, type StoredEnvelope } from '@hush/protocol';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness } from '../test-support.js';

let h: Harness;
const alice = { user: 'alice00000001', device: 'adev01' };
const carol = { user: 'carol0000001', device: 'cdev01' };
const bob1 = { user: 'bob000000001', device: 'bdev01' };
const bob2 = { user: 'bob000000001', device: 'bdev02' };

beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h?.close();
});

type Dev = typeof alice;
/** Stores an envelope as the gateway's send path does (same subject, same Nats-Msg-Id). */
const store = async (from: Dev, to: Dev, id: string) => {
  const env: StoredEnvelope = { id, from, ts: Date.now(), body: 'Y2lwaGVydGV4dA==' };
  await jetstream(h.nc).publish(h.s.mailbox(to.user, to.device), JSON.stringify(env), {
    msgID: natsMsgId(id, to, from),
  });
};
const purge = async (who: Dev, body: unknown) =>
  h.app.inject({
    method: 'POST',
    url: '/v1/messages/purge',
    headers: { authorization: `Bearer ${await h.token(who.user, who.device)}` },
    payload: body as Record<string, unknown>,
  });
/** What each of bob's mailboxes still holds: "<sender user>:<message id>". */
const left = async () => {
  const jsm = await jetstreamManager(h.nc);
  const out: string[] = [];
  const info = await jsm.streams.info(`MBOX_${h.prefix}`);
  for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
    const m = await jsm.streams.getMessage(`MBOX_${h.prefix}`, { seq }).catch(() => null);
    if (m)
      out.push(`${m.subject.split('.').at(-1)} ${m.json<StoredEnvelope>().from.user}:${m.json<StoredEnvelope>().id}`);
  }
  return out.sort();
};

describe('POST /v1/messages/purge: a disappearing message’s undelivered envelopes', () => {
  it('deletes only the envelopes the calling device sent, in the named mailboxes, once', async () => {
    await store(alice, bob1, 'vanish-0001');
    await store(alice, bob2, 'vanish-0001');
    await store(alice, bob1, 'stays-00001');
    // Same message id from another sender: not alice's to delete.
    await store(carol, bob1, 'vanish-0001');
    const before = await left();
    expect(before).toHaveLength(4);

    // Not the sender: nothing goes.
    const bob = await purge(bob1, { id: 'vanish-0001', to: [bob1, bob2] });
    expect(bob.statusCode).toBe(200);
    expect(bob.json()).toEqual({ purged: 0 });

    const r = await purge(alice, { id: 'vanish-0001', to: [bob1, bob2, bob1] });
    expect(r.json()).toEqual({ purged: 2 });
    expect(await left()).toEqual([`bdev01 ${alice.user}:stays-00001`, `bdev01 ${carol.user}:vanish-0001`]);
    // Again: idempotent.
    expect((await purge(alice, { id: 'vanish-0001', to: [bob1, bob2] })).json()).toEqual({ purged: 0 });
  });

  it('refuses a malformed request with a stable code and needs a token', async () => {
    for (const body of [{ id: 'x', to: [bob1] }, { id: 'vanish-0002', to: [] }, { id: 'vanish-0002' }]) {
      const r = await purge(alice, body);
      expect(r.statusCode).toBe(400);
      expect(r.json().error.code).toBe('VALIDATION_FAILED');
    }
    const anon = await h.app.inject({
      method: 'POST',
      url: '/v1/messages/purge',
      payload: { id: 'vanish-0002', to: [bob1] },
    });
    expect(anon.statusCode).toBe(401);
  });
});

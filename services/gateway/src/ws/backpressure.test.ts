import { jetstreamManager } from '@nats-io/jetstream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, type Harness, harness, WsProbe } from '../test-support.js';

let h: Harness;
const alice = { user: 'alice00000001', device: 'adev01' };
const bob = { user: 'bob0000000001', device: 'bdev01' };
const carol = { user: 'carol00000001', device: 'cdev01' };

beforeAll(async () => {
  h = await harness({ sendRate: 1000, sendBurst: 1000, sendBytesRate: 1 << 30, sendBytesBurst: 1 << 30 });
  for (const d of [alice, bob, carol]) h.devices.set(d.user, [d.device]);
});
afterAll(async () => {
  await h?.close();
});

const connect = async (who: { user: string; device: string }) =>
  WsProbe.connect(h.wsUrl, await h.token(who.user, who.device));
const socketOf = (p: WsProbe) => (p.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;

describe('a slow reader', () => {
  it('leaves its backlog in JetStream instead of the gateway, and does not slow other devices', async () => {
    const a = await connect(alice);
    const b = await connect(bob);
    const c = await connect(carol);
    socketOf(b).pause(); // bob stops reading: his socket's buffers fill up
    const big = b64('x'.repeat(150_000));
    const ids = Array.from({ length: 120 }, (_, i) => `slow${String(i).padStart(4, '0')}`);
    for (const id of ids) {
      a.send({ type: 'send', id, envelopes: [{ to: bob, body: big }] });
      await a.nextType('accepted');
    }
    // Carol is served at once while bob's deliveries are stuck.
    a.send({ type: 'send', id: 'tocarol01', envelopes: [{ to: carol, body: b64('hi carol') }] });
    expect(await c.nextType('deliver')).toMatchObject({ id: 'tocarol01' });
    // The gateway stopped pulling bob's mailbox: part of the backlog still waits in the stream.
    const jsm = await jetstreamManager(h.nc);
    const info = await jsm.consumers.info(`MBOX_${h.prefix}`, h.s.consumerName(bob.user, bob.device));
    expect(info.num_pending).toBeGreaterThan(0);
    socketOf(b).resume();
    const got: string[] = [];
    while (got.length < ids.length) {
      const d = await b.nextType<{ id: string; seq: number }>('deliver', 20_000);
      got.push(d.id);
      b.send({ type: 'ack', seq: d.seq });
    }
    expect(got).toEqual(ids);
    a.close();
    b.close();
    c.close();
  }, 60_000);
});

import { registry } from '@hush/service-kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { b64, type Harness, harness, WsProbe } from './test-support.js';

// The stream gauges against a real JetStream mailbox stream: one scrape shows the stream as it is.
let h: Harness;
beforeAll(async () => {
  h = await harness();
  h.devices.set('bob0000000001', ['bdev01']);
});
afterAll(async () => {
  await h?.close();
});

const sample = (text: string, name: string) => {
  const m = new RegExp(`^${name}\\{[^}]*\\} (\\d+)$`, 'm').exec(text);
  return m ? Number(m[1]) : undefined;
};

describe('gateway /metrics', () => {
  it('shows the mailbox backlog of this scrape, not of the one before', async () => {
    expect(sample(await registry.metrics(), 'hush_mailbox_stream_messages')).toBe(0);
    const a = await WsProbe.connect(h.wsUrl, await h.token('alice00000001', 'adev01'));
    for (const id of ['metrics0001', 'metrics0002']) {
      a.send({ type: 'send', id, envelopes: [{ to: { user: 'bob0000000001', device: 'bdev01' }, body: b64(id) }] });
      await a.nextType('accepted');
    }
    a.close();
    const text = await registry.metrics();
    expect(sample(text, 'hush_mailbox_stream_messages')).toBe(2);
    expect(sample(text, 'hush_mailbox_stream_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'hush_mailbox_stream_consumers')).toBe(0);
  });
});

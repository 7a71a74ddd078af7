import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { b64, type Harness, harness, WsProbe } from './test-support.js';

// Logs carry request ids and never a token, a password or a payload.
const logs: string[] = [];
let h: Harness;
beforeAll(async () => {
  h = await harness({}, { logs });
  h.devices.set('bob0000000001', ['bdev01']);
});
afterAll(async () => {
  await h?.close();
});

describe('gateway logs', () => {
  it('never contain tokens, passwords or message payloads, even at debug level', async () => {
    const password = 'canary-password-7f3a9';
    await h.app.inject({
      method: 'POST',
      url: '/v1/register',
      payload: { username: 'alice', password, deviceName: 'laptop' },
    });
    const token = await h.token('alice00000001', 'adev01');
    await h.app.inject({ method: 'GET', url: '/v1/keys/count', headers: { authorization: `Bearer ${token}` } });
    const canary = b64('canary-plaintext-should-never-appear-but-is-ciphertext-anyway');
    const a = await WsProbe.connect(h.wsUrl, token);
    a.send({
      type: 'send',
      id: 'logtest001',
      envelopes: [{ to: { user: 'bob0000000001', device: 'bdev01' }, body: canary }],
    });
    await a.nextType('accepted');
    a.send(`{"type":"send","id":"logtest002","envelopes":"${canary}"}`);
    await a.nextType('error');
    const b = await WsProbe.connect(h.wsUrl, await h.token('bob0000000001', 'bdev01'));
    await b.nextType('deliver');
    a.close();
    b.close();
    // The last lines are the two sockets' disconnects, logged as their close is handled.
    await vi.waitFor(() => expect(logs.filter((l) => l.includes('device disconnected'))).toHaveLength(2));
    const all = logs.join('\n');
    expect(logs.length).toBeGreaterThan(5);
    expect(all).toContain('reqId');
    for (const secret of [password, token, token.split('.')[2]!, canary]) expect(all).not.toContain(secret);
  });
});

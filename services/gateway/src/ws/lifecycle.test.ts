import { CloseCodes } from '@hush/protocol';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Harness, harness, WsProbe } from '../test-support.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close().catch(() => undefined);
  h = undefined;
});

describe('socket lifecycle', () => {
  it('closes a socket that stops answering pings with 4001 after two intervals', async () => {
    h = await harness({ heartbeatMs: 200 });
    const token = await h.token('alice00000001', 'adev01');
    const ws = new WebSocket(h.wsUrl, { autoPong: false });
    await new Promise((r) => ws.once('open', r));
    ws.send(JSON.stringify({ type: 'hello', token }));
    const code = await new Promise<number>((r) => ws.once('close', (c) => r(c)));
    expect(code).toBe(CloseCodes.HEARTBEAT_TIMEOUT);
  });

  it('keeps a socket that answers pings', async () => {
    h = await harness({ heartbeatMs: 100 });
    const p = await WsProbe.connect(h.wsUrl, await h.token('alice00000001', 'adev01'));
    await new Promise((r) => setTimeout(r, 600));
    p.send({ type: 'ping', t: 7 });
    expect(await p.nextType('pong')).toMatchObject({ t: 7 });
    p.close();
  });

  it('closes every socket with 4000 (reconnect) on graceful shutdown, including ones still saying hello', async () => {
    h = await harness();
    const bound = await WsProbe.connect(h.wsUrl, await h.token('alice00000001', 'adev01'));
    const waiting = new WsProbe(h.wsUrl);
    await waiting.opened;
    await h.app.close();
    expect((await bound.closed).code).toBe(CloseCodes.SERVER_SHUTDOWN);
    expect((await waiting.closed).code).toBe(CloseCodes.SERVER_SHUTDOWN);
  });
});

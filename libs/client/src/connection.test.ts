import { CloseCodes, HushError } from '@hush/protocol';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection } from './connection.js';
import type { ConnectionSession, WebSocketCtor, WebSocketLike } from './types.js';

/**
 * Connection's decisions (liveness, resends, what a close code asks for) over a scripted socket and
 * fake timers: each test says what the gateway does and when, and no test waits on a real clock.
 * The same paths against a real gateway are in client.test.ts.
 */
class ScriptedSocket implements WebSocketLike {
  static made: ScriptedSocket[] = [];
  readyState = 0;
  sent: Record<string, unknown>[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    ScriptedSocket.made.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data) as Record<string, unknown>);
  }
  close(): void {
    this.readyState = 3;
  }
  // What the gateway does:
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  frame(f: Record<string, unknown>): void {
    this.onmessage?.({ data: JSON.stringify(f) });
  }
  ready(): void {
    this.open();
    this.frame({ type: 'ready', user: 'alice00000001', device: 'adev01', gateway: 'gw', v: 1 });
  }
  closeWith(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: 'test' });
  }
  sentOfType(type: string) {
    return this.sent.filter((f) => f.type === type);
  }
}

class FakeSession implements ConnectionSession {
  urls = ['ws://gw-a.invalid/ws', 'ws://gw-b.invalid/ws'];
  current = 0;
  refreshes = 0;
  refreshFails = false;
  get wsUrl() {
    return this.urls[this.current]!;
  }
  async accessToken() {
    return `token-${this.refreshes}`.padEnd(20, 'x');
  }
  async refresh() {
    if (this.refreshFails) throw new HushError('AUTH_REFRESH_INVALID');
    this.refreshes++;
  }
  rotate() {
    this.current = (this.current + 1) % this.urls.length;
  }
}

const latest = () => ScriptedSocket.made.at(-1)!;
const body = 'AAAA';
const to = { user: 'bob000000001', device: 'bdev01' };

function connect(session = new FakeSession(), opts = {}) {
  const conn = new Connection(session, ScriptedSocket as unknown as WebSocketCtor, {
    pingIntervalMs: 0,
    minBackoffMs: 100,
    maxBackoffMs: 1_000,
    ...opts,
  });
  const states: { state: string; code?: number }[] = [];
  conn.on('state', (s) => states.push(s));
  conn.start();
  return { conn, session, states };
}

beforeEach(() => {
  ScriptedSocket.made = [];
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

describe('Connection', () => {
  it('gives up on a gateway that stops answering, and reconnects to the next one', async () => {
    const { conn, states } = connect(undefined, { pingIntervalMs: 100 });
    await vi.advanceTimersByTimeAsync(0);
    latest().open(); // TCP and hello go through, then the gateway falls silent
    expect(latest().sent[0]).toMatchObject({ type: 'hello' });
    await vi.advanceTimersByTimeAsync(100);
    expect(latest().sentOfType('ping')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(200); // two intervals without a word
    expect(states.map((s) => s.state)).toContain('offline');
    expect(states.at(-1)).toMatchObject({ state: 'offline', code: CloseCodes.HEARTBEAT_TIMEOUT });
    await vi.advanceTimersByTimeAsync(1_000); // the backoff is below its cap
    expect(ScriptedSocket.made.map((s) => s.url)).toEqual(['ws://gw-a.invalid/ws', 'ws://gw-b.invalid/ws']);
    conn.close();
  });

  it('resends a send with the same id after a retryable error, and resolves on accepted', async () => {
    const { conn } = connect();
    await vi.advanceTimersByTimeAsync(0);
    latest().ready();
    const sent = conn.send('msg00000001', [{ to, body }]);
    latest().frame({ type: 'error', code: 'GW_PUBLISH_FAILED', message: 'x', id: 'msg00000001' });
    await vi.advanceTimersByTimeAsync(100);
    expect(
      latest()
        .sentOfType('send')
        .map((f) => f.id),
    ).toEqual(['msg00000001', 'msg00000001']);
    latest().frame({ type: 'accepted', id: 'msg00000001', ts: 1, count: 1 });
    await expect(sent).resolves.toMatchObject({ id: 'msg00000001' });
    conn.close();
  });

  it('waits retryAfter seconds after a rate limit before resending', async () => {
    const { conn } = connect();
    await vi.advanceTimersByTimeAsync(0);
    latest().ready();
    void conn.send('msg00000002', [{ to, body }]).catch(() => undefined);
    latest().frame({ type: 'error', code: 'GW_RATE_LIMITED', message: 'x', id: 'msg00000002', retryAfter: 2 });
    await vi.advanceTimersByTimeAsync(1_999);
    expect(latest().sentOfType('send')).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(latest().sentOfType('send')).toHaveLength(2);
    conn.close();
  });

  it('rejects a send at once on a code that is not retryable, and after the retry limit on one that is', async () => {
    const { conn } = connect(undefined, { maxSendRetries: 1 });
    await vi.advanceTimersByTimeAsync(0);
    latest().ready();
    const unknown = conn.send('msg00000003', [{ to, body }]);
    latest().frame({ type: 'error', code: 'GW_UNKNOWN_RECIPIENT', message: 'x', id: 'msg00000003' });
    await expect(unknown).rejects.toMatchObject({ code: 'GW_UNKNOWN_RECIPIENT' });
    const failing = conn.send('msg00000004', [{ to, body }]);
    const rejected = expect(failing).rejects.toMatchObject({ code: 'GW_PUBLISH_FAILED' });
    latest().frame({ type: 'error', code: 'GW_PUBLISH_FAILED', message: 'x', id: 'msg00000004' });
    await vi.advanceTimersByTimeAsync(100);
    latest().frame({ type: 'error', code: 'GW_PUBLISH_FAILED', message: 'x', id: 'msg00000004' });
    await rejected;
    conn.close();
  });

  it('refreshes its token and reconnects at once after 4100', async () => {
    const { conn, session } = connect();
    await vi.advanceTimersByTimeAsync(0);
    latest().ready();
    latest().closeWith(CloseCodes.TOKEN_EXPIRED);
    await vi.advanceTimersByTimeAsync(0);
    expect(session.refreshes).toBe(1);
    expect(ScriptedSocket.made).toHaveLength(2);
    latest().open();
    expect(latest().sent[0]).toMatchObject({ type: 'hello', token: expect.stringMatching(/^token-1/) });
    conn.close();
  });

  it('stops for good when the refresh after 4100 fails', async () => {
    const session = new FakeSession();
    session.refreshFails = true;
    const { conn, states } = connect(session);
    const errors: unknown[] = [];
    conn.on('error', (e) => errors.push(e));
    await vi.advanceTimersByTimeAsync(0);
    latest().ready();
    latest().closeWith(CloseCodes.TOKEN_EXPIRED);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(states.at(-1)).toMatchObject({ state: 'closed', code: CloseCodes.TOKEN_EXPIRED });
    expect(errors).toEqual([expect.objectContaining({ code: 'AUTH_REFRESH_INVALID' })]);
    expect(ScriptedSocket.made).toHaveLength(1);
  });

  it('does not reconnect after a terminal close (replaced by another connection of this device)', async () => {
    const { conn, states } = connect();
    await vi.advanceTimersByTimeAsync(0);
    latest().ready();
    const pending = conn.send('msg00000005', [{ to, body }]);
    latest().closeWith(CloseCodes.REPLACED);
    await expect(pending).rejects.toMatchObject({ code: 'GW_NOT_READY' });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(states.at(-1)).toMatchObject({ state: 'closed', code: CloseCodes.REPLACED });
    expect(ScriptedSocket.made).toHaveLength(1);
  });

  it('reconnects to the same gateway after UPSTREAM_LOST and sends again what was not accepted', async () => {
    const { conn } = connect();
    await vi.advanceTimersByTimeAsync(0);
    latest().ready();
    const sent = conn.send('msg00000006', [{ to, body }]);
    latest().closeWith(CloseCodes.UPSTREAM_LOST);
    await vi.advanceTimersByTimeAsync(100);
    expect(ScriptedSocket.made.map((s) => s.url)).toEqual(['ws://gw-a.invalid/ws', 'ws://gw-a.invalid/ws']);
    latest().ready();
    expect(
      latest()
        .sentOfType('send')
        .map((f) => f.id),
    ).toEqual(['msg00000006']);
    latest().frame({ type: 'accepted', id: 'msg00000006', ts: 1, count: 1 });
    await expect(sent).resolves.toMatchObject({ count: 1 });
    conn.close();
  });
});

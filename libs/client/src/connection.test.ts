import { describe, expect, it } from 'vitest';
import { HushClient } from './http.js';
import type { WebSocketCtor, WebSocketLike } from './types.js';

/** A socket whose server accepted the TCP connection and then went silent (half-open). */
class SilentSocket implements WebSocketLike {
  static made: SilentSocket[] = [];
  readyState = 0;
  sent: string[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(readonly url: string) {
    SilentSocket.made.push(this);
    setTimeout(() => {
      this.readyState = 1;
      this.onopen?.({});
    }, 1);
  }
  send(data: string): void {
    this.sent.push(data);
  }
  close(): void {
    this.readyState = 3;
  }
}

const session = {
  userId: 'alice00000001',
  username: 'alice',
  deviceId: 'adev01',
  accessToken: 'x'.repeat(40),
  accessExpiresAt: Date.now() + 600_000,
  refreshToken: 'r'.repeat(20),
  refreshExpiresAt: Date.now() + 3_600_000,
};

describe('Connection liveness', () => {
  it('gives up on a gateway that stops answering, and reconnects to the next one', async () => {
    SilentSocket.made = [];
    const c = new HushClient({
      baseUrl: 'http://gw-a.invalid',
      fallbackUrls: ['http://gw-b.invalid'],
      WebSocket: SilentSocket as unknown as WebSocketCtor,
      session,
    });
    const conn = c.connect({ pingIntervalMs: 100, minBackoffMs: 1, maxBackoffMs: 5 });
    const states: string[] = [];
    conn.on('state', (s) => states.push(s.state));
    await new Promise((r) => setTimeout(r, 900));
    conn.close();
    expect(states).toContain('offline');
    expect(SilentSocket.made.length).toBeGreaterThanOrEqual(2);
    expect(SilentSocket.made[0]!.url).toBe('ws://gw-a.invalid/ws');
    expect(SilentSocket.made[1]!.url).toBe('ws://gw-b.invalid/ws');
    expect(JSON.parse(SilentSocket.made[0]!.sent[0]!)).toMatchObject({ type: 'hello' });
    expect(SilentSocket.made.some((m) => m.sent.some((f) => JSON.parse(f).type === 'ping'))).toBe(true);
  });
});

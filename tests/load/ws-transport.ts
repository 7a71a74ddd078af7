import type { ServerFrame } from '@hush/protocol';
import WebSocket from 'ws';
import type { LoadDevice } from './devices.js';
import type { LoadTransport, TransportEvents } from './phase.js';

/**
 * The gateway path: one WebSocket per device speaking the wire protocol (libs/protocol ws.ts) with
 * the `ws` library directly: hello -> ready, send -> accepted, deliver -> ack. The load generator
 * uses raw frames rather than @hush/client so that its own cost per message stays small and
 * known (no reconnect logic, stores or crypto on the hot path); the gateway sees exactly the
 * frames a real client sends.
 */

/** Opening this many sockets at once: keeps the gateway's hello/consumer setup from timing out. */
const CONNECT_CONCURRENCY = 32;
/** A hello must be answered with ready within this time. */
const READY_TIMEOUT_MS = 20_000;

export function wsUrl(httpUrl: string): string {
  return `${httpUrl.replace(/^http/, 'ws')}/ws`;
}

/** Opens a socket, sends hello and resolves on `ready` (rejects on error/close/timeout). */
export function openSocket(
  url: string,
  token: string,
  onFrame?: (f: ServerFrame, ws: WebSocket) => void,
  /** Source address (any of 127.0.0.0/8 on loopback): one address has ~28 000 ports per gateway port. */
  localAddress?: string,
): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl(url), { perMessageDeflate: false, ...(localAddress ? { localAddress } : {}) });
    let ready = false;
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error('no ready frame in time'));
    }, READY_TIMEOUT_MS);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', token })));
    ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as ServerFrame;
      if (!ready) {
        if (f.type === 'ready') {
          ready = true;
          clearTimeout(timer);
          resolve(ws);
        } else if (f.type === 'error') {
          clearTimeout(timer);
          reject(new Error(`hello refused: ${f.code}`));
        }
        // Deliveries may come right after ready; frames before it other than error are ignored.
        if (f.type !== 'deliver') return;
      }
      onFrame?.(f, ws);
    });
    ws.on('error', (e) => {
      if (!ready) {
        clearTimeout(timer);
        reject(e);
      }
    });
    ws.on('close', (code) => {
      if (!ready) {
        clearTimeout(timer);
        reject(new Error(`closed before ready (${code})`));
      }
    });
  });
}

/** Runs `fn` over items with at most `n` at once. */
export async function pool<T, R>(items: T[], n: number, fn: (t: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]!, i);
      }
    }),
  );
  return out;
}

export class GatewayTransport implements LoadTransport {
  readonly name = 'gateway';
  events: TransportEvents = { accepted() {}, rejected() {}, delivered() {} };
  private sockets: WebSocket[] = [];
  /** Sockets that closed while the test ran (each one would be a reconnect for a real client). */
  closes = 0;
  private readonly frames: string[];

  private constructor(private readonly dev: LoadDevice[]) {
    // Pre-render the envelope address part of each send frame once per recipient.
    this.frames = dev.map((d) => `,"envelopes":[{"to":{"user":"${d.userId}","device":"${d.deviceId}"},"body":"`);
  }

  get devices(): number {
    return this.dev.length;
  }

  static async open(devices: LoadDevice[], urls: string[]): Promise<GatewayTransport> {
    const t = new GatewayTransport(devices);
    t.sockets = await pool(devices, CONNECT_CONCURRENCY, (d) =>
      openSocket(urls[d.gateway]!, d.accessToken, (f, ws) => t.onFrame(f, ws)),
    );
    for (const ws of t.sockets) ws.on('close', () => t.closes++);
    return t;
  }

  private onFrame(f: ServerFrame, ws: WebSocket): void {
    switch (f.type) {
      case 'deliver':
        this.events.delivered(f.id);
        // The client "decrypts and stores" (nothing to do for opaque bodies), then acks (docs/PROTOCOL-WIRE.md §3, "Receiving").
        ws.send(`{"type":"ack","seq":${f.seq}}`);
        return;
      case 'accepted':
        this.events.accepted(f.id);
        return;
      case 'error':
        if (f.id) this.events.rejected(f.id, f.code);
        return;
    }
  }

  send(from: number, to: number, id: string, body: string): void {
    const ws = this.sockets[from]!;
    if (ws.readyState !== WebSocket.OPEN) {
      this.events.rejected(id, 'SOCKET_CLOSED');
      return;
    }
    ws.send(`{"type":"send","id":"${id}"${this.frames[to]}${body}"}]}`);
  }

  async close(): Promise<void> {
    await Promise.all(
      this.sockets.map(
        (ws) =>
          new Promise<void>((r) => {
            if (ws.readyState === WebSocket.CLOSED) return r();
            ws.once('close', () => r());
            ws.close(1000);
            setTimeout(() => {
              ws.terminate();
              r();
            }, 2_000).unref();
          }),
      ),
    );
  }
}

import {
  type Address,
  backoffDelay,
  closeAction,
  type RetryPolicy,
  retryDelay,
  type ServerFrame,
} from '@hush/protocol';
import WebSocket from 'ws';
import type { LoadDevice } from '../load/devices.js';
import { wsUrl } from '../load/ws-transport.js';

/**
 * A minimal reconnecting client for the fault tests, doing what docs/PROTOCOL-WIRE.md §3 asks of a
 * real client: resend a message with the same id until the gateway accepts it (JetStream dedupes by id),
 * dedupe deliveries by message id, ack each delivery, and on a retryable close reconnect to the next
 * gateway in its list. It counts what happens on the wire so the tests can print it.
 */

/**
 * The project's retry policy (libs/protocol/src/retry.ts) with a shorter cap: the faults last
 * seconds, and a client that keeps trying until the test's deadline shows whether anything is lost.
 * A send is retried on every retryable code for as long as the test runs, as an app's outbox would.
 */
const POLICY: RetryPolicy = { minBackoffMs: 200, maxBackoffMs: 1_000, maxRetries: Number.POSITIVE_INFINITY };

interface Pending {
  frame: string;
  /** How many times it was sent again after a retryable error. */
  retries: number;
}

export class FaultClient {
  ws: WebSocket | undefined;
  private stopped = false;
  private urlIndex = 0;
  /** Reconnects since the last `ready` (the backoff's attempt number). */
  private attempt = 0;
  private readonly pending = new Map<string, Pending>();
  readonly accepted = new Set<string>();
  /** When each id was accepted (for the diagnosis of a loss). */
  readonly acceptedAt = new Map<string, number>();
  readonly failed = new Map<string, string>();
  /** Unique message ids received (what the user sees after dedupe), with receive time. */
  readonly received = new Map<string, number>();
  /** Deliveries of an id already received: wire-level redeliveries hidden by the dedupe. */
  wireDuplicates = 0;
  wireDeliveries = 0;
  reconnects = 0;
  retries = 0;
  readonly closeCodes: number[] = [];
  readonly gatewaysUsed = new Set<string>();
  /** While paused the client neither reads its socket nor acks (a slow consumer). */
  private paused = false;
  private readyWaiters: (() => void)[] = [];
  ready = false;

  constructor(
    readonly device: LoadDevice,
    /** Gateway base URLs, the preferred one first. */
    readonly urls: string[],
  ) {}

  get address(): Address {
    return { user: this.device.userId, device: this.device.deviceId };
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  /** Connects and resolves on the first `ready` (bounded by the caller's test timeout). */
  start(): Promise<void> {
    this.connect();
    return this.waitReady();
  }

  waitReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((r) => this.readyWaiters.push(r));
  }

  private connect(): void {
    if (this.stopped) return;
    const url = this.urls[this.urlIndex % this.urls.length]!;
    const ws = new WebSocket(wsUrl(url), { perMessageDeflate: false });
    this.ws = ws;
    ws.on('open', () => ws.send(JSON.stringify({ type: 'hello', token: this.device.accessToken })));
    ws.on('message', (data) => this.onFrame(JSON.parse(String(data)) as ServerFrame, ws, url));
    ws.on('error', () => {
      /* a close follows */
    });
    ws.on('close', (code) => {
      if (this.ws !== ws) return;
      this.ready = false;
      this.closeCodes.push(code);
      if (this.stopped) return;
      // Terminal codes need user action; everything else reconnects, to the next gateway (the
      // device's token outlives these tests, so `refresh` never happens here).
      if (closeAction(code) === 'stop') return;
      this.urlIndex++;
      this.reconnects++;
      setTimeout(() => this.connect(), backoffDelay(this.attempt++, POLICY));
    });
  }

  private onFrame(f: ServerFrame, ws: WebSocket, url: string): void {
    switch (f.type) {
      case 'ready':
        this.ready = true;
        this.attempt = 0;
        this.gatewaysUsed.add(url);
        for (const p of this.pending.values()) ws.send(p.frame); // resend what was never accepted
        for (const w of this.readyWaiters.splice(0)) w();
        return;
      case 'deliver':
        this.wireDeliveries++;
        if (this.received.has(f.id)) this.wireDuplicates++;
        else this.received.set(f.id, performance.now());
        ws.send(JSON.stringify({ type: 'ack', seq: f.seq }));
        return;
      case 'accepted':
        this.pending.delete(f.id);
        this.accepted.add(f.id);
        this.acceptedAt.set(f.id, performance.now());
        return;
      case 'error': {
        if (!f.id) return;
        const p = this.pending.get(f.id);
        if (!p) return;
        const wait = retryDelay(f, p.retries, POLICY);
        if (wait !== null) {
          this.retries++;
          p.retries++;
          setTimeout(() => {
            if (this.pending.has(f.id!) && this.ready && this.ws?.readyState === WebSocket.OPEN) this.ws.send(p.frame);
          }, wait);
        } else {
          this.pending.delete(f.id);
          this.failed.set(f.id, f.code);
        }
      }
    }
  }

  send(to: Address, id: string, body: string): void {
    const frame = JSON.stringify({ type: 'send', id, envelopes: [{ to, body }] });
    this.pending.set(id, { frame, retries: 0 });
    if (this.ready && this.ws?.readyState === WebSocket.OPEN) this.ws.send(frame);
  }

  /** Stops reading from the socket (TCP backpressure builds up on the gateway's side). */
  pauseReading(): void {
    this.paused = true;
    (this.ws as unknown as { _socket?: { pause(): void } })?._socket?.pause();
  }

  resumeReading(): void {
    this.paused = false;
    (this.ws as unknown as { _socket?: { resume(): void } })?._socket?.resume();
  }

  get isPaused(): boolean {
    return this.paused;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const ws = this.ws;
    if (!ws || ws.readyState === WebSocket.CLOSED) return;
    await new Promise<void>((r) => {
      ws.once('close', () => r());
      ws.close(1000);
      setTimeout(() => {
        ws.terminate();
        r();
      }, 1_000).unref();
    });
  }
}

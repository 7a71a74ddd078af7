import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/**
 * Socket I/O behind the smallest surface `Connection` needs, as in centrifuge's `Transport`: the
 * connection logic never sees a WebSocket, so it runs against a scripted transport in unit tests
 * (connection.unit.test.ts) and against `ws` in production (`WsTransport`).
 */
export interface Transport {
  /** Bytes handed to `send` and not yet written to the network (the backpressure signal). */
  readonly bufferedAmount: number;
  /** True while frames can be sent. */
  readonly isOpen: boolean;
  /** Sends one text frame; a no-op once closed. */
  send(text: string): void;
  /** Sends a protocol-level ping; the peer's pong arrives through `TransportHandler.pong`. */
  ping(): void;
  /** Starts a clean close with this code; `TransportHandler.closed` follows. */
  close(code: number, reason: string): void;
  /** Stops reading frames from the peer until `resume` (input backpressure; optional). */
  pause?(): void;
  resume?(): void;
}

/** What a transport reports to the connection it carries (events, in the order they happen). */
export interface TransportHandler {
  /** One frame from the client: its bytes and whether it was a binary frame. */
  receive(data: Buffer, isBinary: boolean): void;
  pong(): void;
  /** The socket is gone (either side closed it, or the network did). Called at most once per socket. */
  closed(code: number): void;
}

const OPEN = 1;

/** `Transport` over a `ws` WebSocket (what @fastify/websocket hands to a route). */
export class WsTransport implements Transport {
  private corked = false;

  constructor(private readonly socket: WebSocket) {}

  /** Routes the socket's events to `handler` (called once, right after the handler exists). */
  attach(handler: TransportHandler, onError: (e: Error) => void): void {
    const s = this.socket;
    s.on('message', (data, isBinary) => {
      const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      handler.receive(buf, isBinary);
    });
    s.on('pong', () => handler.pong());
    s.on('close', (code) => handler.closed(code));
    s.on('error', onError);
  }

  get bufferedAmount(): number {
    return this.socket.bufferedAmount;
  }

  get isOpen(): boolean {
    return this.socket.readyState === OPEN;
  }

  /**
   * Frames sent in one tick leave in one write: the first send of a tick corks the TCP socket and
   * the uncork is scheduled for the end of the tick (a burst of deliveries and answers costs one
   * `writev`, not one syscall per frame; docs/SCALING.md).
   */
  send(text: string): void {
    if (!this.isOpen) return;
    const raw = (this.socket as unknown as { _socket?: Socket })._socket;
    if (raw && !this.corked) {
      this.corked = true;
      raw.cork();
      process.nextTick(() => {
        this.corked = false;
        raw.uncork();
      });
    }
    this.socket.send(text);
  }

  ping(): void {
    try {
      this.socket.ping();
    } catch {
      /* closing anyway */
    }
  }

  pause(): void {
    this.socket.pause();
  }

  resume(): void {
    this.socket.resume();
  }

  close(code: number, reason: string): void {
    try {
      this.socket.close(code, reason);
    } catch {
      this.socket.terminate();
    }
  }
}

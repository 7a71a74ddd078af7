import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';
import { TurnBatch } from './turn-batch.js';

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
  /** Sends one text frame (a string, or its UTF-8 bytes); a no-op once closed. */
  send(text: string | Buffer): void;
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

/**
 * Lets go of the HTTP upgrade once the WebSocket exists. @fastify/websocket routes the upgrade
 * through Fastify with a ServerResponse assigned to the TCP socket, and that response stays the
 * socket's `_httpMessage` for the socket's life, holding Fastify's request and reply, the
 * IncomingMessage with its headers and the request's child logger: 5–6 kB of heap per idle
 * connection in a heap snapshot (docs/BENCHMARKS.md, "Where an idle socket's heap goes"). The
 * response is never written (the route hijacks the reply), so detaching it changes nothing on
 * the wire; Fastify's onResponse hooks, which never ran for a live socket, do not run for it.
 */
export function releaseUpgrade(ws: WebSocket): void {
  const raw = (ws as unknown as { _socket?: Socket & { _httpMessage?: ServerResponse | null } })._socket;
  const res = raw?._httpMessage;
  if (raw && res && typeof res.detachSocket === 'function') res.detachSocket(raw);
}

const OPEN = 1;
const TEXT = { binary: false } as const;

/** Sockets corked in this turn of the event loop (WsTransport.send), uncorked at its end. */
const uncorks = new TurnBatch<WsTransport>((t) => t.uncorkNow());

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
   * Frames sent in one turn of the event loop leave in one write: the first send corks the TCP
   * socket, and one `setImmediate` for all sockets uncorks them after every socket readable in
   * this turn was read (a burst of deliveries and answers costs one `writev` per socket, not one
   * syscall per frame, nor one per NATS read; docs/SCALING.md).
   */
  send(text: string | Buffer): void {
    if (!this.isOpen) return;
    const raw = (this.socket as unknown as { _socket?: Socket })._socket;
    if (raw && !this.corked) {
      this.corked = true;
      raw.cork();
      uncorks.add(this);
    }
    this.socket.send(text, TEXT);
  }

  /** Ends this turn's cork. */
  uncorkNow(): void {
    this.corked = false;
    (this.socket as unknown as { _socket?: Socket })._socket?.uncork();
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

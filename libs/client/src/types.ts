import type { AcceptedFrame, DeliverFrame, ErrorFrame, HushError, PresenceFrame, Session } from '@hush/protocol';

/** The slice of the WHATWG WebSocket the client uses (browsers, and `ws` in Node). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketCtor = new (url: string) => WebSocketLike;

export interface HushClientOptions {
  /** Gateway origin, e.g. http://localhost:8080 (ws:// or wss:// is derived from it). */
  baseUrl: string;
  /**
   * More gateways of the same deployment. When one cannot be reached (connection refused, socket
   * dropped), HTTP calls and reconnects move on to the next; gateways are stateless, so any will do.
   */
  fallbackUrls?: string[];
  /** WebSocket constructor; default globalThis.WebSocket (Node 20 has none: pass `ws`). */
  WebSocket?: WebSocketCtor;
  /** fetch implementation; default globalThis.fetch. */
  fetch?: typeof fetch;
  /** A stored session to resume. */
  session?: Session;
  /** Called whenever the session changes (login, refresh, logout → null) so the app can persist it. */
  onSession?: (s: Session | null) => void;
}

export interface ConnectOptions {
  /** Reconnect backoff: first delay and cap, in ms (exponential with full jitter). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /**
   * The client sends a `ping` frame this often while open; if nothing at all arrives for two
   * intervals the gateway is presumed dead (half-open TCP) and the client reconnects. 0 = off.
   */
  pingIntervalMs?: number;
  /** How many times a send is retried after GW_PUBLISH_FAILED or GW_RATE_LIMITED before it rejects. */
  maxSendRetries?: number;
}

/**
 * What a `Connection` needs from the session that owns it, and nothing more (`HushClient` is one;
 * tests pass a small stand-in). The contract:
 * - `wsUrl`: the /ws URL of the gateway to use now; it may change after `rotate()`.
 * - `accessToken()`: a token valid for a while yet (refreshing first if needed); rejects with a
 *   HushError whose `retryable` flag says whether trying again later can help.
 * - `refresh()`: gets a new access token now (after close 4100); rejects when the session is gone.
 * - `rotate()`: move on to the next gateway of the deployment.
 */
export interface ConnectionSession {
  readonly wsUrl: string;
  accessToken(): Promise<string>;
  refresh(): Promise<unknown>;
  rotate(): void;
}

export type ConnectionState = 'connecting' | 'open' | 'offline' | 'closed';

export interface ConnectionEvents {
  state: { state: ConnectionState; code?: number; reason?: string };
  deliver: DeliverFrame;
  presence: PresenceFrame;
  /** The device was signed out (close 4403): the app should drop its session. */
  revoked: { code: number };
  /** Error frames not tied to a send, and failures of the connection itself. */
  error: ErrorFrame | HushError;
}

export type { AcceptedFrame };

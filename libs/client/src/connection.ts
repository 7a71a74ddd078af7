import {
  type AcceptedFrame,
  backoffDelay,
  CloseCodes,
  closeAction,
  closeMovesGateway,
  DEFAULT_RETRY_POLICY,
  type ErrorFrame,
  HushError,
  type RetryPolicy,
  retryDelay,
  type ServerFrame,
  type WireError,
} from '@hush/protocol';
import { Emitter } from './emitter.js';
import type {
  ConnectionEvents,
  ConnectionSession,
  ConnectionState,
  ConnectOptions,
  WebSocketCtor,
  WebSocketLike,
} from './types.js';

const OPEN = 1;

interface PendingSend {
  id: string;
  envelopes: { to: { user: string; device: string }; body: string }[];
  resolve: (a: AcceptedFrame) => void;
  reject: (e: HushError) => void;
  retries: number;
  /** Sent on the current socket and not yet answered. */
  inFlight: boolean;
  timer?: ReturnType<typeof setTimeout>;
}

/**
 * A live /ws session (docs/PROTOCOL-WIRE.md). Sends made while offline wait and are sent (again)
 * with the same message id after reconnecting — safe, because the gateway stores a repeated id once
 * and receivers dedupe by id. What happens after an error frame or a close follows the project's one
 * retry policy (`retryDelay`, `closeAction` in @hush/protocol): retryable codes are resent with
 * backoff, 41xx closes refresh the token and reconnect, 44xx closes (including REPLACED, another
 * connection of this device) stop it, everything else reconnects with backoff.
 */
export class Connection extends Emitter<ConnectionEvents> {
  state: ConnectionState = 'connecting';
  private ws: WebSocketLike | undefined;
  private attempt = 0;
  private stopped = false;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private readonly pending = new Map<string, PendingSend>();
  private readonly presenceUsers = new Set<string>();
  private readonly policy: RetryPolicy;
  private readyWaiters: (() => void)[] = [];
  private readonly pingInterval: number;
  private pingTimer: ReturnType<typeof setInterval> | undefined;
  private lastHeard = 0;

  constructor(
    private readonly session: ConnectionSession,
    private readonly WS: WebSocketCtor,
    opts: ConnectOptions,
  ) {
    super();
    this.policy = {
      minBackoffMs: opts.minBackoffMs ?? DEFAULT_RETRY_POLICY.minBackoffMs,
      maxBackoffMs: opts.maxBackoffMs ?? DEFAULT_RETRY_POLICY.maxBackoffMs,
      maxRetries: opts.maxSendRetries ?? DEFAULT_RETRY_POLICY.maxRetries,
    };
    this.pingInterval = opts.pingIntervalMs ?? 15_000;
  }

  private startPings(ws: WebSocketLike): void {
    clearInterval(this.pingTimer);
    if (this.pingInterval <= 0) return;
    this.lastHeard = Date.now();
    this.pingTimer = setInterval(() => {
      if (this.ws !== ws) return clearInterval(this.pingTimer);
      if (Date.now() - this.lastHeard > 2 * this.pingInterval) {
        // Half-open connection: act as if it closed (retryable), and let go of the socket.
        this.ws = undefined;
        clearInterval(this.pingTimer);
        try {
          ws.close(CloseCodes.HEARTBEAT_TIMEOUT, 'no answer');
        } catch {
          /* already closed */
        }
        void this.onClose(CloseCodes.HEARTBEAT_TIMEOUT, 'no answer from the gateway');
        return;
      }
      if (ws.readyState === OPEN) ws.send(JSON.stringify({ type: 'ping', t: Date.now() }));
    }, this.pingInterval);
  }

  /** Resolves once the gateway said `ready` (now, if it already did). */
  ready(): Promise<void> {
    if (this.state === 'open') return Promise.resolve();
    if (this.state === 'closed') return Promise.reject(new HushError('GW_NOT_READY', 'The connection is closed'));
    return new Promise((r) => this.readyWaiters.push(r));
  }

  start(): void {
    void this.open();
  }

  private setState(state: ConnectionState, code?: number, reason?: string): void {
    this.state = state;
    this.emit('state', { state, ...(code === undefined ? {} : { code }), ...(reason === undefined ? {} : { reason }) });
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    this.setState('connecting');
    let token: string;
    try {
      token = await this.session.accessToken();
    } catch (e) {
      const err = e instanceof HushError ? e : new HushError('INTERNAL');
      this.emit('error', err);
      if (err.retryable) return this.scheduleReconnect(1006, 'token refresh failed');
      return this.finish(CloseCodes.UNAUTHORIZED, err.code);
    }
    if (this.stopped) return;
    const ws = new this.WS(this.session.wsUrl);
    this.ws = ws;
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: 'hello', token, v: 1 }));
      this.startPings(ws);
    };
    ws.onmessage = (ev) => {
      this.lastHeard = Date.now();
      this.onMessage(ev.data);
    };
    ws.onerror = () => undefined; // onclose follows with the code
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      clearInterval(this.pingTimer);
      void this.onClose(ev.code, ev.reason);
    };
  }

  private onMessage(data: unknown): void {
    let f: ServerFrame;
    try {
      f = JSON.parse(typeof data === 'string' ? data : String(data)) as ServerFrame;
    } catch {
      return;
    }
    switch (f.type) {
      case 'ready':
        this.attempt = 0;
        this.setState('open');
        for (const w of this.readyWaiters.splice(0)) w();
        if (this.presenceUsers.size > 0) this.raw({ type: 'presence.sub', users: [...this.presenceUsers] });
        for (const p of this.pending.values()) this.transmit(p);
        return;
      case 'accepted': {
        const p = this.pending.get(f.id);
        if (!p) return;
        this.pending.delete(f.id);
        p.resolve(f);
        return;
      }
      case 'error':
        this.onErrorFrame(f);
        return;
      case 'deliver':
        this.emit('deliver', f);
        return;
      case 'presence':
        this.emit('presence', f);
        return;
      default:
        return;
    }
  }

  private onErrorFrame(f: ErrorFrame): void {
    const p = f.id === undefined ? undefined : this.pending.get(f.id);
    if (!p) {
      this.emit('error', f);
      return;
    }
    p.inFlight = false;
    const wait = retryDelay(f, p.retries, this.policy);
    if (wait !== null) {
      p.retries++;
      p.timer = setTimeout(() => this.transmit(p), wait);
      return;
    }
    this.pending.delete(p.id);
    p.reject(HushError.fromWire(f as WireError));
  }

  private async onClose(code: number, reason: string): Promise<void> {
    for (const p of this.pending.values()) p.inFlight = false;
    if (this.stopped) return this.finish(code, reason);
    if (code === CloseCodes.REVOKED) {
      this.emit('revoked', { code });
      return this.finish(code, reason);
    }
    const action = closeAction(code);
    // Terminal, including REPLACED: another connection of this device took over, and reconnecting
    // would steal it back forever.
    if (action === 'stop') return this.finish(code, reason);
    if (action === 'refresh') {
      try {
        await this.session.refresh();
      } catch (e) {
        this.emit('error', e instanceof HushError ? e : new HushError('AUTH_TOKEN_EXPIRED'));
        return this.finish(code, reason);
      }
      return this.scheduleReconnect(code, reason, 0);
    }
    // The gateway went away (crash, shutdown, network): try the next one of the deployment.
    if (closeMovesGateway(code)) this.session.rotate();
    this.scheduleReconnect(code, reason);
  }

  private scheduleReconnect(code: number, reason: string, delay?: number): void {
    if (this.stopped) return;
    this.setState('offline', code, reason);
    const wait = delay ?? backoffDelay(this.attempt++, this.policy);
    this.reconnectTimer = setTimeout(() => void this.open(), wait);
  }

  private finish(code: number, reason: string): void {
    this.stopped = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    const err = new HushError('GW_NOT_READY', `The connection closed (${code})`);
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
    this.setState('closed', code, reason);
  }

  private raw(frame: unknown): boolean {
    if (this.state !== 'open' || !this.ws || this.ws.readyState !== OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  private transmit(p: PendingSend): void {
    if (p.inFlight || !this.pending.has(p.id)) return;
    if (this.raw({ type: 'send', id: p.id, envelopes: p.envelopes })) p.inFlight = true;
  }

  /**
   * Sends one message (one envelope per recipient device). Resolves on `accepted` (stored for every
   * recipient); rejects with the HushError of an error frame for this id. While offline it waits.
   */
  send(id: string, envelopes: PendingSend['envelopes']): Promise<AcceptedFrame> {
    if (this.stopped) return Promise.reject(new HushError('GW_NOT_READY', 'The connection is closed'));
    const existing = this.pending.get(id);
    if (existing)
      return new Promise((resolve, reject) => {
        const { resolve: r0, reject: j0 } = existing;
        existing.resolve = (a) => {
          r0(a);
          resolve(a);
        };
        existing.reject = (e) => {
          j0(e);
          reject(e);
        };
      });
    return new Promise((resolve, reject) => {
      const p: PendingSend = { id, envelopes, resolve, reject, retries: 0, inFlight: false };
      this.pending.set(id, p);
      this.transmit(p);
    });
  }

  /** Acknowledge a delivery once it is decrypted and stored; unacked deliveries come again. */
  ack(seq: number): void {
    this.raw({ type: 'ack', seq });
  }

  /** Follow these users' presence (re-sent after every reconnect). */
  subscribePresence(users: string[]): void {
    for (const u of users) this.presenceUsers.add(u);
    this.raw({ type: 'presence.sub', users });
  }

  /** Number of sends not yet accepted. */
  get unsent(): number {
    return this.pending.size;
  }

  close(): void {
    this.stopped = true;
    clearInterval(this.pingTimer);
    clearTimeout(this.reconnectTimer);
    const ws = this.ws;
    if (ws) ws.close(1000, 'client closed');
    else this.finish(1000, 'client closed');
  }
}

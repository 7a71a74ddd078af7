import { randomBytes } from 'node:crypto';
import { CloseCodes, HushError, type PresenceEntry, type SendFrame, type ServerFrame } from '@hush/protocol';
import type { FastifyBaseLogger } from 'fastify';
import { MAX_QUEUED_BYTES, QUEUED_FRAME_OVERHEAD } from '../constants.js';
import { countFrame } from '../metrics.js';
import type { TokenIdentity } from '../tokens.js';
import type { ConnectionContext, MailboxStream } from './context.js';
import { Delivery, type DeliveryHost } from './delivery.js';
import { errorFrame, type ParsedFrame, parseFrame } from './frames.js';
import { HeartbeatSweep } from './heartbeat.js';
import { followPresence } from './presence-follow.js';
import { type SendHost, SendPath } from './send-path.js';
import type { Transport, TransportHandler } from './transport.js';

const DELIVER = { type: 'deliver' } as const;

/**
 * One WebSocket on /ws. Lifecycle (docs/PROTOCOL-WIRE.md): `hello` with the access token first
 * (within helloTimeoutMs), then the socket is bound to the token's (user, device) — never to
 * anything the client names later — and that device's mailbox is streamed to it. Frames are handled
 * in order and answered in order, so an `accepted` never overtakes an earlier frame's error; a send's
 * publishes are started in order but its JetStream acks are awaited off the frame queue, so a socket
 * has several sends in flight (bounded by MAX_QUEUED_BYTES), and `ack` frames skip the queue.
 * It reaches the socket only through a `Transport` and the rest of the gateway only through a
 * `ConnectionContext` (the Hub in production).
 */
export class Connection implements TransportHandler, SendHost, DeliveryHost {
  readonly connId = randomBytes(8).toString('hex');
  identity: TokenIdentity | undefined;
  private state: 'hello' | 'open' | 'closed' = 'hello';
  private queue: Promise<void> = Promise.resolve();
  /** Answers to frames, in frame order (a send's answer waits for its JetStream acks). */
  private replies: Promise<void> = Promise.resolve();
  private pendingReplies = 0;
  /** Bytes of frames received and not yet handled; reading pauses at MAX_QUEUED_BYTES. */
  private queuedBytes = 0;
  private paused = false;
  /** The most bytes ever waiting at once (tests read it to see the bound hold). */
  peakQueuedBytes = 0;
  private helloTimer: NodeJS.Timeout | undefined;
  private readonly heartbeat: HeartbeatSweep;
  private missedPongs = 0;
  /** Sends of this device, admitted and published in frame order. */
  private readonly sends = new SendPath(this);
  /** This device's mailbox, streamed to the socket once bound. */
  private readonly delivery = new Delivery(this);
  readonly presenceUsers = new Set<string>();

  constructor(
    private readonly transport: Transport,
    private readonly ctx: ConnectionContext,
    /** The gateway's logger, shared: no child logger per socket (docs/SCALING.md); `who()` adds the socket's fields. */
    private readonly log: FastifyBaseLogger,
  ) {
    ctx.track(this);
    this.helloTimer = setTimeout(
      () => this.close(CloseCodes.HELLO_TIMEOUT, 'hello timeout'),
      ctx.config.helloTimeoutMs,
    );
    this.heartbeat = HeartbeatSweep.for(ctx.config);
    this.heartbeat.add(this);
  }

  /** Log fields naming this socket (and its device once bound). */
  private who(o: Record<string, unknown> = {}): Record<string, unknown> {
    return this.identity
      ? { conn: this.connId, user: this.identity.userId, device: this.identity.deviceId, ...o }
      : { conn: this.connId, ...o };
  }

  /** TransportHandler: a frame from the client, queued behind the ones before it. */
  receive(data: Buffer, isBinary: boolean): void {
    const parsed = parseFrame(data, isBinary);
    // An ack needs no order with other frames and no answer: handled at once, it never waits
    // behind this socket's sends (and the envelope leaves the broker sooner).
    if (this.state === 'open' && parsed.frame?.type === 'ack') {
      countFrame('in', parsed.frame);
      this.delivery.ack(parsed.frame.seq);
      return;
    }
    // Backpressure on input: past the bound we stop reading the socket (TCP pushes back on the
    // client) and resume once half of it is handled. A send's bytes count until it is answered.
    const size = QUEUED_FRAME_OVERHEAD + data.length;
    this.queuedBytes += size;
    this.peakQueuedBytes = Math.max(this.peakQueuedBytes, this.queuedBytes);
    if (this.queuedBytes >= MAX_QUEUED_BYTES && !this.paused && this.transport.pause) {
      this.paused = true;
      this.transport.pause();
    }
    this.queue = this.queue
      .then(() => this.onFrame(parsed))
      .then(
        (pending) => {
          // Not returned: the queue moves on while a send waits for JetStream.
          if (pending) void pending.pending.finally(() => this.release(size));
          else this.release(size);
        },
        (e) => {
          this.fail(e);
          this.release(size);
        },
      );
  }

  /** A frame of `size` bytes is handled: reading resumes once half the bound is free. */
  private release(size: number): void {
    this.queuedBytes -= size;
    if (this.paused && this.queuedBytes <= MAX_QUEUED_BYTES / 2) {
      this.paused = false;
      this.transport.resume?.();
    }
  }

  /**
   * Sends an answer to a frame after the answers to every earlier frame: at once when none is
   * pending (so an error followed by a close reaches the client before the close).
   */
  private reply(frame: ServerFrame | Promise<ServerFrame>): Promise<void> {
    if (this.pendingReplies === 0 && !(frame instanceof Promise)) {
      this.send(frame);
      return Promise.resolve();
    }
    this.pendingReplies++;
    const p = this.replies
      .then(() => frame)
      .then((f) => this.send(f))
      .catch((e) => this.log.error(this.who({ err: e instanceof Error ? e.message : String(e) }), 'reply failed'))
      .finally(() => {
        this.pendingReplies--;
      });
    this.replies = p;
    return p;
  }

  /** TransportHandler: the client answered a ping. */
  pong(): void {
    this.missedPongs = 0;
  }

  /** TransportHandler: the socket is gone. */
  closed(code: number): void {
    void this.onClosed(code);
  }

  /** Logs a socket-level error (a close follows). */
  socketError(e: Error): void {
    this.log.debug(this.who({ err: e.message }), 'socket error');
  }

  get isOpen(): boolean {
    return this.state !== 'closed';
  }

  get key(): string | undefined {
    return this.identity ? `${this.identity.userId}/${this.identity.deviceId}` : undefined;
  }

  send(frame: ServerFrame): void {
    countFrame('out', frame);
    if (this.transport.isOpen) this.transport.send(JSON.stringify(frame));
  }

  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.log.info(this.who({ code, reason }), 'closing socket');
    this.transport.close(code, reason);
    void this.onClosed(code);
  }

  // SendHost and DeliveryHost (the socket's send path and mailbox call back through these).

  sendContext(): ConnectionContext {
    return this.ctx;
  }

  deviceKey(): string {
    return this.key!;
  }

  deviceIdentity(): TokenIdentity {
    return this.identity!;
  }

  refuseSend(err: HushError, id: string): void {
    this.sendError(err, id);
  }

  warnPublish(e: unknown, msg: string): void {
    this.log.warn(this.who({ err: e instanceof Error ? e.message : String(e), msg }), 'publish failed');
  }

  deliveryOpen(): boolean {
    return this.state === 'open';
  }

  socketBuffered(): number {
    return this.transport.bufferedAmount;
  }

  sendDeliver(text: Buffer): void {
    countFrame('out', DELIVER);
    if (this.transport.isOpen) this.transport.send(text);
  }

  openMailbox(): Promise<MailboxStream> {
    return this.ctx.consumeMailbox(this.identity!.userId, this.identity!.deviceId);
  }

  warnDelivery(e: unknown, msg: string): void {
    this.log.warn(this.who({ err: e instanceof Error ? e.message : String(e) }), msg);
  }

  /** HeartbeatSweep: once per heartbeat interval. */
  beat(): void {
    // Two intervals without a pong: the peer is gone (or a proxy ate the socket).
    if (this.missedPongs >= 2) {
      this.close(CloseCodes.HEARTBEAT_TIMEOUT, 'heartbeat timeout');
      return;
    }
    this.missedPongs++;
    this.transport.ping();
  }

  /** Answers with an error frame (a catalogued code), counted by code for metrics, in frame order. */
  sendError(err: HushError, id?: string): void {
    this.ctx.countError(err.code);
    void this.reply(errorFrame(err, id));
  }

  private fail(e: unknown): void {
    this.log.error(this.who({ err: e instanceof Error ? e.message : String(e) }), 'frame handler failed');
    void this.reply({ type: 'error', code: 'INTERNAL', message: 'Internal error' });
  }

  /** Handles one frame; a send returns the promise of its answer (the queue does not wait for it). */
  private async onFrame(parsed: ParsedFrame): Promise<{ pending: Promise<void> } | undefined> {
    if (this.state === 'closed') return;
    countFrame('in', parsed.frame);
    if (this.state === 'hello') {
      if (parsed.frame?.type !== 'hello') {
        this.sendError(new HushError('GW_NOT_AUTHENTICATED'), parsed.id);
        this.close(CloseCodes.UNAUTHORIZED, 'hello expected');
        return;
      }
      await this.onHello(parsed.frame.token);
      return;
    }
    if (parsed.error || !parsed.frame) {
      this.sendError(parsed.error ?? new HushError('GW_BAD_FRAME'), parsed.id);
      return;
    }
    const f = parsed.frame;
    switch (f.type) {
      case 'hello':
        this.sendError(new HushError('GW_BAD_FRAME', 'Already authenticated'));
        return;
      case 'ping':
        void this.reply(f.t === undefined ? { type: 'pong' } : { type: 'pong', t: f.t });
        return;
      case 'ack':
        this.delivery.ack(f.seq);
        return;
      case 'send': {
        // Wrapped: an async function returning a promise would wait for it.
        const pending = this.onSend(f);
        return pending ? { pending } : undefined;
      }
      case 'presence.sub':
        await this.onPresenceSub(f.users);
        return;
    }
  }

  private async onHello(token: string): Promise<void> {
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined; // a cleared Timeout object is ~120 B per idle socket if kept
    let id: TokenIdentity;
    try {
      id = await this.ctx.authenticate(token);
    } catch (e) {
      const err = e instanceof HushError ? e : new HushError('AUTH_TOKEN_INVALID');
      this.sendError(err);
      const code =
        err.code === 'AUTH_TOKEN_EXPIRED'
          ? CloseCodes.TOKEN_EXPIRED
          : err.code === 'AUTH_DEVICE_REVOKED'
            ? CloseCodes.REVOKED
            : err.code === 'UPSTREAM_UNAVAILABLE'
              ? CloseCodes.UPSTREAM_LOST
              : CloseCodes.UNAUTHORIZED;
      return this.close(code, err.code);
    }
    if (this.state === 'closed') return;
    this.identity = id;
    this.state = 'open';
    this.ctx.register(this);
    try {
      await this.delivery.start();
    } catch (e) {
      this.log.error(this.who({ err: e instanceof Error ? e.message : String(e) }), 'cannot open mailbox');
      this.sendError(new HushError('UPSTREAM_UNAVAILABLE', 'The mailbox is not available'));
      return this.close(CloseCodes.UPSTREAM_LOST, 'mailbox unavailable');
    }
    if (this.state !== 'open') return;
    this.send({ type: 'ready', user: id.userId, device: id.deviceId, gateway: this.ctx.config.gatewayId, v: 1 });
    this.log.info(this.who(), 'device connected');
  }

  /**
   * Drops this socket's consumer and opens a fresh one (the hub calls it after a NATS
   * reconnect): unacked envelopes come back at once; the client dedupes by message id.
   */
  restartDelivery(): Promise<void> {
    return this.state === 'open' ? this.delivery.restart() : Promise.resolve();
  }

  /** A send, answered in frame order once stored (ws/send-path.ts); undefined when refused at once. */
  private onSend(f: SendFrame): Promise<void> | undefined {
    const answer = this.sends.answer(f);
    return answer ? this.reply(answer) : undefined;
  }

  private onPresenceSub(users: string[]): Promise<void> {
    return followPresence(this, this.ctx, users);
  }

  sendPresence(e: PresenceEntry): void {
    this.send({ type: 'presence', user: e.userId, online: e.online, lastSeen: e.lastSeen });
  }

  private async onClosed(code: number): Promise<void> {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    clearTimeout(this.helloTimer);
    this.heartbeat.delete(this);
    this.ctx.unregister(this);
    this.ctx.untrack(this);
    await this.delivery.stop();
    if (wasOpen) this.log.info(this.who({ code }), 'device disconnected');
  }
}

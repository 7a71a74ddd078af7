import {
  type Address,
  type Caller,
  CloseCodes,
  type DeviceRevokedEvent,
  decodeJson,
  encodeJson,
  type GatewayLeaseEvent,
  type KeysChangedEvent,
  type PresenceChangedEvent,
  type PresenceConnectEvent,
  type PresenceQueryReply,
  type StoredEnvelope,
  type Subjects,
} from '@hush/protocol';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { FastifyBaseLogger } from 'fastify';
import type { GatewayConfig } from '../config.js';
import { PRESENCE_SUB_BURST, PRESENCE_SUB_RATE } from '../constants.js';
import { publishSeconds, rateLimited, sentBytes } from '../metrics.js';
import type { Rpc } from '../nats-rpc.js';
import { TokenBuckets } from '../rate-limit.js';
import type { DeviceDirectory } from '../recipients.js';
import type { TokenIdentity, TokenVerifier } from '../tokens.js';
import type { Connection } from './connection.js';
import type { ConnectionContext, MailboxStream } from './context.js';
import { CodeCounter } from './counters.js';
import { MailboxPool } from './mailbox-pool.js';
import { MailboxPublisher } from './publisher.js';

/** Mailboxes reopened at once after a NATS reconnect. */
const RESTART_CONCURRENCY = 64;

export interface HubDeps {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  s: Subjects;
  config: GatewayConfig;
  rpc: Rpc;
  verifier: TokenVerifier;
  devices: DeviceDirectory;
  buckets: TokenBuckets;
  /** Per-device byte quota of send frames (bytes/s refill, bucket = burst). */
  byteBuckets: TokenBuckets;
  log: FastifyBaseLogger;
  /** Optional `auth.check`-style revocation check on hello (events cover the rest). */
  checkDevice?: (caller: Caller) => Promise<void>;
  ackWaitMs: number;
}

/**
 * What all sockets of one gateway share: the registry of bound devices, NATS event subscriptions
 * (revocations, key changes, presence changes, other gateways' connects), the presence lease, and
 * the JetStream mailbox plumbing. Connections see it only as a `ConnectionContext`.
 */
export class Hub implements ConnectionContext {
  readonly config: GatewayConfig;
  private readonly s: Subjects;
  /** presence.sub frames per device (each one is a presence query). */
  private readonly presenceBuckets = new TokenBuckets(PRESENCE_SUB_RATE, PRESENCE_SUB_BURST);
  /** Error frames sent, by code. */
  readonly errorFrames = new CodeCounter();
  /** WebSocket protocol violations by clients (bad opcode, unmasked frame, invalid UTF-8...), by code. */
  readonly protocolViolations = new CodeCounter();
  private readonly byDevice = new Map<string, Connection>();
  /** Sockets following each user's presence (presence.sub), so an event reaches only them. */
  private readonly followers = new Map<string, Set<Connection>>();
  /** Every socket, bound or still waiting for hello (for shutdown). */
  readonly all = new Set<Connection>();
  private readonly subs: Subscription[] = [];
  private leaseTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Mailboxes holding a JetStream consumer right now (the rest hold a subscription). */
  readonly mailboxes: MailboxPool;

  constructor(private readonly d: HubDeps) {
    this.config = d.config;
    this.s = d.s;
    this.mailboxes = new MailboxPool({
      nc: d.nc,
      js: d.js,
      jsm: d.jsm,
      streamName: d.config.streamName,
      ackWaitMs: d.ackWaitMs,
      log: d.log,
    });
    this.publisher = new MailboxPublisher(d.nc, d.config.streamName);
  }
  private readonly publisher: MailboxPublisher;

  /**
   * After the NATS connection moves to another server, an envelope the old server had pushed to
   * us in the moment of the failure is lost in transit and would only come back after the ack
   * wait (30 s). Recreating each device's consumer hands every unacked envelope back at once, in
   * order (tests/faults: "NATS node the gateways are connected to is killed").
   */
  private async watchReconnects(): Promise<void> {
    for await (const st of this.d.nc.status()) {
      if (this.stopping) return;
      if (st.type !== 'reconnect') continue;
      // Bounded concurrency: tens of thousands of sockets must not fire their JetStream calls at once.
      const all = [...this.byDevice.values()];
      let next = 0;
      const worker = async () => {
        while (next < all.length && !this.stopping) await all[next++]!.restartDelivery();
      };
      void Promise.all(Array.from({ length: Math.min(RESTART_CONCURRENCY, all.length) }, worker));
    }
  }

  get connectionCount(): number {
    return this.byDevice.size;
  }

  start(): void {
    const { nc, s } = this.d;
    void this.watchReconnects();
    this.listen(s.events.deviceRevoked, (ev: DeviceRevokedEvent) => {
      this.d.verifier.revoke(ev.userId, ev.deviceId);
      const c = this.byDevice.get(`${ev.userId}/${ev.deviceId}`);
      if (c) {
        c.send({ type: 'error', code: 'AUTH_DEVICE_REVOKED', message: 'This device was signed out' });
        c.close(CloseCodes.REVOKED, 'revoked');
      }
    });
    this.listen(s.events.keysChangedAll, (ev: KeysChangedEvent) => {
      this.d.devices.invalidate(ev.userId);
      for (const dev of ev.removedDevices ?? []) {
        this.d.verifier.revoke(ev.userId, dev);
        this.byDevice.get(`${ev.userId}/${dev}`)?.close(CloseCodes.REVOKED, 'device removed');
      }
    });
    this.listen(s.events.presenceChangedAll, (ev: PresenceChangedEvent) => {
      for (const c of this.followers.get(ev.userId) ?? []) {
        c.sendPresence({ userId: ev.userId, online: ev.online, lastSeen: ev.lastSeen });
      }
    });
    // The same device connecting through another gateway replaces this socket (one reader per mailbox).
    this.listen(s.events.presenceConnect, (ev: PresenceConnectEvent) => {
      if (ev.gatewayId === this.config.gatewayId) return;
      const c = this.byDevice.get(`${ev.userId}/${ev.deviceId}`);
      if (c && c.connId !== ev.connId) c.close(CloseCodes.REPLACED, 'replaced by a newer connection');
    });
    const lease = () => {
      const ev: GatewayLeaseEvent = { gatewayId: this.config.gatewayId, at: Date.now(), ttlMs: this.config.leaseTtlMs };
      if (!nc.isClosed()) nc.publish(s.events.gatewayLease, encodeJson(ev));
    };
    lease();
    this.leaseTimer = setInterval(lease, this.config.leaseIntervalMs);
    this.sweepTimer = setInterval(() => {
      this.d.buckets.sweep();
      this.presenceBuckets.sweep();
      this.d.byteBuckets.sweep();
    }, 60_000);
    this.sweepTimer.unref();
  }

  private listen<T>(subject: string, fn: (ev: T) => void): void {
    const sub = this.d.nc.subscribe(subject, {
      callback: (err, msg) => {
        if (err) return;
        try {
          fn(decodeJson<T>(msg.data));
        } catch (e) {
          this.d.log.warn({ subject, err: e instanceof Error ? e.message : String(e) }, 'bad event');
        }
      },
    });
    this.subs.push(sub);
  }

  track(c: Connection): void {
    this.all.add(c);
  }

  untrack(c: Connection): void {
    this.all.delete(c);
  }

  async authenticate(token: string): Promise<TokenIdentity> {
    const id = await this.d.verifier.verify(token);
    if (this.d.checkDevice) await this.d.checkDevice({ userId: id.userId, deviceId: id.deviceId });
    return id;
  }

  /**
   * Admits a send frame: one message token per distinct recipient user plus one byte token per
   * body byte, so a device can no more fill the store (or the directory) with few huge frames than
   * with many small ones. Returns 0, or the seconds to wait (GW_RATE_LIMITED retryAfter).
   */
  admitSend(deviceKey: string, envelopes: ReadonlyArray<{ to: { user: string }; body: string }>): number {
    const bytes = envelopes.reduce((n, e) => n + e.body.length, 0);
    const byBytes = this.d.byteBuckets.take(deviceKey, Math.min(bytes, this.config.sendBytesBurst));
    if (byBytes > 0) {
      rateLimited.inc({ limit: 'send_bytes' });
      return byBytes;
    }
    const byCount = this.d.buckets.take(deviceKey, new Set(envelopes.map((e) => e.to.user)).size);
    if (byCount > 0) {
      rateLimited.inc({ limit: 'send_rate' });
      return byCount;
    }
    sentBytes.inc(bytes);
    return 0;
  }

  takePresenceToken(deviceKey: string): number {
    return this.presenceBuckets.take(deviceKey);
  }

  countError(code: string): void {
    this.errorFrames.add(code);
  }

  checkRecipients(to: Address[]): Promise<void> {
    return this.d.devices.check(to);
  }

  queryPresence(caller: Caller, userIds: string[]): Promise<PresenceQueryReply> {
    return this.d.rpc.call<PresenceQueryReply>(this.s.presence.query, { caller, userIds });
  }

  /** The device's mailbox: a subscription while idle, a consumer while it has something to read. */
  consumeMailbox(userId: string, deviceId: string): Promise<MailboxStream> {
    return this.mailboxes.open(this.s.mailbox(userId, deviceId), this.s.consumerName(userId, deviceId));
  }

  register(c: Connection): void {
    const key = c.key!;
    const old = this.byDevice.get(key);
    this.byDevice.set(key, c);
    if (old && old !== c) old.close(CloseCodes.REPLACED, 'replaced by a newer connection');
    this.presence('connect', c);
  }

  follow(c: Connection, userId: string): void {
    let set = this.followers.get(userId);
    if (!set) {
      set = new Set();
      this.followers.set(userId, set);
    }
    set.add(c);
  }

  unregister(c: Connection): void {
    for (const u of c.presenceUsers) {
      const set = this.followers.get(u);
      set?.delete(c);
      if (set?.size === 0) this.followers.delete(u);
    }
    const key = c.key;
    if (!key) return;
    if (this.byDevice.get(key) === c) this.byDevice.delete(key);
    this.presence('disconnect', c);
  }

  private presence(kind: 'connect' | 'disconnect', c: Connection): void {
    const id = c.identity;
    if (!id || this.d.nc.isClosed()) return;
    const ev: PresenceConnectEvent = {
      gatewayId: this.config.gatewayId,
      userId: id.userId,
      deviceId: id.deviceId,
      connId: c.connId,
      at: Date.now(),
    };
    const subject = kind === 'connect' ? this.s.events.presenceConnect : this.s.events.presenceDisconnect;
    try {
      this.d.nc.publish(subject, encodeJson(ev));
    } catch {
      /* draining */
    }
  }

  async publishEnvelope(to: { user: string; device: string }, env: StoredEnvelope, msgId: string): Promise<void> {
    const end = publishSeconds.startTimer();
    try {
      await this.publisher.publish(this.s.mailbox(to.user, to.device), encodeJson(env), msgId);
      end({ outcome: 'ok' });
    } catch (e) {
      end({ outcome: 'error' });
      throw e;
    }
  }

  /** Graceful shutdown: stop timers and subscriptions, close every socket with 4000 (reconnect). */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.leaseTimer);
    clearInterval(this.sweepTimer);
    this.mailboxes.stop();
    for (const c of [...this.all]) c.close(CloseCodes.SERVER_SHUTDOWN, 'server shutdown');
    this.publisher.close();
    for (const sub of this.subs) sub.unsubscribe();
  }

  get stopped(): boolean {
    return this.stopping;
  }
}

import { natsMsgId, type StoredEnvelope } from '@hush/protocol';
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamClient,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { connect, type NatsConnection, nanos } from '@nats-io/transport-node';
import type { LoadTransport, TransportEvents } from './phase.js';

/**
 * The raw reference: the same harness publishing straight into JetStream with
 * `Nats-Msg-Id` and consuming with per-device durable pull consumers, no gateway. Stream and
 * consumer settings mirror the gateway's (services/gateway/src/stream.ts ensureStream and
 * ws/hub.ts openMailbox); when the gateway's stream exists its live config is copied instead.
 */

/** Mirrors the gateway's mailbox consumer (ws/hub.ts openMailbox, constants.ts). */
export const RAW_CONSUMER = {
  ackWaitMs: 30_000,
  maxAckPending: 1_000,
  pullBatch: 64,
  pullExpiresMs: 30_000,
} as const;

/** Mirrors the gateway's stream when there is none to copy (stream.ts): file storage, work queue. */
const DEFAULT_MAX_AGE_MS = 30 * 24 * 3600_000;
const DEFAULT_DUPLICATE_WINDOW_MS = 2 * 60_000;

export interface RawOptions {
  natsUrl: string;
  devices: number;
  /** Copy settings from this stream (the gateway's) when it exists. */
  copyStream?: string;
  tag: string;
}

export class RawTransport implements LoadTransport {
  name = 'raw';
  events: TransportEvents = { accepted() {}, rejected() {}, delivered() {} };
  private readonly subjects: string[] = [];
  private readonly froms: { user: string; device: string }[] = [];
  private readonly iters: ConsumerMessages[] = [];
  private readonly enc = new TextEncoder();
  private readonly dec = new TextDecoder();
  streamSettings = '';

  private constructor(
    readonly devices: number,
    private readonly nc: NatsConnection,
    private readonly consNc: NatsConnection,
    private readonly js: JetStreamClient,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
  ) {}

  static async open(o: RawOptions): Promise<RawTransport> {
    // One connection publishes and one consumes, as a gateway process would hold (one per gateway).
    const nc = await connect({ servers: o.natsUrl.split(','), name: 'loadtest-raw-pub' });
    const consNc = await connect({ servers: o.natsUrl.split(','), name: 'loadtest-raw-sub' });
    const jsm = await jetstreamManager(nc);
    const stream = `RAWREF_${o.tag}`;
    const prefix = `rawref_${o.tag}`;
    let base: Partial<StreamConfig> = {
      storage: StorageType.File,
      retention: RetentionPolicy.Workqueue,
      max_age: nanos(DEFAULT_MAX_AGE_MS),
      duplicate_window: nanos(DEFAULT_DUPLICATE_WINDOW_MS),
      num_replicas: 1,
    };
    let copied = false;
    if (o.copyStream) {
      try {
        const c = (await jsm.streams.info(o.copyStream)).config;
        base = {
          storage: c.storage,
          retention: c.retention,
          max_age: c.max_age,
          duplicate_window: c.duplicate_window,
          num_replicas: c.num_replicas,
          discard: c.discard,
          max_msgs: c.max_msgs,
          max_bytes: c.max_bytes,
          max_msg_size: c.max_msg_size,
        };
        copied = true;
      } catch {
        /* fall back to the mirror above */
      }
    }
    await jsm.streams.add({ ...base, name: stream, subjects: [`${prefix}.mbox.*.*`] });
    const t = new RawTransport(o.devices, nc, consNc, jetstream(nc), jsm, stream);
    t.streamSettings = `${base.storage} storage, ${base.retention} retention, replicas ${base.num_replicas}, dedupe window ${Number(base.duplicate_window) / 1e9}s${copied ? ` (copied from ${o.copyStream})` : ''}`;
    const consJs = jetstream(consNc);
    for (let i = 0; i < o.devices; i++) {
      const user = `rawuser${o.tag.toLowerCase()}${i}`.slice(0, 32);
      const device = `rawdev${i}`;
      const subject = `${prefix}.mbox.${user}.${device}`;
      t.subjects.push(subject);
      t.froms.push({ user, device });
      const name = `dev_${user}_${device}`;
      await jsm.consumers.add(stream, {
        durable_name: name,
        filter_subject: subject,
        ack_policy: AckPolicy.Explicit,
        deliver_policy: DeliverPolicy.All,
        ack_wait: nanos(RAW_CONSUMER.ackWaitMs),
        max_ack_pending: RAW_CONSUMER.maxAckPending,
        // Experiment knob (docs/BENCHMARKS.md): consumer state in memory instead of a file per consumer.
        ...(process.env.LOADTEST_RAW_MEM_CONSUMERS === '1' ? { mem_storage: true } : {}),
      });
      const consumer = await consJs.consumers.get(stream, name);
      const msgs = await consumer.consume({
        max_messages: RAW_CONSUMER.pullBatch,
        expires: RAW_CONSUMER.pullExpiresMs,
      });
      t.iters.push(msgs);
      void t.pump(msgs);
    }
    return t;
  }

  private async pump(msgs: ConsumerMessages): Promise<void> {
    try {
      for await (const m of msgs) {
        // Decode as the gateway does before forwarding, then ack as the gateway does after the client's ack.
        const env = JSON.parse(this.dec.decode(m.data)) as StoredEnvelope;
        this.events.delivered(env.id);
        m.ack();
      }
    } catch {
      /* closed */
    }
  }

  /**
   * With `serial`, each sender has at most one publish in flight, the next waiting for the previous
   * one's JetStream ack — what the gateway does per socket today (one frame at a time). Used by
   * `--raw-serial` to show how much of the gap to the gateway that alone explains.
   */
  serial = false;
  private readonly chains = new Map<number, Promise<void>>();

  send(from: number, to: number, id: string, body: string): void {
    const publish = () => {
      const env: StoredEnvelope = { id, from: this.froms[from]!, ts: Date.now(), body };
      return this.js
        .publish(this.subjects[to]!, this.enc.encode(JSON.stringify(env)), {
          msgID: natsMsgId(id, this.froms[to]!, this.froms[from]!),
          expect: { streamName: this.stream },
          timeout: 5_000,
        })
        .then(
          () => this.events.accepted(id),
          () => this.events.rejected(id, 'PUBLISH_FAILED'),
        );
    };
    if (!this.serial) {
      void publish();
      return;
    }
    this.chains.set(from, (this.chains.get(from) ?? Promise.resolve()).then(publish));
  }

  async close(): Promise<void> {
    for (const it of this.iters) await it.close().catch(() => undefined);
    await this.jsm.streams.delete(this.stream).catch(() => undefined);
    await this.consNc.close();
    await this.nc.close();
  }
}

import type { Subjects } from '@hush/protocol';
import {
  DiscardPolicy,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { DUPLICATE_WINDOW_MS } from './constants.js';

export interface StreamOptions {
  name: string;
  subjects: Subjects;
  maxAgeMs: number;
  replicas: number;
  /** Whole-stream byte bound (MAILBOX_MAX_BYTES). */
  maxBytes?: number;
  /** Envelopes kept per device mailbox subject (MAILBOX_MAX_PER_DEVICE). */
  maxPerSubject?: number;
  log?: { warn(o: object, msg: string): void; error(o: object, msg: string): void };
}

/**
 * Makes sure the mailbox stream exists (subjects `mbox.*.*`, file storage, retention
 * by age, duplicate window) and is bounded: `max_bytes` for the whole store and
 * `max_msgs_per_subject` per device mailbox, both discarding the oldest envelope (DiscardOld), so
 * one device or one flood can never fill the broker's disk; the per-device byte quota in the
 * gateway (SEND_BYTES_*) limits how fast anyone gets there. Idempotent and safe when several
 * gateways start at once: if another one created it first we take the existing stream and bring
 * age, dedupe and bounds up to date. A replica count that differs from STREAM_REPLICAS is
 * reconciled by a stream update (nats-server 2.9 can scale a stream's replicas up and down);
 * if the server refuses, the gateway logs it as an error and keeps running.
 */
export async function ensureStream(jsm: JetStreamManager, o: StreamOptions): Promise<void> {
  await retryStartup(() => ensureStreamOnce(jsm, o), { stream: o.name, log: o.log });
}

/** A start-up check that failed for a reason waiting cannot mend (the operator must act). */
export class StartupRefusal extends Error {}

/** How often and how far apart a starting gateway asks JetStream for its streams (~30 s in all). */
const STARTUP_ATTEMPTS = 12;
const STARTUP_RETRY_MS = 2_000;

/**
 * Runs one start-up step against JetStream until it succeeds. A gateway that starts while the
 * cluster elects a leader hears errors or timeouts for a few seconds (nats-server 2.9.10 even
 * answered "stream not found" to both info and add right after a node restart, and a replicated
 * stream's creation took longer than the 5 s API timeout on a loaded 2-core CI machine): it waits
 * and asks again rather than exit. A refusal that retrying cannot mend (a stream with the wrong
 * retention, a {@link StartupRefusal}) fails at once, with its own message.
 */
export async function retryStartup<T>(
  step: () => Promise<T>,
  o: { stream: string; log?: StreamOptions['log'] },
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await step();
    } catch (e) {
      if (i >= STARTUP_ATTEMPTS || e instanceof StartupRefusal) throw e;
      o.log?.warn(
        { stream: o.stream, attempt: i, err: e instanceof Error ? e.message : String(e) },
        'JetStream not ready',
      );
      await new Promise((r) => setTimeout(r, STARTUP_RETRY_MS));
    }
  }
}

async function ensureStreamOnce(jsm: JetStreamManager, o: StreamOptions): Promise<void> {
  const want = {
    name: o.name,
    subjects: [o.subjects.mailboxAll],
    storage: StorageType.File,
    // Work-queue retention: an envelope leaves the broker once its device acked it (nothing is
    // kept longer than needed), and a device's consumer can be recreated without redelivering
    // what was already acked. One consumer per mailbox subject, as work queues require.
    retention: RetentionPolicy.Workqueue,
    max_age: nanos(o.maxAgeMs),
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    num_replicas: o.replicas,
    max_bytes: o.maxBytes ?? -1,
    max_msgs_per_subject: o.maxPerSubject ?? -1,
    discard: DiscardPolicy.Old,
  };
  try {
    const info = await jsm.streams.info(o.name);
    const c = info.config;
    if (c.retention !== want.retention) {
      throw new StartupRefusal(`Stream ${o.name} exists with ${c.retention} retention; the gateway needs workqueue`);
    }
    const drift =
      c.max_age !== want.max_age ||
      c.duplicate_window !== want.duplicate_window ||
      c.max_bytes !== want.max_bytes ||
      c.max_msgs_per_subject !== want.max_msgs_per_subject ||
      c.discard !== want.discard;
    const replicaDrift = c.num_replicas !== want.num_replicas;
    if (drift || replicaDrift) {
      const next = {
        ...c,
        max_age: want.max_age,
        duplicate_window: want.duplicate_window,
        max_bytes: want.max_bytes,
        max_msgs_per_subject: want.max_msgs_per_subject,
        discard: want.discard,
      };
      if (replicaDrift) {
        o.log?.warn(
          { stream: o.name, has: c.num_replicas, want: want.num_replicas },
          'stream replicas differ: updating',
        );
      }
      try {
        await jsm.streams.update(o.name, replicaDrift ? { ...next, num_replicas: want.num_replicas } : next);
      } catch (e) {
        if (!replicaDrift) throw e;
        o.log?.error(
          {
            stream: o.name,
            has: c.num_replicas,
            want: want.num_replicas,
            err: e instanceof Error ? e.message : String(e),
          },
          'STREAM_REPLICAS differs from the existing stream and the server refused to change it: fix the setting or the cluster',
        );
        await jsm.streams.update(o.name, next);
      }
    }
    return;
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
  try {
    await jsm.streams.add(want);
  } catch (e) {
    // A concurrent creator won the race: fine as long as the stream is there now.
    await jsm.streams.info(o.name).catch(() => {
      throw e;
    });
  }
}

/**
 * Creates a side stream (link relay, groups, backup, attachment fetch records) unless it exists.
 * Idempotent when several gateways start at once: if another one created it first, the existing
 * stream is taken as it is.
 */
export async function ensureStreamExists(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  await retryStartup(() => ensureStreamExistsOnce(jsm, config), { stream: config.name });
}

async function ensureStreamExistsOnce(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
    return;
  } catch {
    // not there yet
  }
  try {
    await jsm.streams.add(config);
  } catch (e) {
    await jsm.streams.info(config.name).catch(() => {
      throw e;
    });
  }
}

/** JetStream's "not found": a stream that does not exist (code 10059), or no message on a subject. */
export function isNotFound(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /no message found|not found/i.test(msg) || (e as { code?: number })?.code === 10059;
}

/** JetStream refused a publish whose expected last subject sequence is stale (err_code 10071). */
export const isWrongSequence = (e: unknown) =>
  /wrong last sequence/i.test(e instanceof Error ? e.message : String(e)) ||
  (e as { api_error?: { err_code?: number } })?.api_error?.err_code === 10071;

import type { Subjects } from '@hush/protocol';
import { type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import { DUPLICATE_WINDOW_MS } from './constants.js';

export interface StreamOptions {
  name: string;
  subjects: Subjects;
  maxAgeMs: number;
  replicas: number;
}

/**
 * Makes sure the mailbox stream exists (subjects `mbox.*.*`, file storage, retention
 * by age, duplicate window). Idempotent and safe when several gateways start at once: if another
 * one created it first we take the existing stream and bring age/dedupe settings up to date.
 */
export async function ensureStream(jsm: JetStreamManager, o: StreamOptions): Promise<void> {
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
  };
  try {
    const info = await jsm.streams.info(o.name);
    const c = info.config;
    if (c.retention !== want.retention) {
      throw new Error(`Stream ${o.name} exists with ${c.retention} retention; the gateway needs workqueue`);
    }
    if (c.max_age !== want.max_age || c.duplicate_window !== want.duplicate_window) {
      await jsm.streams.update(o.name, { ...c, max_age: want.max_age, duplicate_window: want.duplicate_window });
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

function isNotFound(e: unknown): boolean {
  const msg = e instanceof Error ? e.message : String(e);
  return /not found/i.test(msg) || (e as { code?: number })?.code === 10059;
}

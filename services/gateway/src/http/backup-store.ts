import { createHash, timingSafeEqual } from 'node:crypto';
import {
  BACKUP_AUTH_HEADER,
  BACKUP_FAILURE_WINDOW_MS,
  BACKUP_MAX_FAILURES,
  BACKUP_MAX_OBJECT_BYTES,
  HushError,
  type Subjects,
} from '@hush/protocol';
import {
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import type { FastifyRequest } from 'fastify';
import { ensureStreamExists, isNotFound as notFound, isWrongSequence as wrongSequence } from '../stream.js';

/**
 * The verifier label of libs/crypto's backup.ts (PROTOCOL.md §12.2): verifier =
 * SHA-256(label ‖ authenticator). The gateway recomputes it from the authenticator a caller sends.
 */
const VERIFIER_LABEL = Buffer.from('hush/backup/verifier/v1');
/** Optimistic-concurrency retries on an account's meta record before answering 503. */
export const META_RETRIES = 20;

export const backupStreamName = (mailboxStream: string) => `${mailboxStream}_BACKUP`;

/** What the gateway keeps per account besides the sealed objects: nothing that opens them. */
export interface Meta {
  v: 1;
  /** base64 SHA-256(label ‖ authenticator): checks a caller's authenticator, cannot test a guess of the key. */
  verifier: string;
  createdAt: number;
  updatedAt: number | null;
  /** Sealed bytes held: every chunk and the manifest. */
  bytes: number;
  chunks: number;
  manifestBytes?: number;
  writer: string;
  failures: number;
  windowStart: number;
}

/**
 * Backups live in one file-backed stream as last-value records (`max_msgs_per_subject: 1`, which is
 * what a JetStream KV bucket is): `bak.<userId>.meta`, `bak.<userId>.manifest` and
 * `bak.<userId>.chunk.<id>`. Writes to the meta record use expected-last-subject-sequence, so
 * counters (bytes, wrong keys) stay exact with many gateways. Idempotent for gateways starting together.
 */
export async function ensureBackupStream(
  jsm: JetStreamManager,
  name: string,
  s: Subjects,
  replicas = 1,
): Promise<void> {
  await ensureStreamExists(jsm, {
    name,
    subjects: [`${s.prefix}bak.>`],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.Old,
    max_msg_size: BACKUP_MAX_OBJECT_BYTES + 1024,
    num_replicas: replicas,
  });
}

/**
 * The backup stream as the routes use it: last-value records per account (meta, manifest,
 * chunks), the meta record written with optimistic concurrency, and the authenticator check.
 */
export function backupStore(d: {
  js: JetStreamClient;
  jsm: JetStreamManager;
  streamName: string;
  s: Subjects;
  now: () => number;
}) {
  const { js, jsm, streamName, s, now } = d;
  const subj = (u: string, what: string) => `${s.prefix}bak.${u}.${what}`;
  const upstream = (e: unknown) =>
    new HushError('UPSTREAM_UNAVAILABLE', 'Backup storage is not available', { cause: e });

  const get = async (subject: string) => {
    try {
      return (await jsm.streams.getMessage(streamName, { last_by_subj: subject })) ?? undefined;
    } catch (e) {
      if (notFound(e)) return undefined;
      throw upstream(e);
    }
  };
  const readMeta = async (u: string): Promise<{ seq: number; meta: Meta } | undefined> => {
    const m = await get(subj(u, 'meta'));
    return m ? { seq: m.seq, meta: m.json<Meta>() } : undefined;
  };
  const writeMeta = async (u: string, meta: Meta, expectSeq: number): Promise<boolean> => {
    try {
      await js.publish(subj(u, 'meta'), JSON.stringify(meta), {
        expect: { streamName, lastSubjectSequence: expectSeq },
        timeout: 5_000,
      });
      return true;
    } catch (e) {
      if (wrongSequence(e)) return false;
      throw upstream(e);
    }
  };
  const put = async (subject: string, data: Uint8Array) => {
    try {
      await js.publish(subject, data, { expect: { streamName }, timeout: 5_000 });
    } catch (e) {
      throw upstream(e);
    }
  };
  const purge = async (filter: string) => {
    try {
      await jsm.streams.purge(streamName, { filter });
    } catch (e) {
      throw upstream(e);
    }
  };

  /**
   * Checks the caller's authenticator against the account's verifier. A wrong one is counted (the
   * count is written before the answer, so concurrent guesses cannot pass the limit) and refused;
   * past BACKUP_MAX_FAILURES in the window every authenticator is refused without a comparison.
   * `change` edits the meta record for a write (and may refuse it); reads pass none.
   */
  const authorized = async (req: FastifyRequest, change?: (m: Meta) => void): Promise<Meta> => {
    const u = req.identity!.userId;
    const auth = Buffer.from(String(req.headers[BACKUP_AUTH_HEADER]), 'base64');
    const given = createHash('sha256').update(VERIFIER_LABEL).update(auth).digest();
    for (let i = 0; i < META_RETRIES; i++) {
      const cur = await readMeta(u);
      if (!cur) throw new HushError('BACKUP_NOT_FOUND');
      const m: Meta = { ...cur.meta };
      const t = now();
      if (t - m.windowStart >= BACKUP_FAILURE_WINDOW_MS) {
        m.failures = 0;
        m.windowStart = t;
      }
      if (m.failures >= BACKUP_MAX_FAILURES) {
        const retryAfter = Math.max(1, Math.ceil((m.windowStart + BACKUP_FAILURE_WINDOW_MS - t) / 1000));
        throw new HushError('BACKUP_RATE_LIMITED', undefined, { retryAfter });
      }
      const stored = Buffer.from(m.verifier, 'base64');
      if (auth.length !== 32 || stored.length !== given.length || !timingSafeEqual(stored, given)) {
        m.failures += 1;
        if (!(await writeMeta(u, m, cur.seq))) continue;
        const left = BACKUP_MAX_FAILURES - m.failures;
        throw new HushError(
          'BACKUP_WRONG_KEY',
          `That recovery key does not open this backup (${left} ${left === 1 ? 'try' : 'tries'} left today)`,
        );
      }
      if (!change) return m;
      change(m);
      if (await writeMeta(u, m, cur.seq)) return m;
    }
    throw new HushError('UPSTREAM_UNAVAILABLE', 'The backup is busy; try again');
  };

  return { subj, get, readMeta, writeMeta, put, purge, authorized };
}

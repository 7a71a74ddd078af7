import { createHash, timingSafeEqual } from 'node:crypto';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  BACKUP_AUTH_HEADER,
  BACKUP_FAILURE_WINDOW_MS,
  BACKUP_MAX_ACCOUNT_BYTES,
  BACKUP_MAX_CHUNKS,
  BACKUP_MAX_FAILURES,
  BACKUP_MAX_OBJECT_BYTES,
  BackupAuthHeaders,
  BackupChunkParams,
  BackupObject,
  BackupStatus,
  CreateBackupBody,
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
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ensureStreamExists } from '../stream.js';
import type { TokenVerifier } from '../tokens.js';
import { bearerAuth, type RouteDeps } from './routes.js';
import { Empty, ErrorBody } from './schemas.js';

/**
 * The verifier label of libs/crypto's backup.ts (PROTOCOL.md §12.2): verifier =
 * SHA-256(label ‖ authenticator). The gateway recomputes it from the authenticator a caller sends.
 */
const VERIFIER_LABEL = Buffer.from('hush/backup/verifier/v1');
/** Optimistic-concurrency retries on an account's meta record before answering 503. */
const META_RETRIES = 20;

export const backupStreamName = (mailboxStream: string) => `${mailboxStream}_BACKUP`;

export interface BackupRouteDeps {
  s: Subjects;
  verifier: TokenVerifier;
  checkDevice: RouteDeps['checkDevice'];
  jsm: JetStreamManager;
  js: JetStreamClient;
  /** `<STREAM_NAME>_BACKUP`, made by ensureBackupStream. */
  streamName: string;
  now?: () => number;
}

/** What the gateway keeps per account besides the sealed objects: nothing that opens them. */
interface Meta {
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

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  429: ErrorBody,
  503: ErrorBody,
};
const bearer = [{ bearer: [] }];
const notFound = (e: unknown) => /no message found|not found/i.test(e instanceof Error ? e.message : '');
const wrongSequence = (e: unknown) =>
  /wrong last sequence/i.test(e instanceof Error ? e.message : String(e)) ||
  (e as { api_error?: { err_code?: number } })?.api_error?.err_code === 10071;

/**
 * The zero-knowledge backup store (docs/PROTOCOL-WIRE.md, "Encrypted backup"). The account comes
 * from the verified token; backup content is read or written only with the authenticator derived
 * from the recovery key, and wrong authenticators are counted per account before they are answered.
 */
export async function backupRoutes(app: FastifyInstance, d: BackupRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { s, js, jsm, streamName } = d;
  const now = d.now ?? Date.now;
  const authenticate = bearerAuth(d);
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
  const mustWrite = (req: FastifyRequest) => (m: Meta) => {
    if (m.writer !== req.identity!.deviceId) throw new HushError('BACKUP_OTHER_WRITER');
  };
  const objectBytes = (data: string) => {
    const bytes = Buffer.from(data, 'base64');
    if (bytes.length > BACKUP_MAX_OBJECT_BYTES) throw new HushError('BACKUP_TOO_LARGE', 'That object is too large');
    return bytes;
  };
  const authHeaders = { headers: BackupAuthHeaders };
  const withAuth = { tags: ['backup'], security: bearer, ...authHeaders };

  r.get(
    '/v1/backup',
    {
      schema: { tags: ['backup'], security: bearer, response: { 200: BackupStatus, ...errors } },
      preHandler: authenticate,
    },
    async (req) => {
      const cur = await readMeta(req.identity!.userId);
      if (!cur) return { enabled: false, createdAt: null, updatedAt: null, bytes: 0, chunks: 0, writer: null };
      const m = cur.meta;
      return {
        enabled: true,
        createdAt: m.createdAt,
        updatedAt: m.updatedAt,
        bytes: m.bytes,
        chunks: m.chunks,
        writer: m.writer,
      };
    },
  );

  // Turning backup on, or a new recovery key: whatever the account had is dropped first (it was
  // sealed under the old key). Only the token is needed, as for "Reset identity" (decision 10):
  // whoever holds the password can already replace the account's identity.
  r.put(
    '/v1/backup',
    {
      schema: { tags: ['backup'], security: bearer, body: CreateBackupBody, response: { 204: Empty, ...errors } },
      preHandler: authenticate,
    },
    async (req, reply) => {
      const u = req.identity!.userId;
      const t = now();
      const meta: Meta = {
        v: 1,
        verifier: req.body.verifier,
        createdAt: t,
        updatedAt: null,
        bytes: 0,
        chunks: 0,
        writer: req.identity!.deviceId,
        failures: 0,
        windowStart: t,
      };
      for (let i = 0; i < META_RETRIES; i++) {
        await purge(subj(u, '>'));
        if (await writeMeta(u, meta, 0)) return reply.code(204).send(null);
      }
      throw new HushError('UPSTREAM_UNAVAILABLE', 'The backup is busy; try again');
    },
  );

  // Turning backup off deletes the server copy.
  r.delete(
    '/v1/backup',
    { schema: { tags: ['backup'], security: bearer, response: { 204: Empty, ...errors } }, preHandler: authenticate },
    async (req, reply) => {
      await purge(subj(req.identity!.userId, '>'));
      return reply.code(204).send(null);
    },
  );

  // A restored device takes over writing the backup (the old writer gets BACKUP_OTHER_WRITER).
  r.post(
    '/v1/backup/claim',
    { schema: { ...withAuth, response: { 204: Empty, ...errors } }, preHandler: authenticate },
    async (req, reply) => {
      await authorized(req, (m) => {
        m.writer = req.identity!.deviceId;
      });
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/v1/backup/manifest',
    { schema: { ...withAuth, response: { 200: BackupObject, ...errors } }, preHandler: authenticate },
    async (req) => {
      await authorized(req);
      const m = await get(subj(req.identity!.userId, 'manifest'));
      if (!m) throw new HushError('BACKUP_NOT_FOUND', 'The backup has no manifest yet');
      return { data: Buffer.from(m.data).toString('base64') };
    },
  );

  r.put(
    '/v1/backup/manifest',
    { schema: { ...withAuth, body: BackupObject, response: { 204: Empty, ...errors } }, preHandler: authenticate },
    async (req, reply) => {
      const bytes = objectBytes(req.body.data);
      await authorized(req, (m) => {
        mustWrite(req)(m);
        m.updatedAt = now();
        m.bytes += bytes.length - (m.manifestBytes ?? 0);
        m.manifestBytes = bytes.length;
        if (m.bytes > BACKUP_MAX_ACCOUNT_BYTES) throw new HushError('BACKUP_TOO_LARGE');
      });
      await put(subj(req.identity!.userId, 'manifest'), bytes);
      return reply.code(204).send(null);
    },
  );

  r.get(
    '/v1/backup/chunks/:id',
    {
      schema: { ...withAuth, params: BackupChunkParams, response: { 200: BackupObject, ...errors } },
      preHandler: authenticate,
    },
    async (req) => {
      await authorized(req);
      const m = await get(subj(req.identity!.userId, `chunk.${req.params.id}`));
      if (!m) throw new HushError('BACKUP_NOT_FOUND', 'No such backup chunk');
      return { data: Buffer.from(m.data).toString('base64') };
    },
  );

  r.put(
    '/v1/backup/chunks/:id',
    {
      schema: { ...withAuth, params: BackupChunkParams, body: BackupObject, response: { 204: Empty, ...errors } },
      preHandler: authenticate,
    },
    async (req, reply) => {
      const bytes = objectBytes(req.body.data);
      const subject = subj(req.identity!.userId, `chunk.${req.params.id}`);
      // A retried write of the same chunk replaces it: count only the difference.
      const before = await get(subject);
      await authorized(req, (m) => {
        mustWrite(req)(m);
        m.bytes += bytes.length - (before?.data.length ?? 0);
        m.chunks += before ? 0 : 1;
        if (m.bytes > BACKUP_MAX_ACCOUNT_BYTES || m.chunks > BACKUP_MAX_CHUNKS) throw new HushError('BACKUP_TOO_LARGE');
      });
      await put(subject, bytes);
      return reply.code(204).send(null);
    },
  );

  r.delete(
    '/v1/backup/chunks/:id',
    {
      schema: { ...withAuth, params: BackupChunkParams, response: { 204: Empty, ...errors } },
      preHandler: authenticate,
    },
    async (req, reply) => {
      const subject = subj(req.identity!.userId, `chunk.${req.params.id}`);
      const before = await get(subject);
      if (!before) return reply.code(204).send(null);
      await authorized(req, (m) => {
        mustWrite(req)(m);
        m.bytes = Math.max(0, m.bytes - before.data.length);
        m.chunks = Math.max(0, m.chunks - 1);
      });
      await purge(subject);
      return reply.code(204).send(null);
    },
  );
}

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  BACKUP_MAX_ACCOUNT_BYTES,
  BACKUP_MAX_CHUNKS,
  BACKUP_MAX_OBJECT_BYTES,
  BackupAuthHeaders,
  BackupChunkParams,
  BackupObject,
  BackupStatus,
  CreateBackupBody,
  HushError,
  type Subjects,
} from '@hush/protocol';
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TokenVerifier } from '../tokens.js';
import { backupStore, META_RETRIES, type Meta } from './backup-store.js';
import { bearerAuth, type RouteDeps } from './routes.js';

export { backupStreamName, ensureBackupStream } from './backup-store.js';

import { Empty, ErrorBody, groupErrors } from './schemas.js';

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

// The group routes' statuses plus 429 (wrong recovery keys are counted and limited).
const errors = { ...groupErrors, 429: ErrorBody };
const bearer = [{ bearer: [] }];

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
  const { subj, readMeta, writeMeta, put, purge, get, authorized } = backupStore({ js, jsm, streamName, s, now });
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

import { Readable } from 'node:stream';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  ATTACHMENT_MAX_BLOB_BYTES,
  AttachmentIdParams,
  AttachmentUploaded,
  AttachmentUploadQuery,
  HushError,
  randomId,
  type Subjects,
} from '@hush/protocol';
import { type JetStreamClient, type JetStreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { type ObjectStore, Objm } from '@nats-io/obj';
import { nanos } from '@nats-io/transport-node';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ensureStreamExists } from '../stream.js';
import type { TokenVerifier } from '../tokens.js';
import { bearerAuth, type RouteDeps } from './routes.js';
import { ErrorBody } from './schemas.js';

/**
 * Encrypted attachments (docs/PROTOCOL-WIRE.md, "Attachments"). The client encrypts a file with a
 * fresh key (libs/crypto attachment.ts) and uploads only the ciphertext here; the key and digest go
 * inside the end-to-end message. The gateway stores the blob in a NATS object store bucket beside
 * the mailboxes (no new database), under a random 128-bit id, and serves it to any signed-in
 * device that names the id — the id is a capability, like the message that carries it.
 *
 * Storage is bounded three ways: a blob expires with the mailbox retention (the bucket's TTL), it
 * is deleted once as many distinct devices fetched it as the uploader said would (the message's
 * recipient devices), and the bucket as a whole has a byte bound that refuses uploads when full
 * (ATTACH_STORE_FULL) rather than dropping stored files.
 */

export const attachmentBucket = (mailboxStream: string) => `${mailboxStream}_ATT`;
/** JetStream stream that records which devices fetched which attachment (deduplicated per device). */
export const attachmentFetchStream = (mailboxStream: string) => `${mailboxStream}_ATTFETCH`;

export interface AttachmentDeps {
  s: Subjects;
  verifier: TokenVerifier;
  checkDevice: RouteDeps['checkDevice'];
  js: JetStreamClient;
  jsm: JetStreamManager;
  mailboxStream: string;
  /** How long an unfetched attachment is kept (the mailbox retention). */
  maxAgeMs: number;
  /** The whole bucket's byte bound. */
  maxBytes: number;
  replicas: number;
}

/** The bucket and the fetch-record stream; idempotent for gateways starting side by side. */
export async function ensureAttachmentStore(d: AttachmentDeps): Promise<ObjectStore> {
  await ensureStreamExists(d.jsm, {
    name: attachmentFetchStream(d.mailboxStream),
    subjects: [d.s.attachmentFetchAll],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_age: nanos(d.maxAgeMs),
    num_replicas: d.replicas,
    // One record per (attachment, device): JetStream drops the repeat within the window.
    duplicate_window: nanos(Math.min(d.maxAgeMs, 24 * 3600 * 1000)),
  });
  return new Objm(d.js).create(attachmentBucket(d.mailboxStream), {
    storage: StorageType.File,
    ttl: nanos(d.maxAgeMs),
    replicas: d.replicas,
    max_bytes: d.maxBytes,
    description: 'Hush encrypted attachments (ciphertext only)',
  });
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 413: ErrorBody, 503: ErrorBody };
const bearer = [{ bearer: [] }];

export async function attachmentRoutes(app: FastifyInstance, d: AttachmentDeps, store: ObjectStore): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const authenticate = bearerAuth(d);
  const fetchStream = attachmentFetchStream(d.mailboxStream);

  // Blobs arrive as raw bytes; this scope alone accepts them, up to the largest file's blob.
  app.addContentTypeParser(
    'application/octet-stream',
    { parseAs: 'buffer', bodyLimit: ATTACHMENT_MAX_BLOB_BYTES },
    (_req, body, done) => done(null, body),
  );

  r.post(
    '/v1/attachments',
    {
      bodyLimit: ATTACHMENT_MAX_BLOB_BYTES,
      schema: {
        tags: ['attachments'],
        security: bearer,
        querystring: AttachmentUploadQuery,
        response: { 201: AttachmentUploaded, ...errors },
      },
      preHandler: authenticate,
    },
    async (req: FastifyRequest<{ Querystring: AttachmentUploadQuery }>, reply) => {
      const body = req.body;
      if (!(body instanceof Buffer) || body.length === 0) {
        throw new HushError('VALIDATION_FAILED', 'Send the encrypted file as application/octet-stream');
      }
      const id = randomId(22);
      try {
        await store.putBlob(
          {
            name: id,
            metadata: { recipients: String(req.query.recipients), owner: req.identity!.userId },
          },
          new Uint8Array(body.buffer, body.byteOffset, body.length),
        );
      } catch (e) {
        // A full bucket (max_bytes) refuses new objects; anything else is the broker's trouble.
        if (/maximum bytes|insufficient resources|resources exceeded/i.test(String(e))) {
          throw new HushError('ATTACH_STORE_FULL');
        }
        throw new HushError('UPSTREAM_UNAVAILABLE', 'The attachment could not be stored');
      }
      return reply.code(201).send({ id, bytes: body.length });
    },
  );

  // Untyped reply: the body is raw bytes, outside the JSON schemas.
  app.get<{ Params: AttachmentIdParams }>(
    '/v1/attachments/:id',
    {
      schema: { tags: ['attachments'], security: bearer, params: AttachmentIdParams, response: errors },
      preHandler: authenticate,
    },
    async (req, reply) => {
      const id = req.params.id;
      const info = await store.info(id).catch(() => null);
      if (!info || info.deleted) throw new HushError('ATTACH_NOT_FOUND');
      const result = await store.get(id).catch(() => null);
      if (!result) throw new HushError('ATTACH_NOT_FOUND');
      // Streamed as the chunks arrive from JetStream: a 100 MB blob never sits whole in the
      // gateway's memory, and bytes keep the connection busy from the first chunk on.
      void result.error.then((err) => {
        if (err) {
          req.log.warn({ err: err.message }, 'attachment read failed');
          return;
        }
        return recordFetch(req, info.metadata?.recipients, id).catch((e: unknown) =>
          req.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'attachment fetch not recorded'),
        );
      });
      return reply
        .type('application/octet-stream')
        .header('cache-control', 'no-store')
        .header('content-length', String(info.size))
        .send(Readable.fromWeb(result.data as NodeReadableStream<Uint8Array>));
    },
  );

  /**
   * One record per (attachment, device), deduplicated by JetStream; when as many devices as the
   * uploader named have fetched it, the blob and its records are deleted.
   */
  async function recordFetch(req: FastifyRequest, recipients: string | undefined, id: string): Promise<void> {
    const device = `${req.identity!.userId}.${req.identity!.deviceId}`;
    const subject = d.s.attachmentFetch(id, req.identity!.deviceId);
    await d.js.publish(subject, new Uint8Array(0), { msgID: `${id}:${device}` });
    const want = Number(recipients);
    if (!Number.isInteger(want) || want < 1) return;
    const si = await d.jsm.streams.info(fetchStream, { subjects_filter: d.s.attachmentFetch(id, '*') });
    const fetched = Object.keys(si.state.subjects ?? {}).length;
    if (fetched < want) return;
    await store.delete(id);
    await d.jsm.streams.purge(fetchStream, { filter: d.s.attachmentFetch(id, '*') });
  }
}

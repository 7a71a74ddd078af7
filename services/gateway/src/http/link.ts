import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  DeviceIdParams,
  DeviceInfoList,
  HushError,
  LINK_CHANNEL_TTL_MS,
  LINK_MAX_BATCH,
  LINK_MAX_BODY_BASE64,
  LINK_MAX_MESSAGES,
  LinkChannelParams,
  LinkMessages,
  LinkPollQuery,
  LinkPostBody,
  LinkPosted,
  type LinkSide,
  type Subjects,
} from '@hush/protocol';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  type JetStreamClient,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Rpc } from '../nats-rpc.js';
import { ensureStreamExists } from '../stream.js';
import type { TokenVerifier } from '../tokens.js';
import { bearerAuth, type RouteDeps } from './routes.js';
import { Empty, ErrorBody } from './schemas.js';

/** Whole relay stream: enough for a few hundred links at once; a full stream refuses, never evicts. */
export const LINK_STREAM_MAX_BYTES = 256 * 1024 * 1024;

export interface LinkRouteDeps {
  rpc: Rpc;
  s: Subjects;
  verifier: TokenVerifier;
  checkDevice: RouteDeps['checkDevice'];
  jsm: JetStreamManager;
  js: JetStreamClient;
  /** The relay's own stream (`<STREAM_NAME>_LINK`), made by ensureLinkStream. */
  streamName: string;
}

export const linkStreamName = (mailboxStream: string) => `${mailboxStream}_LINK`;

/**
 * The provisioning relay's stream: memory only (ciphertext that matters for minutes), every
 * message gone after LINK_CHANNEL_TTL_MS, bounded message size and total, and a full stream
 * refuses new messages instead of dropping old ones (discard new), so a link in progress never
 * loses a message silently. Idempotent for gateways starting side by side.
 */
export async function ensureLinkStream(jsm: JetStreamManager, name: string, s: Subjects): Promise<void> {
  const want = {
    name,
    subjects: [s.linkAll],
    storage: StorageType.Memory,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.New,
    max_age: nanos(LINK_CHANNEL_TTL_MS),
    max_msg_size: LINK_MAX_BODY_BASE64 + 1024,
    max_bytes: LINK_STREAM_MAX_BYTES,
    num_replicas: 1,
  };
  await ensureStreamExists(jsm, want);
}

const errors = { 400: ErrorBody, 401: ErrorBody, 404: ErrorBody, 413: ErrorBody, 503: ErrorBody };
const bearer = [{ bearer: [] }];

/**
 * "Linked devices" and the provisioning relay (docs/PROTOCOL-WIRE.md, "Device linking").
 * Every route takes the account from the verified token: a channel lives under the caller's
 * userId in the subject, so another account can neither read nor write it, even knowing its id.
 */
export async function linkRoutes(app: FastifyInstance, d: LinkRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { rpc, s, jsm, js, streamName } = d;

  const authenticate = bearerAuth(d);
  const caller = (req: FastifyRequest) => ({ userId: req.identity!.userId, deviceId: req.identity!.deviceId });

  r.get(
    '/v1/devices',
    {
      schema: { tags: ['devices'], security: bearer, response: { 200: DeviceInfoList, ...errors } },
      preHandler: authenticate,
    },
    (req) => rpc.for(req).call<DeviceInfoList>(s.auth.devices, { caller: caller(req) }),
  );

  r.delete(
    '/v1/devices/:deviceId',
    {
      schema: {
        tags: ['devices'],
        security: bearer,
        params: DeviceIdParams,
        response: { 204: Empty, ...errors },
      },
      preHandler: authenticate,
    },
    async (req, reply) => {
      // Remote sign-out: auth revokes the device's tokens and tells every gateway to close its
      // socket. Its keys and mailbox go when the account's re-signed device list arrives
      // (PUT /v1/keys/device-list), which only a device holding the identity key can sign.
      await rpc.for(req).call<unknown>(s.auth.logout, { caller: caller(req), deviceId: req.params.deviceId });
      d.verifier.revoke(req.identity!.userId, req.params.deviceId);
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/v1/link/:channel',
    {
      schema: {
        tags: ['devices'],
        security: bearer,
        params: LinkChannelParams,
        body: LinkPostBody,
        response: { 200: LinkPosted, ...errors },
      },
      preHandler: authenticate,
    },
    async (req) => {
      const { userId } = req.identity!;
      const { channel } = req.params;
      const info = await jsm.streams
        .info(streamName, { subjects_filter: `${s.link(userId, channel, 'new').slice(0, -4)}.*` })
        .catch((e: unknown) => {
          throw new HushError('UPSTREAM_UNAVAILABLE', 'The link relay is not available', { cause: e });
        });
      const held = Object.values(info.state.subjects ?? {}).reduce((a, b) => a + b, 0);
      if (held >= LINK_MAX_MESSAGES) throw new HushError('LINK_CHANNEL_FULL');
      try {
        const ack = await js.publish(s.link(userId, channel, req.body.to), req.body.body);
        return { seq: ack.seq };
      } catch (e) {
        // A full stream (discard new) or a lost broker: the sender may retry the same message.
        const full = /maximum (bytes|messages)|resource limits/i.test(e instanceof Error ? e.message : '');
        throw full
          ? new HushError('LINK_CHANNEL_FULL', 'The link relay is full; try again in a few minutes')
          : new HushError('UPSTREAM_UNAVAILABLE', 'The link relay is not available', { cause: e });
      }
    },
  );

  r.get(
    '/v1/link/:channel',
    {
      schema: {
        tags: ['devices'],
        security: bearer,
        params: LinkChannelParams,
        querystring: LinkPollQuery,
        response: { 200: LinkMessages, ...errors },
      },
      preHandler: authenticate,
    },
    async (req) => {
      const { userId } = req.identity!;
      const { side, after, wait } = req.query as { side: LinkSide; after: number; wait: number };
      const subject = s.link(userId, req.params.channel, side);
      // A short-lived consumer per poll: the caller's `after` is the only cursor, so a poll that
      // was lost (network, another gateway) is simply asked again with the same `after`.
      let ci: Awaited<ReturnType<JetStreamManager['consumers']['add']>>;
      try {
        ci = await jsm.consumers.add(streamName, {
          filter_subject: subject,
          deliver_policy: DeliverPolicy.StartSequence,
          opt_start_seq: after + 1,
          ack_policy: AckPolicy.None,
          mem_storage: true,
          inactive_threshold: nanos(60_000),
        });
      } catch (e) {
        throw new HushError('UPSTREAM_UNAVAILABLE', 'The link relay is not available', { cause: e });
      }
      try {
        const consumer = await js.consumers.get(streamName, ci.name);
        const messages: LinkMessages['messages'] = [];
        if (ci.num_pending > 0) {
          const batch = await consumer.fetch({
            max_messages: Math.min(ci.num_pending, LINK_MAX_BATCH),
            expires: 5_000,
          });
          for await (const m of batch) {
            messages.push({ seq: m.seq, body: m.string() });
            if (messages.length >= Math.min(ci.num_pending, LINK_MAX_BATCH)) break;
          }
        } else if (wait > 0) {
          const m = await consumer.next({ expires: Math.max(1_000, wait) });
          if (m) messages.push({ seq: m.seq, body: m.string() });
        }
        return { messages };
      } finally {
        await jsm.consumers.delete(streamName, ci.name).catch(() => undefined);
      }
    },
  );
}

import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  GroupCommitAccepted,
  GroupCommitBody,
  type GroupDevice,
  type GroupEnvelopeTag,
  GroupIdParams,
  GroupInfo,
  GroupMessageAccepted,
  GroupMessageBody,
  type GroupRecord,
  HushError,
  MAX_GROUP_DEVICES,
  MAX_GROUP_MESSAGE_BASE64,
  MAX_WELCOME_BASE64,
  natsMsgId,
  type StoredEnvelope,
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
import type { Rpc } from '../nats-rpc.js';
import type { DeviceDirectory } from '../recipients.js';
import { ensureStreamExists, isNotFound, isWrongSequence } from '../stream.js';
import type { TokenVerifier } from '../tokens.js';
import { keyPackageRoutes } from './key-packages.js';
import { bearerAuth, type RouteDeps } from './routes.js';
import { groupErrors as errors } from './schemas.js';

export interface GroupRouteDeps {
  rpc: Rpc;
  s: Subjects;
  verifier: TokenVerifier;
  checkDevice: RouteDeps['checkDevice'];
  jsm: JetStreamManager;
  js: JetStreamClient;
  devices: DeviceDirectory;
  /** The mailbox stream (group deliveries go to member mailboxes). */
  mailboxStream: string;
  /** The group records' stream (`<STREAM_NAME>_GROUPS`), made by ensureGroupStream. */
  groupStream: string;
  now?: () => number;
}

export const groupStreamName = (mailboxStream: string) => `${mailboxStream}_GROUPS`;

/**
 * Group routing records: one subject per group holding only its latest record (epoch, member
 * devices), so a commit can be accepted with "expected last subject sequence" = the sequence of
 * the record it was built on. JetStream checks that atomically on the stream leader: of two
 * concurrent commits for one epoch exactly one is stored (RFC 9420 §14 needs one commit per epoch).
 */
export async function ensureGroupStream(jsm: JetStreamManager, name: string, s: Subjects, replicas = 1): Promise<void> {
  await ensureStreamExists(jsm, {
    name,
    subjects: [s.groupAll],
    storage: StorageType.File,
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: 1,
    discard: DiscardPolicy.Old,
    max_msg_size: 256 * 1024,
    num_replicas: replicas,
  });
}

const bearer = [{ bearer: [] }];
const same = (a: GroupDevice, b: GroupDevice) => a.user === b.user && a.device === b.device;

/**
 * MLS key packages (forwarded to keydir) and group routing (docs/PROTOCOL-WIRE.md, "Groups").
 * The gateway learns only a group's id, epoch counter and member devices: every body is an opaque
 * MLS message, so it never sees a group's name, avatar, roster keys or messages.
 */
export async function groupRoutes(app: FastifyInstance, d: GroupRouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { s, js, jsm } = d;
  const now = d.now ?? Date.now;

  const authenticate = bearerAuth(d);
  const me = (req: FastifyRequest): GroupDevice => ({ user: req.identity!.userId, device: req.identity!.deviceId });

  const upstream = (e: unknown) =>
    new HushError('UPSTREAM_UNAVAILABLE', 'Group routing is not available', { cause: e });

  /** The group's latest record and its stream sequence, or undefined when there is none. */
  const read = async (groupId: string): Promise<{ seq: number; record: GroupRecord } | undefined> => {
    try {
      const m = await jsm.streams.getMessage(d.groupStream, { last_by_subj: s.group(groupId) });
      if (!m) return undefined;
      return { seq: m.seq, record: m.json<GroupRecord>() };
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw upstream(e);
    }
  };
  const readMember = async (groupId: string, who: GroupDevice) => {
    const cur = await read(groupId);
    if (!cur) throw new HushError('GROUP_NOT_FOUND');
    if (!cur.record.members.some((m) => same(m, who))) throw new HushError('GROUP_NOT_MEMBER');
    return cur;
  };
  /** Writes the next record only if the group's subject is still at `expectSeq` (0: no record yet). */
  const write = async (groupId: string, record: GroupRecord, expectSeq: number): Promise<boolean> => {
    try {
      await js.publish(s.group(groupId), JSON.stringify(record), {
        expect: { streamName: d.groupStream, lastSubjectSequence: expectSeq },
        timeout: 5_000,
      });
      return true;
    } catch (e) {
      if (isWrongSequence(e)) return false;
      throw upstream(e);
    }
  };
  /** Publishes one envelope per device into its mailbox (Nats-Msg-Id scoped per device: retries dedupe). */
  const fanOut = async (to: GroupDevice[], env: StoredEnvelope): Promise<number> => {
    try {
      await Promise.all(
        to.map((t) =>
          js.publish(s.mailbox(t.user, t.device), JSON.stringify(env), {
            msgID: natsMsgId(`${env.id}${env.group?.kind === 'welcome' ? 'w' : ''}`, t, env.from),
            expect: { streamName: d.mailboxStream },
            timeout: 5_000,
          }),
        ),
      );
    } catch (e) {
      throw new HushError('GW_PUBLISH_FAILED', undefined, { cause: e });
    }
    return to.length;
  };
  const envelope = (
    req: FastifyRequest,
    id: string,
    body: string,
    kind: GroupEnvelopeTag['kind'],
    groupId: string,
  ): StoredEnvelope => ({
    id,
    from: { user: req.identity!.userId, device: req.identity!.deviceId },
    ts: now(),
    body,
    group: { id: groupId, kind },
  });

  keyPackageRoutes(app, d);

  // ---- groups ----

  r.put(
    '/v1/groups/:groupId',
    {
      schema: { tags: ['groups'], security: bearer, params: GroupIdParams, response: { 201: GroupInfo, ...errors } },
      preHandler: authenticate,
    },
    async (req, reply) => {
      const { groupId } = req.params;
      const record: GroupRecord = { epoch: 0, members: [me(req)], lastCommitId: null };
      if (!(await write(groupId, record, 0))) throw new HushError('GROUP_EXISTS');
      return reply.code(201).send({ groupId, epoch: 0, members: record.members });
    },
  );

  r.get(
    '/v1/groups/:groupId',
    {
      schema: { tags: ['groups'], security: bearer, params: GroupIdParams, response: { 200: GroupInfo, ...errors } },
      preHandler: authenticate,
    },
    async (req) => {
      const { record } = await readMember(req.params.groupId, me(req));
      return { groupId: req.params.groupId, epoch: record.epoch, members: record.members };
    },
  );

  r.post(
    '/v1/groups/:groupId/commits',
    {
      schema: {
        tags: ['groups'],
        security: bearer,
        params: GroupIdParams,
        body: GroupCommitBody,
        response: { 200: GroupCommitAccepted, ...errors },
      },
      // A welcome carries the ratchet tree (≈ 480 base64 bytes per member device): above the
      // gateway's general body limit for large groups.
      bodyLimit: MAX_WELCOME_BASE64 + MAX_GROUP_MESSAGE_BASE64 + 64 * 1024,
      preHandler: authenticate,
    },
    async (req) => {
      const { groupId } = req.params;
      const b = req.body;
      const self = me(req);
      const cur = await readMember(groupId, self);
      const old = cur.record.members;
      // A retry of the commit that made this epoch (its answer was lost): deliver again, same ids.
      const retry = cur.record.lastCommitId === b.id && cur.record.epoch === b.epoch + 1;
      if (!retry && b.epoch !== cur.record.epoch) {
        throw new HushError('GROUP_EPOCH_MISMATCH', `The group is at epoch ${cur.record.epoch}`);
      }
      let members = old;
      let receivers = old;
      if (!retry) {
        if (
          b.add.some((a) => old.some((m) => same(m, a))) ||
          new Set(b.add.map((a) => `${a.user}.${a.device}`)).size !== b.add.length
        ) {
          throw new HushError('VALIDATION_FAILED', 'An added device is already a member or listed twice');
        }
        if (b.remove.some((x) => !old.some((m) => same(m, x)))) {
          throw new HushError('VALIDATION_FAILED', 'A removed device is not a member');
        }
        if (b.remove.some((x) => same(x, self))) {
          throw new HushError('VALIDATION_FAILED', 'A device cannot commit its own removal (RFC 9420 §12.1.3)');
        }
        if (b.add.length > 0 !== (b.welcome !== undefined)) {
          throw new HushError('VALIDATION_FAILED', 'A welcome goes with added devices, and only with them');
        }
        if (b.add.length > 0) await d.devices.check(b.add);
        members = [...old.filter((m) => !b.remove.some((x) => same(x, m))), ...b.add];
        if (members.length > MAX_GROUP_DEVICES) throw new HushError('GROUP_TOO_LARGE');
        const next: GroupRecord = { epoch: cur.record.epoch + 1, members, lastCommitId: b.id };
        if (!(await write(groupId, next, cur.seq))) {
          throw new HushError('GROUP_EPOCH_MISMATCH', 'Another commit for this epoch was accepted first');
        }
      } else {
        // The record after the commit: its receivers were the members before it plus the removed.
        receivers = [...old.filter((m) => !b.add.some((a) => same(a, m))), ...b.remove];
      }
      // Everyone who was a member at the commit's epoch gets the commit (removed devices learn
      // they were removed); added devices get the welcome.
      const commitTo = receivers.filter((m) => !same(m, self));
      const delivered =
        (await fanOut(commitTo, envelope(req, b.id, b.commit, 'commit', groupId))) +
        (b.welcome ? await fanOut(b.add, envelope(req, b.id, b.welcome, 'welcome', groupId)) : 0);
      return { epoch: retry ? cur.record.epoch : cur.record.epoch + 1, delivered };
    },
  );

  r.post(
    '/v1/groups/:groupId/messages',
    {
      schema: {
        tags: ['groups'],
        security: bearer,
        params: GroupIdParams,
        body: GroupMessageBody,
        response: { 200: GroupMessageAccepted, ...errors },
      },
      preHandler: authenticate,
    },
    async (req) => {
      const { groupId } = req.params;
      const self = me(req);
      // Sent once by the client, fanned out here: only current member devices may post, and a
      // removed device's messages never reach anyone (members also refuse them, see PROTOCOL.md).
      const { record } = await readMember(groupId, self);
      const env = envelope(req, req.body.id, req.body.body, 'message', groupId);
      const delivered = await fanOut(
        record.members.filter((m) => !same(m, self)),
        env,
      );
      return { ts: env.ts, delivered };
    },
  );
}

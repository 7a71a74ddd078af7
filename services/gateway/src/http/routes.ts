import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import {
  type Caller,
  Credentials,
  HushError,
  isUserId,
  MAX_PRESENCE_QUERY,
  PrekeyCount,
  PresenceQueryResult,
  PublishKeysBody,
  RefreshBody,
  Session,
  SignedDeviceList,
  type Subjects,
  UploadPrekeysBody,
  UserBundle,
  UserProfile,
} from '@hush/protocol';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Rpc } from '../nats-rpc.js';
import type { TokenIdentity, TokenVerifier } from '../tokens.js';
import { ErrorBody, PresenceQuery, UserIdParams, UsernameParams } from './schemas.js';

declare module 'fastify' {
  interface FastifyRequest {
    identity?: TokenIdentity;
  }
}

export interface RouteDeps {
  rpc: Rpc;
  s: Subjects;
  verifier: TokenVerifier;
  /** Throws AUTH_DEVICE_REVOKED for a signed-out device (auth.check), whatever events we missed. */
  /** `requestId`: the HTTP request's, carried to auth in a NATS header. */
  checkDevice: (caller: Caller, requestId?: string) => Promise<void>;
}

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
  503: ErrorBody,
};
const bearer = [{ bearer: [] }];

/**
 * The preHandler of every authenticated route: a valid bearer token of a device that auth says
 * is still signed in (auth.check, so a gateway that missed a revocation event refuses it too).
 */
export function bearerAuth(d: Pick<RouteDeps, 'verifier' | 'checkDevice'>) {
  return async (req: FastifyRequest): Promise<void> => {
    const h = req.headers.authorization;
    if (!h || !/^Bearer\s+\S+$/i.test(h)) throw new HushError('AUTH_TOKEN_MISSING');
    const id = await d.verifier.verify(h.replace(/^Bearer\s+/i, ''));
    await d.checkDevice({ userId: id.userId, deviceId: id.deviceId }, String(req.id));
    req.identity = id;
  };
}

/**
 * The HTTP API. Each route validates its input against the @hush/protocol schema and forwards a
 * NATS request; the caller's identity comes only from the verified bearer token, never from a body.
 */
export async function httpRoutes(app: FastifyInstance, d: RouteDeps): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { rpc, s } = d;

  const authenticate = bearerAuth(d);
  const caller = (req: FastifyRequest) => ({ userId: req.identity!.userId, deviceId: req.identity!.deviceId });
  const noContent = (reply: FastifyReply) => reply.code(204).send();

  // --- accounts (auth) ---
  r.post(
    '/v1/register',
    { schema: { tags: ['auth'], body: Credentials, response: { 201: Session, ...errors } } },
    async (req, reply) => {
      const session = await rpc.for(req).call<Session>(s.auth.register, { ...req.body, clientAddr: req.ip });
      return reply.code(201).send(session);
    },
  );
  r.post('/v1/login', { schema: { tags: ['auth'], body: Credentials, response: { 200: Session, ...errors } } }, (req) =>
    rpc.for(req).call<Session>(s.auth.login, { ...req.body, clientAddr: req.ip }),
  );
  r.post(
    '/v1/refresh',
    { schema: { tags: ['auth'], body: RefreshBody, response: { 200: Session, ...errors } } },
    (req) => rpc.for(req).call<Session>(s.auth.refresh, { refreshToken: req.body.refreshToken, clientAddr: req.ip }),
  );
  r.post(
    '/v1/logout',
    { schema: { tags: ['auth'], security: bearer, response: errors }, preHandler: authenticate },
    async (req, reply) => {
      await rpc.for(req).call<unknown>(s.auth.logout, { caller: caller(req) });
      d.verifier.revoke(req.identity!.userId, req.identity!.deviceId);
      return noContent(reply);
    },
  );

  // --- users ---
  r.get(
    '/v1/users/by-name/:username',
    {
      schema: { tags: ['users'], security: bearer, params: UsernameParams, response: { 200: UserProfile, ...errors } },
      preHandler: authenticate,
    },
    (req) =>
      rpc
        .for(req)
        .call<UserProfile>(s.auth.lookup, { username: req.params.username, caller: caller(req), clientAddr: req.ip }),
  );
  r.get(
    '/v1/users/:userId',
    {
      schema: { tags: ['users'], security: bearer, params: UserIdParams, response: { 200: UserProfile, ...errors } },
      preHandler: authenticate,
    },
    (req) => rpc.for(req).call<UserProfile>(s.auth.profile, { userId: req.params.userId }),
  );

  // --- keys (keydir) ---
  r.put(
    '/v1/keys',
    { schema: { tags: ['keys'], security: bearer, body: PublishKeysBody, response: errors }, preHandler: authenticate },
    async (req, reply) => {
      await rpc.for(req).call<unknown>(s.keydir.publish, { caller: caller(req), keys: req.body });
      return noContent(reply);
    },
  );
  r.post(
    '/v1/keys/prekeys',
    {
      schema: { tags: ['keys'], security: bearer, body: UploadPrekeysBody, response: { 200: PrekeyCount, ...errors } },
      preHandler: authenticate,
    },
    (req) => rpc.for(req).call<PrekeyCount>(s.keydir.prekeys, { caller: caller(req), body: req.body }),
  );
  r.get(
    '/v1/keys/count',
    {
      schema: { tags: ['keys'], security: bearer, response: { 200: PrekeyCount, ...errors } },
      preHandler: authenticate,
    },
    (req) => rpc.for(req).call<PrekeyCount>(s.keydir.count, { caller: caller(req) }),
  );
  r.put(
    '/v1/keys/device-list',
    {
      schema: { tags: ['keys'], security: bearer, body: SignedDeviceList, response: errors },
      preHandler: authenticate,
    },
    async (req, reply) => {
      await rpc.for(req).call<unknown>(s.keydir.deviceList, { caller: caller(req), deviceList: req.body });
      return noContent(reply);
    },
  );
  r.get(
    '/v1/keys/:userId',
    {
      schema: { tags: ['keys'], security: bearer, params: UserIdParams, response: { 200: UserBundle, ...errors } },
      preHandler: authenticate,
    },
    (req) => rpc.for(req).call<UserBundle>(s.keydir.bundle, { caller: caller(req), userId: req.params.userId }),
  );

  // --- contacts and presence ---
  r.put(
    '/v1/contacts/:userId',
    {
      schema: { tags: ['presence'], security: bearer, params: UserIdParams, response: errors },
      preHandler: authenticate,
    },
    async (req, reply) => {
      await rpc.for(req).call<unknown>(s.presence.contacts, { caller: caller(req), contactUserId: req.params.userId });
      return noContent(reply);
    },
  );
  r.get(
    '/v1/presence',
    {
      schema: {
        tags: ['presence'],
        security: bearer,
        querystring: PresenceQuery,
        response: { 200: PresenceQueryResult, ...errors },
      },
      preHandler: authenticate,
    },
    (req) => {
      const userIds = [...new Set(req.query.users.split(',').filter(Boolean))];
      if (userIds.length > MAX_PRESENCE_QUERY || !userIds.every(isUserId)) {
        throw new HushError('VALIDATION_FAILED', `users must be 1-${MAX_PRESENCE_QUERY} comma-separated user ids`);
      }
      return rpc.for(req).call<PresenceQueryResult>(s.presence.query, { caller: caller(req), userIds });
    },
  );
}

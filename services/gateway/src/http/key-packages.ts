import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { ClaimedKeyPackages, KeyPackageCount, UploadKeyPackagesBody } from '@hush/protocol';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { GroupRouteDeps } from './groups.js';
import { bearerAuth } from './routes.js';
import { groupErrors as errors, UserIdParams } from './schemas.js';

const bearer = [{ bearer: [] }];

/** MLS key packages: upload, count and claim, forwarded to keydir (docs/PROTOCOL-WIRE.md, "Groups"). */
export function keyPackageRoutes(
  app: FastifyInstance,
  d: Pick<GroupRouteDeps, 'rpc' | 's' | 'verifier' | 'checkDevice'>,
): void {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  const { rpc, s } = d;
  const authenticate = bearerAuth(d);
  const caller = (req: FastifyRequest) => ({ userId: req.identity!.userId, deviceId: req.identity!.deviceId });

  r.put(
    '/v1/keys/key-packages',
    {
      schema: {
        tags: ['groups'],
        security: bearer,
        body: UploadKeyPackagesBody,
        response: { 200: KeyPackageCount, ...errors },
      },
      preHandler: authenticate,
    },
    (req) => rpc.for(req).call<KeyPackageCount>(s.keydir.keyPackagesUpload, { caller: caller(req), body: req.body }),
  );
  r.get(
    '/v1/keys/key-packages/count',
    {
      schema: { tags: ['groups'], security: bearer, response: { 200: KeyPackageCount, ...errors } },
      preHandler: authenticate,
    },
    (req) => rpc.for(req).call<KeyPackageCount>(s.keydir.keyPackagesCount, { caller: caller(req) }),
  );
  r.post(
    '/v1/keys/:userId/key-packages',
    {
      schema: {
        tags: ['groups'],
        security: bearer,
        params: UserIdParams,
        response: { 200: ClaimedKeyPackages, ...errors },
      },
      preHandler: authenticate,
    },
    (req) =>
      rpc
        .for(req)
        .call<ClaimedKeyPackages>(s.keydir.keyPackagesClaim, { caller: caller(req), userId: req.params.userId }),
  );
}

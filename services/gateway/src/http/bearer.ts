import { HushError } from '@hush/protocol';
import type { FastifyRequest } from 'fastify';
import type { TokenVerifier } from '../tokens.js';

/** preHandler: the caller's identity comes only from a verified bearer token, never from a body. */
export const bearerAuthenticate = (verifier: TokenVerifier) => async (req: FastifyRequest) => {
  const h = req.headers.authorization;
  if (!h || !/^Bearer\s+\S+$/i.test(h)) throw new HushError('AUTH_TOKEN_MISSING');
  req.identity = await verifier.verify(h.replace(/^Bearer\s+/i, ''));
};

/** The verified caller as services expect it (after bearerAuthenticate). */
export const callerOf = (req: FastifyRequest) => ({ userId: req.identity!.userId, deviceId: req.identity!.deviceId });

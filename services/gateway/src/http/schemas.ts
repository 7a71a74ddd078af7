import { USER_ID_PATTERN } from '@hush/protocol';
import { Type as T } from '@sinclair/typebox';

/** `{ "error": WireError }`: the body of every non-2xx answer. */
export const ErrorBody = T.Object(
  {
    error: T.Object({
      code: T.String({ description: 'Stable code from @hush/protocol ErrorCodes' }),
      message: T.String(),
      retryAfter: T.Optional(T.Integer({ minimum: 0, description: 'Seconds, for *_RATE_LIMITED' })),
    }),
  },
  { $id: 'ErrorBody' },
);

/** Public JWKs only: the response schema drops anything else (a private `d` can never leak). */
export const Jwks = T.Object({
  keys: T.Array(
    T.Object({
      kty: T.String(),
      crv: T.Optional(T.String()),
      x: T.Optional(T.String()),
      kid: T.Optional(T.String()),
      alg: T.Optional(T.String()),
      use: T.Optional(T.String()),
    }),
  ),
});

export const Health = T.Object({ status: T.String(), gateway: T.String() });
export const Ready = T.Object({
  ready: T.Boolean(),
  checks: T.Record(T.String(), T.String(), { description: 'ok, or why a dependency is not ready' }),
});

export const UserIdParams = T.Object({ userId: T.String({ pattern: USER_ID_PATTERN }) });
export const UsernameParams = T.Object({ username: T.String({ minLength: 1, maxLength: 64 }) });
export const PresenceQuery = T.Object(
  { users: T.String({ minLength: 1, maxLength: 3400, description: 'Comma-separated user ids (at most 100)' }) },
  { additionalProperties: false },
);

export const Empty = T.Null({ description: 'No content' });

/** The error statuses the group and key-package routes answer, each with the catalogue's envelope. */
export const groupErrors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  503: ErrorBody,
};

import { type Static, Type as T } from '@sinclair/typebox';
import { UserId } from './keys.js';

export const PresenceEntry = T.Object(
  {
    userId: UserId,
    online: T.Boolean(),
    lastSeen: T.Union([T.Integer(), T.Null()], {
      description: 'Unix ms of the last disconnect; null if never seen or hidden',
    }),
  },
  { additionalProperties: false },
);
export const PresenceQueryResult = T.Object({ users: T.Array(PresenceEntry) }, { additionalProperties: false });
export type PresenceEntry = Static<typeof PresenceEntry>;
export type PresenceQueryResult = Static<typeof PresenceQueryResult>;
export const MAX_PRESENCE_QUERY = 100;

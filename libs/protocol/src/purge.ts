import { type Static, Type as T } from '@sinclair/typebox';
import { MESSAGE_ID_PATTERN } from './ids.js';
import { Address } from './ws.js';

/**
 * POST /v1/messages/purge (docs/PROTOCOL-WIRE.md §11): the sender of a disappearing message whose
 * time is up asks the gateway to delete the envelopes of that message still waiting in these
 * mailboxes (devices that have not fetched it). Only envelopes the calling device sent are touched.
 */
export const PURGE_MAX_MAILBOXES = 2048;
export const PurgeBody = T.Object(
  {
    id: T.String({ pattern: MESSAGE_ID_PATTERN }),
    to: T.Array(Address, { minItems: 1, maxItems: PURGE_MAX_MAILBOXES }),
  },
  { additionalProperties: false },
);
export const PurgeResult = T.Object({ purged: T.Integer({ minimum: 0 }) }, { additionalProperties: false });

export type PurgeBody = Static<typeof PurgeBody>;
export type PurgeResult = Static<typeof PurgeResult>;

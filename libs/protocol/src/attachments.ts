import { type Static, Type as T } from '@sinclair/typebox';

/**
 * Encrypted attachments (docs/PROTOCOL-WIRE.md, "Attachments"): the gateway stores and serves
 * ciphertext blobs made by @hush/crypto's attachment.ts; what a blob holds, and its key, only the
 * end-to-end message that names its id knows.
 */

/** The largest file a user may send (the product's limit). */
export const ATTACHMENT_MAX_FILE_BYTES = 100 * 1024 * 1024;
/**
 * The largest blob the gateway accepts: the largest file padded (Padmé, at most 1/16 more at this
 * size) plus a 16-byte tag per 64 KiB chunk and a small header.
 */
export const ATTACHMENT_MAX_BLOB_BYTES = Math.ceil(ATTACHMENT_MAX_FILE_BYTES * 1.0625) + 64 * 1024;

export const ATTACHMENT_ID_PATTERN = '^[A-Za-z0-9]{22}$';

export const AttachmentIdParams = T.Object(
  { id: T.String({ pattern: ATTACHMENT_ID_PATTERN }) },
  { additionalProperties: false },
);
/** POST /v1/attachments?recipients=N: how many devices will fetch it (then it is deleted). */
export const AttachmentUploadQuery = T.Object(
  { recipients: T.Integer({ minimum: 1, maximum: 4096 }) },
  { additionalProperties: false },
);
export const AttachmentUploaded = T.Object(
  { id: T.String({ pattern: ATTACHMENT_ID_PATTERN }), bytes: T.Integer({ minimum: 1 }) },
  { additionalProperties: false },
);

export type AttachmentIdParams = Static<typeof AttachmentIdParams>;
export type AttachmentUploadQuery = Static<typeof AttachmentUploadQuery>;
export type AttachmentUploaded = Static<typeof AttachmentUploaded>;

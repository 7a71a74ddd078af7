import { type Static, Type as T } from '@sinclair/typebox';
import { BASE64_PATTERN } from './ids.js';
import { DeviceId } from './keys.js';

/**
 * Zero-knowledge backup (docs/ARCHITECTURE.md, "Encrypted backup"; libs/crypto/PROTOCOL.md §12).
 * The gateway keeps one backup per account in a JetStream key-value bucket: sealed objects (a
 * manifest and the chunks it lists) it cannot read, and a verifier (SHA-256 of a key-derived
 * authenticator) to check that a caller holds the recovery key. Every read and write of backup
 * content carries the authenticator in the `x-backup-auth` header; wrong ones are counted per
 * account, and past BACKUP_MAX_FAILURES in BACKUP_FAILURE_WINDOW_MS the account's backup refuses
 * every authenticator (BACKUP_RATE_LIMITED) until the window ends.
 */

/** Header carrying the authenticator (base64 of 32 bytes). Never logged (the gateway redacts it). */
export const BACKUP_AUTH_HEADER = 'x-backup-auth';
/** Largest sealed object: a chunk of up to 128 KiB of compressed history, padded, plus its nonce and tag. */
export const BACKUP_MAX_OBJECT_BYTES = 128 * 1024 + 64;
export const BACKUP_MAX_OBJECT_BASE64 = Math.ceil(BACKUP_MAX_OBJECT_BYTES / 3) * 4;
/** Bytes of sealed objects one account may keep: ~100 000 messages compressed, with room for a rewrite. */
export const BACKUP_MAX_ACCOUNT_BYTES = 64 * 1024 * 1024;
/** Chunks one account may keep (the manifest lists them; the client compacts long before this). */
export const BACKUP_MAX_CHUNKS = 4_096;
/** Wrong authenticators an account's backup answers per window before it refuses all of them. */
export const BACKUP_MAX_FAILURES = 10;
export const BACKUP_FAILURE_WINDOW_MS = 24 * 3600_000;
/** Chunk ids: 16 random bytes, base64url (22 characters), chosen by the client. */
export const BACKUP_CHUNK_ID_PATTERN = '^[A-Za-z0-9_-]{22}$';

const Base64Of32 = T.String({ pattern: BASE64_PATTERN, minLength: 44, maxLength: 44 });

/** PUT /v1/backup: turns backup on, or replaces the account's backup (a new recovery key). */
export const CreateBackupBody = T.Object(
  { verifier: { ...Base64Of32, description: 'SHA-256 of the authenticator (PROTOCOL.md §12.2)' } },
  { additionalProperties: false },
);
/** GET /v1/backup: whether the account has a backup; no secret, no content. */
export const BackupStatus = T.Object(
  {
    enabled: T.Boolean(),
    createdAt: T.Union([T.Integer(), T.Null()]),
    updatedAt: T.Union([T.Integer(), T.Null()], { description: 'Unix ms of the last manifest written' }),
    bytes: T.Integer({ minimum: 0 }),
    chunks: T.Integer({ minimum: 0 }),
    writer: T.Union([DeviceId, T.Null()], { description: 'The device that writes the backup' }),
  },
  { additionalProperties: false },
);
export const BackupChunkParams = T.Object(
  { id: T.String({ pattern: BACKUP_CHUNK_ID_PATTERN }) },
  { additionalProperties: false },
);
/** A sealed object (manifest or chunk), base64. */
export const BackupObject = T.Object(
  { data: T.String({ pattern: BASE64_PATTERN, minLength: 4, maxLength: BACKUP_MAX_OBJECT_BASE64 }) },
  { additionalProperties: false },
);
export const BackupAuthHeaders = T.Object(
  { [BACKUP_AUTH_HEADER]: Base64Of32 },
  { additionalProperties: true, description: 'The authenticator derived from the recovery key' },
);

export type CreateBackupBody = Static<typeof CreateBackupBody>;
export type BackupStatus = Static<typeof BackupStatus>;
export type BackupObject = Static<typeof BackupObject>;

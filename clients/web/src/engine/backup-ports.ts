/**
 * What the backup engine (backup.ts) needs from the world, as narrow interfaces: the server's
 * backup routes, the codec (recovery key, key derivation and sealing: @hush/crypto plus
 * compression, in adapters/backup.ts), and the device-local record of the backup (in the vault).
 */
import type { BackupStatus, PublishKeysBody, UserBundle } from '@hush/protocol';
import type { BackupSegment, Fingerprints } from '../core/backup.js';

export interface BackupServer {
  status(): Promise<BackupStatus>;
  create(verifier: string): Promise<void>;
  remove(): Promise<void>;
  claim(auth: string): Promise<void>;
  get(auth: string, what: 'manifest' | { chunk: string }): Promise<string>;
  put(auth: string, what: 'manifest' | { chunk: string }, data: string): Promise<void>;
  deleteChunk(auth: string, chunk: string): Promise<void>;
}

/** Keys derived from the recovery key (base64); the key itself is not kept. */
export interface BackupSecrets {
  userId: string;
  encryption: string;
  authenticator: string;
  verifier: string;
}

export interface BackupCodec {
  /** A fresh recovery key, formatted for the user ("3f9a 0c11 …", 16 groups). */
  newRecoveryKey(): string;
  /** Throws an Error with a message for the user when the text is not a recovery key. */
  derive(recoveryKey: string, userId: string): Promise<BackupSecrets>;
  /** JSON, deflate, pad, seal (libs/crypto PROTOCOL.md §12.3); base64 as the server stores it. */
  seal(s: BackupSecrets, name: string, value: unknown): Promise<string>;
  /** Throws when the object does not open (wrong key, altered, another name). */
  open<T>(s: BackupSecrets, name: string, data: string): Promise<T>;
  /** 16 random bytes, base64url: a chunk id. */
  chunkId(): string;
  /** `n` distinct random positions in 1..`of`, sorted. */
  positions(n: number, of: number): number[];
  /** Size in bytes of a base64 string as the server stores it. */
  bytes(data: string): number;
  /**
   * Restore: checks the backed-up identity against the key directory's, signs the account's next
   * device list with this device added, and makes this device's keys under that identity.
   */
  restoreIdentity(
    identity: { seed: string; publicKey: string },
    bundle: UserBundle,
    userId: string,
    deviceId: string,
    now: number,
    oneTimePrekeys: number,
  ): Promise<PublishKeysBody>;
}

/** What this device remembers of the backup it writes (in the vault, encrypted at rest). */
export interface BackupLocal {
  secrets: BackupSecrets;
  segments: BackupSegment[];
  fp: Fingerprints;
  lastBackupAt: number | null;
  /** The device id that writes (a browser whose session expired signs in again under a new one). */
  deviceId?: string;
}

export interface BackupStore {
  load(): Promise<BackupLocal | undefined>;
  save(b: BackupLocal): Promise<void>;
  clear(): Promise<void>;
}

/** Settings that travel with the backup (the theme lives outside the engine). */
export interface BackupSettings {
  read(): Record<string, string>;
  apply(s: Record<string, string>): void;
}

export interface BackupDeps {
  codec: BackupCodec;
  store: BackupStore;
  settings?: BackupSettings;
}

/** The backup's manifest (sealed as "manifest"): the identity, settings and the chunks in order. */
export interface BackupManifest {
  v: 1;
  identity: { seed: string; publicKey: string };
  settings: Record<string, string>;
  showWire: boolean;
  segments: BackupSegment[];
  at: number;
}

export type BackupStage =
  /** Backup is off on this device (the server may hold one written by another device: `server`). */
  | 'off'
  /** The new recovery key is on screen (shown once). */
  | 'show-key'
  /** The user types back a few groups of it. */
  | 'confirm'
  | 'on';

export interface BackupView {
  stage: BackupStage;
  /** Only while setting up: the recovery key, formatted. */
  key: string | null;
  /** 1-based group positions to type back. */
  ask: number[];
  /** Setting up a new key while backup is on (rotation). */
  rotating: boolean;
  lastBackupAt: number | null;
  /** Server-side status (another device may write the backup). */
  server: BackupStatus | null;
  /** Sealed bytes uploaded by the last run and in total since the page opened. */
  uploaded: { last: number; total: number };
  running: boolean;
  busy: boolean;
  error: string | null;
  /** Restore in progress: chunks fetched of all. */
  restore: { done: number; total: number } | null;
}

import type {
  AcceptedFrame,
  Credentials,
  DeliverFrame,
  DeviceInfo,
  LinkMessages,
  LinkSide,
  OneTimePrekey,
  PresenceEntry,
  PresenceFrame,
  PublishKeysBody,
  SendFrame,
  Session,
  SignedDeviceList,
  SignedPrekey,
  UploadPrekeysBody,
  UserBundle,
  UserProfile,
} from '@hush/protocol';
import type { ChatMessage, Conversation } from '../core/model.js';
import type { IdentityStatus } from '../core/trust.js';
import type { BackupServer } from './backup-ports.js';
import type { GroupApi } from './group-ports.js';
import type { OwnProfile } from './profile.js';
import type { ConnectionState, Progress } from './types.js';

/**
 * What the engine needs from the outside world, as two narrow interfaces (the matrix-js-sdk
 * habit from STYLE.md: the engine sees interfaces, adapters do the I/O). The real adapters wrap
 * @hush/client and @hush/crypto (adapters/); unit tests plug in fakes.
 */
export interface LinkHandlers {
  onDeliver(f: DeliverFrame): void;
  onPresence(f: PresenceFrame): void;
  onState(s: ConnectionState): void;
  /** The server signed this device out (logout elsewhere, token reuse): terminal, local data goes. */
  onRevoked(): void;
  /** The session can no longer be refreshed (expired): sign in again; local history stays. */
  onExpired(): void;
  /**
   * Closed with 4409 REPLACED: another connection of this device took over, or the device is being
   * signed out (the gateway's "replaced" can arrive before its "revoked"). The engine asks which.
   */
  onReplaced(): void;
}

export interface Link {
  /** Resolves with the gateway's "accepted" once stored; rejects with a HushError (code from the error frame) or a network error. */
  send(frame: SendFrame): Promise<AcceptedFrame>;
  ack(seq: number): void;
  subscribePresence(users: string[]): void;
  close(): void;
}

export interface ServerApi {
  /** Stores an encrypted attachment blob for `recipients` devices; returns its id. */
  uploadAttachment(blob: Uint8Array, recipients: number, onProgress?: Progress): Promise<string>;
  /** Deletes our message's envelopes still waiting in these mailboxes (disappearing messages). */
  purgeMessage?(id: string, to: { user: string; device: string }[]): Promise<number>;
  /** The encrypted blob of an attachment (HushError ATTACH_NOT_FOUND once gone). */
  downloadAttachment(id: string, onProgress?: Progress): Promise<Uint8Array>;
  register(c: Credentials): Promise<Session>;
  login(c: Credentials): Promise<Session>;
  /** Revokes this device on the server. */
  logout(): Promise<void>;
  lookupUser(username: string): Promise<UserProfile>;
  profile(userId: string): Promise<UserProfile>;
  publishKeys(b: PublishKeysBody): Promise<void>;
  uploadPrekeys(b: UploadPrekeysBody): Promise<number>;
  prekeyCount(): Promise<number>;
  /** Claims one one-time prekey per device of that user. */
  fetchBundle(userId: string): Promise<UserBundle>;
  addContact(userId: string): Promise<void>;
  presence(userIds: string[]): Promise<PresenceEntry[]>;
  connect(h: LinkHandlers): Link;
  // --- linked devices (engine/devices.ts) ---
  listDevices(): Promise<DeviceInfo[]>;
  signOutDevice(deviceId: string): Promise<void>;
  publishDeviceList(list: SignedDeviceList): Promise<void>;
  linkSend(channel: string, to: LinkSide, body: string): Promise<void>;
  linkPoll(channel: string, side: LinkSide, after: number, waitMs: number): Promise<LinkMessages>;
  /** MLS groups' routes (engine/groups.ts); absent in fakes of tests that have no groups. */
  groups?: GroupApi;
  /** Encrypted backup routes (engine/backup.ts); absent where the server or a test twin has none. */
  backup?: BackupServer;
}

export interface DeviceAddress {
  user: string;
  device: string;
}

export interface CryptoPort {
  /** True when this browser already holds an identity and device keys for that account/device. */
  hasDevice(userId: string, deviceId: string): Promise<boolean>;
  /** Creates a fresh identity and device keys; returns what to publish (keys are born here). */
  createDevice(userId: string, deviceId: string, now: number, oneTimePrekeys: number): Promise<PublishKeysBody>;
  generatePrekeys(n: number): Promise<OneTimePrekey[]>;
  /** Encrypts a file under a fresh key: the blob to upload and what the message carries (base64). */
  sealAttachment(
    bytes: Uint8Array,
    onProgress?: Progress,
  ): Promise<{ blob: Uint8Array; key: string; digest: string; size: number }>;
  /** Checks a downloaded blob against its digest and decrypts it; throws when either fails. */
  openAttachment(
    blob: Uint8Array,
    ref: { key: string; digest: string; size: number },
    onProgress?: Progress,
  ): Promise<Uint8Array>;
  /**
   * Replaces the signed prekey when it is due (X3DH §4.2; libs/crypto SIGNED_PREKEY_ROTATION_MS) and
   * deletes replaced ones past their grace period. Returns the current key as published, whether it
   * was made now, and when to look again.
   */
  maintainSignedPrekey(now: number): Promise<{ current: SignedPrekey; rotated: boolean; nextCheckAt: number }>;
  /**
   * Verifies a bundle (identity signatures over device keys, prekeys and the device list) and,
   * unless the identity key changed, prepares sessions with devices we have none with. Throws when
   * the bundle fails verification. A changed identity key is reported (`status: 'changed'`), never
   * trusted here: the engine asks the trust policy (core/trust.ts) and calls acceptIdentity.
   */
  acceptBundle(bundle: UserBundle, now: number): Promise<BundleResult>;
  /** Trusts a peer's new identity key (unverified) and forgets sessions and device lists made under the old one. */
  acceptIdentity(userId: string, identityKey: string): Promise<void>;
  /** Devices of a user we hold sessions with (null: we never accepted a bundle for them). */
  knownDevices(userId: string): Promise<string[] | null>;
  encrypt(to: DeviceAddress, plaintext: Uint8Array): Promise<string>;
  /**
   * Runs `fn` (encryptions) with the protocol store's writes committed once, durably, before it
   * resolves: a burst costs one flush to disk, and nothing encrypted inside may leave before then.
   */
  batch<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * Resolves with the plaintext, or with the reason the envelope itself cannot be decrypted (proven
   * about the message, so it may be acked). Rejects only on a local failure (storage, quota): the
   * envelope must then stay in the mailbox.
   */
  decrypt(from: DeviceAddress, body: string, now: number): Promise<DecryptOutcome>;
  /** A signed request (base64) asking `to` to send message `messageId` again: we could not decrypt it. */
  retryRequest(to: DeviceAddress, messageId: string, attempt: number, now: number): Promise<string>;
  /**
   * When `body` is a retry request: checks it (signed by the requester's identity, addressed to this
   * device, requester in its signed device list) and returns what it asks for; null when `body` is an
   * ordinary message; `{ unknownRequester: true }` when this device knows no identity key at all for
   * the requester's account (its keys must be fetched first). Throws on a forged or invalid request.
   */
  openRetry(
    from: DeviceAddress,
    body: string,
    now: number,
  ): Promise<{ messageId: string; attempt: number } | { unknownRequester: true } | null>;
  /** Encrypts `plaintext` again for a device that asked for it, over a fresh session from its request. */
  encryptRetry(to: DeviceAddress, plaintext: Uint8Array): Promise<string>;
  safety(myUserId: string, peerUserId: string, peerIdentityKey: string): Promise<{ digits: string; qrPayload: string }>;
  /** True when a scanned/pasted payload proves the same pair of identity keys as ours. */
  checkPayload(myUserId: string, peerUserId: string, peerIdentityKey: string, payload: string): Promise<boolean>;
  // --- linking (engine/devices.ts) ---
  /** The account and device this browser holds keys for (null: none). */
  localDevice(): Promise<{ userId: string; deviceId: string } | null>;
  /**
   * This browser holds the account identity but signed in again as a new device (an expired
   * session): new device keys under the same identity, old sessions dropped.
   */
  renewDevice(
    userId: string,
    deviceId: string,
    deviceList: SignedDeviceList,
    now: number,
    oneTimePrekeys: number,
  ): Promise<PublishKeysBody>;
  /** This device's identity key pair, base64, to move to a device being linked. */
  exportIdentity(): Promise<{ seed: string; publicKey: string }>;
  /** Takes the account identity moved over from another device and makes this device's keys under it. */
  adoptIdentity(
    identity: { seed: string; publicKey: string },
    userId: string,
    deviceId: string,
    deviceList: SignedDeviceList,
    now: number,
    oneTimePrekeys: number,
  ): Promise<PublishKeysBody>;
  /** The account's device list from our own bundle, checked against our own identity key. */
  ownDeviceList(bundle: UserBundle): Promise<{ version: number; devices: string[] }>;
  /** Signs a device list of the account with our identity key. */
  signDeviceList(userId: string, version: number, devices: string[], now: number): Promise<SignedDeviceList>;
  /** Records a list of our account that keydir accepted, in our device-list history. */
  recordOwnDeviceList(list: SignedDeviceList): Promise<void>;
  /** New device: a fresh ephemeral key and channel for "Link this device" (libs/crypto provisioning). */
  linkStart(userId: string): Promise<LinkStart>;
  /**
   * Approving device: opens the channel a link code names (refused unless it is `userId`'s);
   * `first` rides sealed in the opening.
   */
  linkJoin(code: string, first: Uint8Array, userId: string): Promise<LinkJoin>;
}

/** One end of a provisioning channel; bodies are base64 as the relay carries them. */
export interface LinkCipher {
  /** The digits both screens show. */
  readonly code: string;
  seal(plaintext: Uint8Array): string;
  /** Throws unless `body` is the other side's next message, unaltered. */
  open(body: string): Uint8Array;
  destroy(): void;
}
export interface LinkStart {
  /** The link code (QR code and text). */
  code: string;
  channel: string;
  /** Takes the approving device's opening message: the channel and its first plaintext. */
  accept(opening: string): Promise<{ cipher: LinkCipher; first: Uint8Array }>;
}
export interface LinkJoin {
  /** The account the code belongs to. */
  userId: string;
  channel: string;
  cipher: LinkCipher;
  /** The opening message to relay to the new device. */
  opening: string;
}

export interface BundleResult {
  /** The bundle's identity key (base64). */
  identityKey: string;
  status: IdentityStatus;
  devices: string[];
}

export type DecryptOutcome =
  | {
      ok: true;
      plaintext: Uint8Array;
      /** The sender account's identity key (base64) when this message proved it (a session start). */
      identityKey: string | null;
    }
  | {
      ok: false;
      /**
       * duplicate: already decrypted once (a redelivery); undecryptable: forged, corrupted or its
       * keys are gone; identity-changed: a session start under an identity key we do not trust yet;
       * device-removed: the sender device is no longer in its account's newest signed device list.
       */
      reason: 'duplicate' | 'undecryptable' | 'identity-changed' | 'device-removed';
      /** For undecryptable: a fresh session can repair it (lost or restored state): ask for a retry. */
      retryable?: boolean;
      /** For identity-changed: the new key (base64); own is true when it claims our own account. */
      identityKey?: string;
      own?: boolean;
    };

/**
 * The local history (conversations, messages, this device's session record), encrypted at rest by
 * the vault (store/vault.ts) that implements it through adapters/vault-history.ts.
 */
export interface HistoryPort {
  /** An app-lock passphrase protects the store. */
  readonly hasLock: boolean;
  getSession(): Promise<Session | undefined>;
  putSession(s: Session): Promise<void>;
  deleteSession(): Promise<void>;
  /** Whose history this store holds (kept when a session expires, so nobody else sees it). */
  getOwner(): Promise<string | undefined>;
  putOwner(userId: string): Promise<void>;
  conversations(): Promise<Conversation[]>;
  messages(peer: string): Promise<ChatMessage[]>;
  putConversation(c: Conversation): Promise<void>;
  putMessage(m: ChatMessage): Promise<void>;
  /** A decrypted attachment kept on this device (encrypted at rest like the history). */
  putAttachment(id: string, bytes: Uint8Array): Promise<void>;
  getAttachment(id: string): Promise<Uint8Array | undefined>;
  /**
   * The one path that deletes a message from this device (expiry, "Delete for me", a control that
   * waited too long): its record and everything derived from it that the store keeps.
   */
  deleteMessage(conv: string, id: string): Promise<void>;
  /** Deletes a kept attachment (its message was deleted or disappeared). */
  deleteAttachment(id: string): Promise<void>;
  /** This account's profile (engine/profile.ts), encrypted at rest like the history. */
  getProfile(): Promise<OwnProfile | undefined>;
  putProfile(p: OwnProfile): Promise<void>;
  /** The message search index (core/search.ts encoding), encrypted at rest like the history. */
  getSearchIndex(): Promise<string | undefined>;
  putSearchIndex(encoded: string): Promise<void>;
  /** Messages and conversations in one durable write (one transaction): all or none. */
  putMany(messages: readonly ChatMessage[], conversations?: readonly Conversation[]): Promise<void>;
  /** Deletes everything, keys and sessions included (sign-out). */
  wipe(): Promise<void>;
  /** Re-encrypts every record under a passphrase-derived key (or back under the stored key). */
  setLock(passphrase: string): Promise<void>;
  removeLock(): Promise<void>;
}

/** Time and timers, injected so tests run on fake time. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

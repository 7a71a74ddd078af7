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
  UploadPrekeysBody,
  UserBundle,
  UserProfile,
} from '@hush/protocol';
import type { ConnectionState } from './types.js';

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
}

export interface Link {
  /** Resolves with the gateway's "accepted" once stored; rejects with a HushError (code from the error frame) or a network error. */
  send(frame: SendFrame): Promise<AcceptedFrame>;
  ack(seq: number): void;
  subscribePresence(users: string[]): void;
  close(): void;
}

export interface ServerApi {
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
}

export interface DeviceAddress {
  user: string;
  device: string;
}

export interface CryptoPort {
  /** True when this browser already holds an identity and device keys for that account/device. */
  hasDevice(userId: string, deviceId: string): Promise<boolean>;
  /** Creates a fresh identity and device keys; returns what to publish (DESIGN §4: keys are born here). */
  createDevice(userId: string, deviceId: string, now: number, oneTimePrekeys: number): Promise<PublishKeysBody>;
  generatePrekeys(n: number): Promise<OneTimePrekey[]>;
  /**
   * Verifies a bundle (identity signatures over device keys, prekeys and the device list) and
   * starts sessions with devices we have none with. Throws when the bundle fails verification.
   */
  acceptBundle(bundle: UserBundle, now: number): Promise<{ identityKey: string; devices: string[] }>;
  /** Devices of a user we hold sessions with (null: we never accepted a bundle for them). */
  knownDevices(userId: string): Promise<string[] | null>;
  encrypt(to: DeviceAddress, plaintext: Uint8Array): Promise<string>;
  /** identityKey: the sender account's identity key (base64) when this message proved it (a session start). */
  decrypt(
    from: DeviceAddress,
    body: string,
    now: number,
  ): Promise<{ plaintext: Uint8Array; identityKey: string | null }>;
  safety(myUserId: string, peerUserId: string, peerIdentityKey: string): Promise<{ digits: string; qrPayload: string }>;
  /** True when a scanned/pasted payload proves the same pair of identity keys as ours. */
  checkPayload(myUserId: string, peerUserId: string, peerIdentityKey: string, payload: string): Promise<boolean>;
  // --- linking (engine/devices.ts) ---
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
}

import type { FileRef } from '../core/content.js';
import type { ChatMessage, Conversation } from '../core/model.js';
import type { PickedFile } from './attachments.js';
import type { OwnProfile } from './profile.js';
import type { SearchHit } from './search.js';

/** Everything the views read. The engine owns it; views never mutate it. */
export interface Me {
  userId: string;
  username: string;
  deviceId: string;
}
/** 'replaced': this device's socket was taken over by another window (close 4409) and stays closed until "Use here". */
export type ConnectionState = 'offline' | 'connecting' | 'online' | 'replaced';
export interface Presence {
  online: boolean;
  lastSeen: number | null;
}

export interface AppState {
  /** 'link': signed in, but this device is not linked yet (engine/devices.ts shows "Link this device"). */
  phase: 'loading' | 'locked' | 'signed-out' | 'link' | 'ready';
  /** An app-lock passphrase protects the local store. */
  appLock: boolean;
  me: Me | null;
  conversations: Conversation[];
  messages: Record<string, ChatMessage[]>;
  presence: Record<string, Presence>;
  /** Peers currently typing (from their encrypted typing messages). */
  typing: Record<string, boolean>;
  connection: ConnectionState;
  /** "What the server sees": show each message's envelope as the gateway got it. */
  showWire: boolean;
  /** A notice for the user (e.g. a failed action); cleared by the next action. */
  notice: string | null;
  busy: boolean;
  /** This account's profile (engine/profile.ts); null until one is set. */
  profile: OwnProfile | null;
  /** Files being encrypted and uploaded (keyed by a local id) or fetched and decrypted (by file id). */
  transfers: Record<string, Transfer>;
}

/** A progress bar's worth: which file, what is happening, bytes done of the total. */
/** Bytes done of a total (a progress bar). */
export type Progress = (done: number, total: number) => void;

export interface Transfer {
  name: string;
  /** The conversation an upload goes to (its bar shows above the composer). */
  peer?: string;
  phase: 'encrypting' | 'uploading' | 'downloading' | 'decrypting';
  done: number;
  total: number;
}

export interface SafetyInfo {
  /** 60 digits. */
  digits: string;
  /** Text encoded in the QR code; the other device scans or pastes it. */
  qrPayload: string;
}

/**
 * Reply, React, Edit, Delete for everyone, Delete for me, Forward and Disappearing messages
 * (engine/messages.ts). `conv` is a conversation's key: a peer's user id or `g:<groupId>`.
 */
export interface MessageActions {
  reply(conv: string, id: string, text: string): Promise<void>;
  /** null removes our reaction. */
  react(conv: string, id: string, emoji: string | null): Promise<void>;
  edit(conv: string, id: string, text: string): Promise<void>;
  deleteForEveryone(conv: string, id: string): Promise<void>;
  deleteForMe(conv: string, id: string): Promise<void>;
  forward(conv: string, id: string, to: string): Promise<void>;
  /** 0 turns it off. */
  setDisappearing(conv: string, seconds: number): Promise<void>;
  /** Where a message can be forwarded: every chat and active group, by name. */
  targets(): { conv: string; name: string }[];
}

/** What the views can ask for. */
export interface Actions {
  readonly messages: MessageActions;
  register(username: string, password: string): Promise<void>;
  login(username: string, password: string): Promise<void>;
  logout(): Promise<void>;
  startChat(username: string): Promise<string | null>;
  send(peer: string, text: string): Promise<void>;
  /** "Attach": sends a file end-to-end encrypted (at most 100 MB). */
  sendFile(peer: string, file: PickedFile, caption?: string): Promise<void>;
  /** The bytes of an attached file, kept on this device or fetched and verified. */
  attachment(ref: FileRef): Promise<Uint8Array>;
  typing(peer: string, on: boolean): void;
  openConversation(peer: string | null): void;
  safety(peer: string): Promise<SafetyInfo | null>;
  /** Compares a scanned/pasted payload with ours; on a match marks the peer verified. */
  verifyPayload(peer: string, payload: string): Promise<boolean>;
  markVerified(peer: string): Promise<void>;
  unverify(peer: string): Promise<void>;
  /** Hides an unverified contact's key-change notice. */
  dismissKeyChange(peer: string): Promise<void>;
  /**
   * After a verified contact's safety number changed, nothing is sent until the user chooses:
   * this accepts the new one (the contact becomes unverified); verifying again is the other choice.
   */
  acceptKeyChange(peer: string): Promise<void>;
  /** Hides "Bob added a device". */
  dismissDeviceNotice(peer: string): Promise<void>;
  /** On a device that is not linked: gives up the account's identity and starts a new one (warned). */
  resetIdentity(): Promise<void>;
  /** Linked devices: load the list, link a new device by its code, approve, sign one out. */
  loadDevices(): Promise<void>;
  linkNewDevice(code: string): Promise<void>;
  approveLink(ok: boolean): void;
  cancelLink(): void;
  signOutDevice(deviceId: string): Promise<void>;
  setShowWire(on: boolean): void;
  /** Opens a store protected by an app lock. */
  unlock(passphrase: string): Promise<void>;
  setAppLock(passphrase: string): Promise<void>;
  removeAppLock(): Promise<void>;
  clearNotice(): void;
  // --- everyday use
  /** Reconnects after another window took this device's connection over ("Use here"). */
  useHere(): void;
  /** Keeps an unsent draft (encrypted at rest with the conversation). */
  saveDraft(peer: string, text: string): Promise<void>;
  /** Locks now (the app lock's key leaves memory: the page reloads to the lock screen). */
  lockNow(): void;
  /** On the lock screen, passphrase forgotten: erases everything this browser holds for Hush. */
  eraseDevice(): Promise<void>;
  // --- settings page, profile, search (docs/ARCHITECTURE.md, "Settings page", "Profiles", "Message search")
  /** Sets the display name and avatar (new bytes, null to remove, undefined to keep) and tells every contact. */
  setProfile(name: string, avatar?: { bytes: Uint8Array; mime: string } | null): Promise<void>;
  /** Full-text search over this device's history (works offline); newest first. */
  searchMessages(query: string): SearchHit[];
}

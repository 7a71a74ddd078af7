import type { FileRef } from '../core/content.js';
import { Attachments, type PickedFile } from './attachments.js';
import { Backup } from './backup.js';
import { EngineContext, type EngineDeps } from './context.js';
import { Conversations } from './conversations.js';
import { Devices } from './devices.js';
import { Groups } from './groups.js';
import { History, linkHistory } from './history.js';
import { Inbox } from './inbox.js';
import { KeyWait } from './key-wait.js';
import { PeerKeys } from './keys.js';
import { Messages } from './messages.js';
import { Outbox } from './outbox.js';
import { PREKEY_TARGET } from './prekeys.js';
import { Profiles } from './profile.js';
import { Retries } from './retries.js';
import { MessageSearch, type SearchHit } from './search.js';
import { SessionLifecycle } from './session.js';
import { Signals } from './signals.js';
import type { StateStore } from './store.js';
import type { Actions, AppState, SafetyInfo } from './types.js';
import { Verification } from './verification.js';

export type { EngineDeps } from './context.js';
export { PREKEY_LOW_WATER, PREKEY_TARGET } from './prekeys.js';
export { TYPING_IDLE_MS, TYPING_REFRESH_MS, TYPING_SHOW_MS, TYPING_START_MS } from './typing.js';

/**
 * The client engine behind the views' Actions: one object per job (matrix-js-sdk style), wired
 * here and sharing one EngineContext. It talks to the server through ServerApi, to the protocol
 * through CryptoPort and to local history through HistoryPort (ports.ts); pure decisions live in
 * core/. Nothing here touches the DOM, IndexedDB or a socket directly.
 */
export class Engine implements Actions {
  private readonly ctx: EngineContext;
  private readonly session: SessionLifecycle;
  private readonly conversations: Conversations;
  private readonly outbox: Outbox;
  private readonly signals: Signals;
  private readonly verification: Verification;
  /** Linking and "Linked devices" (engine/devices.ts); the views read `devices.view`. */
  readonly devices: Devices;
  private readonly history: History;
  private readonly attachments: Attachments;
  /** Group chats on MLS (engine/groups.ts); the views read `groups.view`. Null without a GroupCryptoPort. */
  readonly groups: Groups | null;
  /** Encrypted backup (engine/backup.ts); the views read `backup.view`. Null without backup deps. */
  readonly backup: Backup | null;
  /** Reply, React, Edit, Delete, Forward, Disappearing messages (engine/messages.ts). */
  readonly messages: Messages;
  private readonly profiles: Profiles;
  private readonly keyWait: KeyWait;
  /** Message search; `search.forget(id)` drops a deleted or disappeared message from the index. */
  readonly search: MessageSearch;
  /** A restored device tells contacts and our devices about itself once it is online. */
  private announce = false;

  constructor(deps: EngineDeps) {
    const ctx = new EngineContext(deps);
    const history = new History(ctx);
    this.history = history;
    const keys = new PeerKeys(ctx, history);
    const signals = new Signals(ctx, history, keys);
    const conversations = new Conversations(ctx, history, keys, signals);
    const outbox = new Outbox(ctx, history, keys);
    const attachments = new Attachments(ctx, history, outbox);
    this.attachments = attachments;
    const profiles = new Profiles(ctx, history, signals, attachments);
    this.profiles = profiles;
    this.search = new MessageSearch(ctx);
    this.keyWait = new KeyWait(ctx, history, keys);
    let groups: Groups | null = null;
    const messages = new Messages(ctx, history, outbox, attachments, () => groups);
    this.messages = messages;
    const retries = new Retries(ctx, history);
    const ops = { ops: messages.ops, thread: (peer: string) => messages.direct(peer) };
    const inbox = new Inbox(ctx, history, conversations, signals, keys, retries, attachments, ops, profiles);
    groups = deps.groupCrypto ? new Groups(ctx, deps.groupCrypto, conversations, keys, messages.ops) : null;
    this.groups = groups;
    if (groups) this.search.attachGroups(groups);
    // Our devices and every contact fetch the new signed list now (a notice when it grew), and
    // our groups add a newly linked device as a leaf.
    const announceDevices = async () => {
      await ctx.serial(() => keys.refreshOwnDevices()).catch(() => undefined);
      for (const c of ctx.state.conversations) await signals.sendControl(c.peer, { v: 1, t: 'devices' });
      groups?.ownDevicesChanged();
    };
    const devices = new Devices({
      crypto: ctx.crypto,
      now: () => ctx.now(),
      deviceName: deps.deviceName ?? 'Web browser',
      prekeys: PREKEY_TARGET,
      serial: (fn) => ctx.serial(fn),
      history: linkHistory(ctx),
      onLinked: (s) => this.session.linked(s),
      onDeviceListChanged: () => announceDevices(),
    });
    this.devices = devices;
    this.session = new SessionLifecycle(ctx, history, {
      // Not background work: the new device waits on the relay until the user acts (idle() must not wait for it).
      linkThisDevice: (api, s) => {
        this.backup?.pendingDevice(api, s);
        void devices.linkThisDevice(api, s);
      },
      deliver: (f) => {
        if (!f.group) inbox.deliver(f);
        else if (groups) groups.deliver(f);
        else ctx.link?.ack(f.seq);
      },
      online: async () => {
        conversations.onOnline();
        await ctx.serial(() => keys.refreshOwnDevices()).catch(() => undefined);
        await outbox.flush();
        await conversations.flushReads();
        if (groups) ctx.background(() => groups.online());
        if (this.announce) {
          this.announce = false;
          await announceDevices();
        }
      },
      reset: () => {
        devices.cancel();
        this.keyWait.stop();
        conversations.reset();
        signals.reset();
        inbox.reset();
      },
    });
    this.backup = deps.backup
      ? new Backup(ctx, deps.backup, {
          prekeys: PREKEY_TARGET,
          onRestored: async (s) => {
            devices.cancel();
            this.announce = true;
            await this.session.linked(s);
          },
        })
      : null;
    this.ctx = ctx;
    this.conversations = conversations;
    this.outbox = outbox;
    this.signals = signals;
    this.verification = new Verification(ctx, history, async () => {
      await outbox.flush();
      await conversations.flushReads();
    });
  }

  get store(): StateStore {
    return this.ctx.store;
  }
  get state(): AppState {
    return this.ctx.state;
  }

  /** Restores a saved session (history, keys, tokens), or shows sign-in or the lock screen. */
  boot(): Promise<void> {
    return this.session.boot();
  }
  /** Resolves once no background work (receipts, presence, queued decryption) is left. */
  idle(): Promise<void> {
    return this.ctx.idle();
  }
  /** "Attach": encrypts the file on this device, uploads the ciphertext and sends its key in a message. */
  sendFile(peer: string, file: PickedFile, caption?: string): Promise<void> {
    return this.attachments.sendFile(peer, file, caption);
  }
  /** An attachment's bytes (kept on this device, or fetched and checked against its digest). */
  attachment(ref: FileRef): Promise<Uint8Array> {
    return this.attachments.bytes(ref);
  }
  /** Sends what waits in the outbox (it also runs by itself on every reconnect). */
  flushOutbox(): Promise<void> {
    return this.outbox.flush();
  }
  private locking = false;
  /** True while a message the user wrote has not reached the gateway (the page warns before closing). */
  hasUnsent(): boolean {
    return !this.locking && this.outbox.hasUnsent();
  }
  lockNow(): void {
    // Queued messages stay stored and go out after the unlock: no "Leave site?" for this reload.
    this.locking = true;
    this.ctx.deps.reload?.();
  }
  useHere(): void {
    // Background work, so idle() (and the tests' settle) waits for the reconnect to start.
    this.ctx.background(() => this.session.useHere());
  }
  eraseDevice(): Promise<void> {
    this.devices.cancel();
    return this.session.eraseDevice();
  }
  async saveDraft(peer: string, text: string): Promise<void> {
    const c = this.ctx.state.conversations.find((x) => x.peer === peer);
    if (c && (c.draft ?? '') !== text) await this.history.saveConv({ ...c, draft: text });
  }
  /** The page became visible or hidden: read receipts go only for what the user can see. */
  visibilityChanged(): void {
    this.conversations.visibilityChanged();
    this.groups?.visibilityChanged();
  }

  register(username: string, password: string): Promise<void> {
    return this.session.authenticate('register', username, password);
  }
  login(username: string, password: string): Promise<void> {
    return this.session.authenticate('login', username, password);
  }
  logout(): Promise<void> {
    return this.session.logout();
  }
  unlock(passphrase: string): Promise<void> {
    return this.session.unlock(passphrase);
  }
  setAppLock(passphrase: string): Promise<void> {
    return this.session.rekey(() => this.ctx.history.setLock(passphrase));
  }
  removeAppLock(): Promise<void> {
    return this.session.rekey(() => this.ctx.history.removeLock());
  }

  startChat(username: string): Promise<string | null> {
    return this.conversations.startChat(username);
  }
  openConversation(peer: string | null): void {
    this.conversations.openConversation(peer);
    this.keyWait.open(peer);
  }
  async send(peer: string, text: string): Promise<void> {
    this.signals.messageSent(peer);
    await this.outbox.send(peer, text);
    this.profiles.afterSend(peer);
  }
  setProfile(name: string, avatar?: { bytes: Uint8Array; mime: string } | null): Promise<void> {
    return this.profiles.set(name, avatar);
  }
  searchMessages(query: string): SearchHit[] {
    return this.search.search(query);
  }
  typing(peer: string, on: boolean): void {
    this.signals.typing(peer, on);
  }

  safety(peer: string): Promise<SafetyInfo | null> {
    return this.verification.safety(peer);
  }
  verifyPayload(peer: string, payload: string): Promise<boolean> {
    return this.verification.verifyPayload(peer, payload);
  }
  markVerified(peer: string): Promise<void> {
    return this.verification.markVerified(peer);
  }
  unverify(peer: string): Promise<void> {
    return this.verification.unverify(peer);
  }
  dismissKeyChange(peer: string): Promise<void> {
    return this.verification.dismissKeyChange(peer);
  }
  acceptKeyChange(peer: string): Promise<void> {
    return this.verification.acceptKeyChange(peer);
  }
  async dismissDeviceNotice(peer: string): Promise<void> {
    const c = this.ctx.state.conversations.find((x) => x.peer === peer);
    if (c) await this.history.saveConv({ ...c, deviceNotice: null });
  }

  resetIdentity(): Promise<void> {
    this.devices.cancel();
    return this.session.resetIdentity();
  }
  async loadDevices(): Promise<void> {
    const { api, state } = this.ctx;
    if (api && state.me) await this.devices.refresh(api, state.me.userId);
  }
  async linkNewDevice(code: string): Promise<void> {
    const { api, state } = this.ctx;
    if (api && state.me) await this.devices.linkNewDevice(api, state.me, code);
  }
  approveLink(ok: boolean): void {
    this.devices.decide(ok);
  }
  cancelLink(): void {
    this.devices.cancel();
  }
  async signOutDevice(deviceId: string): Promise<void> {
    const { api, state } = this.ctx;
    if (api && state.me) await this.devices.signOut(api, state.me, deviceId);
  }

  setShowWire(on: boolean): void {
    this.ctx.store.update({ showWire: on });
  }
  clearNotice(): void {
    this.ctx.store.update({ notice: null });
  }
}

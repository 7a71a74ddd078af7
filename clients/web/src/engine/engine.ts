import { HushError, isHushError, normaliseUsername, type SendFrame, type Session } from '@hush/protocol';
import { type Content, ContentError, decodeContent, encodeContent, newMessageId } from '../core/content.js';
import {
  advanceTick,
  applyReceipt,
  type ChatMessage,
  type Conversation,
  clearVerified,
  compareMessages,
  encryptionStatus,
  insertMessage,
  markRead,
  markVerified,
  newConversation,
  observeIdentity,
  outbox,
  sortConversations,
  unreadCount,
} from '../core/model.js';
import type { Vault } from '../store/vault.js';
import { Devices } from './devices.js';
import type { CryptoPort, DeviceAddress, Link, ServerApi } from './ports.js';
import { initialState, StateStore } from './store.js';
import type { Actions, AppState, Me, SafetyInfo } from './types.js';

/** Keep this many one-time prekeys published; top up below the low-water mark (X3DH §3.2). */
export const PREKEY_TARGET = 100;
export const PREKEY_LOW_WATER = 25;
/** Re-send "typing" at most this often while the user keeps typing, and stop after this idle time. */
export const TYPING_REFRESH_MS = 3_000;
export const TYPING_IDLE_MS = 5_000;
/** A peer's "typing" lapses after this long without a refresh (their stop message may be lost). */
export const TYPING_SHOW_MS = 7_000;

const K = {
  session: 's:session',
  /** Whose history this store holds (kept when a session expires, so nobody else sees it). */
  owner: 's:owner',
  conv: (peer: string) => `conv:${peer}`,
  convPrefix: 'conv:',
  msg: (peer: string, id: string) => `msg:${peer}:${id}`,
  msgPrefix: (peer: string) => `msg:${peer}:`,
};

export interface EngineDeps {
  /** null when the store is locked with a passphrase (unlockVault opens it). */
  vault: Vault | null;
  unlockVault?: (passphrase: string) => Promise<Vault>;
  crypto: CryptoPort;
  /** Makes the server API; `onSession` persists rotated tokens. */
  server: (session: Session | null, onSession: (s: Session | null) => void) => ServerApi;
  /** Opens a fresh vault after sign-out wiped the old one. */
  reopenVault: () => Promise<Vault>;
  now?: () => number;
  deviceName?: string;
  /** Whether the user can see the page (read receipts are sent only then). */
  isVisible?: () => boolean;
}

/**
 * The client engine: owns AppState, talks to the server through ServerApi and to the protocol
 * through CryptoPort, persists everything in the vault. Every operation that touches ratchet
 * state runs through one queue, so sends and receives never interleave on a session.
 */
export class Engine implements Actions {
  readonly store = new StateStore(initialState());
  private vault: Vault;
  private api: ServerApi | null = null;
  private link: Link | null = null;
  private open: string | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private flushing = false;
  private pendingReads = new Map<string, Set<string>>();
  private typingSent = new Map<string, { on: boolean; at: number; idle?: ReturnType<typeof setTimeout> }>();
  private typingShown = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly now: () => number;
  /** Next local order number (ChatMessage.n); continues from the stored history. */
  private order = 0;
  /** Linking and "Linked devices" (engine/devices.ts); the views read `devices.view`. */
  readonly devices: Devices;
  /** This device's API while it waits to be linked (no socket yet). */
  private pending: { api: ServerApi; session: Session } | null = null;

  constructor(private readonly d: EngineDeps) {
    // Until unlocked, nothing touches the vault (boot stops at the lock screen).
    this.vault = d.vault as Vault;
    this.now = d.now ?? Date.now;
    this.devices = new Devices({
      crypto: d.crypto,
      now: this.now,
      deviceName: d.deviceName ?? 'Web browser',
      prekeys: PREKEY_TARGET,
      serial: (fn) => this.serial(fn),
      history: {
        exportHistory: async () => ({
          conversations: this.state.conversations,
          messages: Object.values(this.state.messages).flat(),
        }),
        importHistory: async (convs, msgs) => {
          for (const c of convs) await this.vault.put(K.conv(c.peer), { ...c, deviceNotice: null });
          for (const m of msgs) await this.vault.put(K.msg(m.conv, m.id), m);
        },
      },
      onLinked: async (session) => {
        const saved = (await this.vault.get<Session>(K.session)) ?? session;
        this.pending = null;
        await this.loadHistory();
        this.start(saved);
      },
      onDeviceAdded: () => this.announceDevices(),
    });
  }

  get state(): AppState {
    return this.store.state;
  }

  /** The current vault (sign-out replaces it): the crypto adapter stores keys and sessions in it. */
  vaultNow(): Vault {
    return this.vault;
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  // ---------------------------------------------------------------- lifecycle

  /** Restores a saved session (history, keys, tokens) or shows sign-in. */
  async boot(): Promise<void> {
    if (!this.vault) {
      this.store.update({ phase: 'locked' });
      return;
    }
    this.store.update({ appLock: this.vault.hasLock });
    const session = await this.vault.get<Session>(K.session);
    if (!session) {
      this.store.update({ phase: 'signed-out' });
      return;
    }
    if (!(await this.d.crypto.hasDevice(session.userId, session.deviceId))) {
      // Signed in earlier but never linked: show "Link this device" again (with a fresh code).
      this.beginLink(session);
      return;
    }
    await this.loadHistory();
    this.start(session);
  }

  private async loadHistory(): Promise<void> {
    const convs = await this.vault.list<Conversation>(K.convPrefix);
    const messages: Record<string, ChatMessage[]> = {};
    for (const c of convs) {
      let list: ChatMessage[] = [];
      for (const m of await this.vault.list<ChatMessage>(K.msgPrefix(c.peer))) {
        list = insertMessage(list, m) ?? list;
        this.order = Math.max(this.order, m.n ?? 0);
      }
      messages[c.peer] = list.sort(compareMessages);
    }
    this.store.update({ conversations: sortConversations(convs), messages });
  }

  private start(session: Session): void {
    const me: Me = { userId: session.userId, username: session.username, deviceId: session.deviceId };
    this.api = this.d.server(session, (s) => {
      if (s) void this.vault.put(K.session, s);
    });
    this.store.update({ phase: 'ready', me, connection: 'connecting', notice: null, busy: false });
    this.link = this.api.connect({
      onDeliver: (f) => void this.serial(() => this.receive(f)),
      onPresence: (f) =>
        this.store.update((s) => ({
          presence: { ...s.presence, [f.user]: { online: f.online, lastSeen: f.lastSeen } },
        })),
      onState: (c) => {
        this.store.update({ connection: c });
        if (c === 'online') void this.onOnline();
      },
      onRevoked: () => void this.signedOutElsewhere(),
      onExpired: () => void this.sessionExpired(),
    });
  }

  private async onOnline(): Promise<void> {
    const peers = this.state.conversations.map((c) => c.peer);
    if (peers.length > 0) {
      this.link?.subscribePresence(peers);
      void this.refreshPresence(peers);
    }
    void this.topUpPrekeys();
    await this.serial(() => this.refreshOwnDevices()).catch(() => undefined);
    await this.flushOutbox();
    await this.flushReads();
  }

  private async refreshPresence(peers: string[]): Promise<void> {
    try {
      const entries = await this.api!.presence(peers);
      this.store.update((s) => {
        const presence = { ...s.presence };
        for (const e of entries) presence[e.userId] = { online: e.online, lastSeen: e.lastSeen };
        return { presence };
      });
    } catch {
      // presence is a nicety; the live presence frames still arrive
    }
  }

  private async topUpPrekeys(): Promise<void> {
    try {
      const remaining = await this.api!.prekeyCount();
      if (remaining >= PREKEY_LOW_WATER) return;
      const fresh = await this.serial(() => this.d.crypto.generatePrekeys(PREKEY_TARGET - remaining));
      await this.api!.uploadPrekeys({ oneTimePrekeys: fresh });
    } catch {
      // retried on the next connect; sessions still start with the signed prekey alone (X3DH §3.3)
    }
  }

  // ---------------------------------------------------------------- account

  register(username: string, password: string): Promise<void> {
    return this.authenticate('register', username, password);
  }
  login(username: string, password: string): Promise<void> {
    return this.authenticate('login', username, password);
  }

  private async authenticate(mode: 'register' | 'login', rawUsername: string, password: string): Promise<void> {
    const username = normaliseUsername(rawUsername.trim());
    if (!username) {
      this.store.update({ notice: new HushError('AUTH_INVALID_USERNAME').message });
      return;
    }
    this.store.update({ busy: true, notice: null });
    try {
      let saved: Session | null = null;
      const api = this.d.server(null, (s) => {
        saved = s;
      });
      const creds = { username, password, deviceName: this.d.deviceName ?? 'Web browser' };
      const session = mode === 'register' ? await api.register(creds) : await api.login(creds);
      saved = session;
      const owner = await this.vault.get<string>(K.owner);
      if (owner !== undefined && owner !== session.userId) {
        await this.vault.wipe();
        this.vault = await this.d.reopenVault();
        this.store.update({ conversations: [], messages: {}, presence: {}, typing: {} });
      }
      await this.vault.put(K.owner, session.userId);
      if (!(await this.d.crypto.hasDevice(session.userId, session.deviceId))) {
        const authed = this.d.server(session, (s) => {
          if (s) saved = s;
        });
        // An account that already has an identity is never reset by signing in: this device
        // waits, pending, to be linked from one of the account's devices (DESIGN §4).
        if (mode === 'login' && (await this.accountHasIdentity(authed, session.userId))) {
          await this.vault.put(K.session, saved ?? session);
          this.beginLink(saved ?? session);
          return;
        }
        const keys = await this.serial(() =>
          this.d.crypto.createDevice(session.userId, session.deviceId, this.now(), PREKEY_TARGET),
        );
        await authed.publishKeys(keys);
      }
      await this.vault.put(K.session, saved ?? session);
      await this.loadHistory();
      this.start(saved ?? session);
    } catch (e) {
      this.store.update({ busy: false, notice: describe(e) });
    }
  }

  /** True when the key directory holds an identity for the account (it has a linked device). */
  private async accountHasIdentity(api: ServerApi, userId: string): Promise<boolean> {
    try {
      await api.fetchBundle(userId);
      return true;
    } catch (e) {
      if (isHushError(e) && e.code === 'KEYS_NOT_FOUND') return false;
      throw e;
    }
  }

  private beginLink(session: Session): void {
    const api = this.d.server(session, (s) => {
      if (s) void this.vault.put(K.session, s);
    });
    this.pending = { api, session };
    const me: Me = { userId: session.userId, username: session.username, deviceId: session.deviceId };
    this.store.update({ phase: 'link', me, busy: false, notice: null });
    void this.devices.linkThisDevice(api, session);
  }

  /**
   * "Reset identity" on a device with nothing to link from: a new identity for the account. Every
   * other device leaves the account and every contact sees a changed safety number (warned in the UI).
   */
  async resetIdentity(): Promise<void> {
    const p = this.pending;
    if (!p) return;
    this.devices.cancel();
    this.store.update({ busy: true, notice: null });
    try {
      const keys = await this.serial(() =>
        this.d.crypto.createDevice(p.session.userId, p.session.deviceId, this.now(), PREKEY_TARGET),
      );
      await p.api.publishKeys({ ...keys, resetIdentity: true });
      this.pending = null;
      const saved = (await this.vault.get<Session>(K.session)) ?? p.session;
      await this.loadHistory();
      this.start(saved);
    } catch (e) {
      this.store.update({ busy: false, notice: describe(e) });
    }
  }

  async loadDevices(): Promise<void> {
    const me = this.state.me;
    if (this.api && me) await this.devices.refresh(this.api, me.userId);
  }
  async linkNewDevice(code: string): Promise<void> {
    const me = this.state.me;
    if (this.api && me) await this.devices.linkNewDevice(this.api, me, code);
  }
  approveLink(ok: boolean): void {
    this.devices.decide(ok);
  }
  cancelLink(): void {
    this.devices.cancel();
  }
  async signOutDevice(deviceId: string): Promise<void> {
    const me = this.state.me;
    if (this.api && me) await this.devices.signOut(this.api, me, deviceId);
  }

  /** After linking a device: our devices and every contact fetch the new signed list now. */
  private async announceDevices(): Promise<void> {
    const me = this.state.me;
    if (!me) return;
    await this.serial(() => this.refreshOwnDevices()).catch(() => undefined);
    for (const c of this.state.conversations) await this.sendControl(c.peer, { v: 1, t: 'devices' });
  }

  /** Fetches our own account's bundle so sent copies reach our other devices. Runs inside serial(). */
  private async refreshOwnDevices(): Promise<void> {
    const me = this.state.me;
    if (!me || !this.api) return;
    const before = new Set((await this.d.crypto.knownDevices(me.userId)) ?? []);
    const hadList = (await this.d.crypto.knownDevices(me.userId)) !== null;
    const r = await this.d.crypto.acceptBundle(await this.api.fetchBundle(me.userId), this.now());
    if (hadList && r.devices.some((d) => d !== me.deviceId && !before.has(d))) {
      this.store.update({ notice: 'A new device was linked to your account.' });
    }
  }

  async logout(): Promise<void> {
    this.devices.cancel();
    const api = this.api ?? this.pending?.api;
    this.pending = null;
    try {
      await api?.logout();
    } catch {
      // signing out locally matters more than telling a server we cannot reach
    }
    await this.wipeLocal();
  }

  private async signedOutElsewhere(): Promise<void> {
    await this.wipeLocal();
    this.store.update({ notice: 'This device was signed out.' });
  }

  /** Tokens are gone but the device was not revoked: ask for the password again, keep history. */
  private async sessionExpired(): Promise<void> {
    this.link?.close();
    this.link = null;
    this.api = null;
    await this.vault.delete(K.session);
    this.store.update({ phase: 'signed-out', connection: 'offline', notice: 'Your session expired. Sign in again.' });
  }

  private async wipeLocal(): Promise<void> {
    this.devices.cancel();
    this.pending = null;
    this.link?.close();
    this.link = null;
    this.api = null;
    this.open = null;
    await this.vault.wipe();
    this.vault = await this.d.reopenVault();
    this.store.update({ ...initialState(), phase: 'signed-out' });
  }

  // ---------------------------------------------------------------- conversations

  async startChat(rawUsername: string): Promise<string | null> {
    const me = this.state.me;
    if (!me || !this.api) return null;
    const username = normaliseUsername(rawUsername.trim());
    if (!username) {
      this.store.update({ notice: new HushError('AUTH_INVALID_USERNAME').message });
      return null;
    }
    if (username === me.username) {
      this.store.update({ notice: 'That is you. Pick someone else to talk to.' });
      return null;
    }
    this.store.update({ busy: true, notice: null });
    try {
      const profile = await this.api.lookupUser(username);
      await this.ensureConversation(profile.userId, profile.username);
      // Fetch keys now so the status is known before the first message.
      await this.serial(() => this.refreshBundle(profile.userId));
      this.store.update({ busy: false });
      return profile.userId;
    } catch (e) {
      this.store.update({ busy: false, notice: describe(e) });
      return null;
    }
  }

  /** For tests: the conversation with a peer (throws when there is none). */
  conv_(peer: string): Conversation {
    const c = this.conv(peer);
    if (!c) throw new Error(`no conversation with ${peer}`);
    return c;
  }

  private conv(peer: string): Conversation | undefined {
    return this.state.conversations.find((c) => c.peer === peer);
  }

  private async saveConv(c: Conversation): Promise<void> {
    this.store.update((s) => ({
      conversations: sortConversations([...s.conversations.filter((x) => x.peer !== c.peer), c]),
    }));
    await this.vault.put(K.conv(c.peer), c);
  }

  private async ensureConversation(peer: string, username?: string): Promise<Conversation> {
    const existing = this.conv(peer);
    if (existing) return existing;
    let name = username;
    if (!name) {
      try {
        name = (await this.api!.profile(peer)).username;
      } catch {
        name = peer;
      }
    }
    const c = newConversation(peer, name, this.now());
    await this.saveConv(c);
    this.store.update((s) => ({ messages: { ...s.messages, [peer]: s.messages[peer] ?? [] } }));
    // Share presence with people we talk to, and watch theirs.
    void this.api?.addContact(peer).catch(() => undefined);
    this.link?.subscribePresence([peer]);
    void this.refreshPresence([peer]);
    return c;
  }

  openConversation(peer: string | null): void {
    this.open = peer;
    if (!peer) return;
    void this.readOpen();
    // A red conversation may have been fixed since (keys published, a good bundle): look again.
    const c = this.conv(peer);
    if (c && encryptionStatus(c) === 'red' && this.api)
      void this.serial(() => this.refreshBundle(peer)).catch(() => undefined);
  }

  /** Called by the page when it becomes visible again. */
  visibilityChanged(): void {
    if (this.open) void this.readOpen();
  }

  private async readOpen(): Promise<void> {
    const peer = this.open;
    if (!peer || (this.d.isVisible && !this.d.isVisible())) return;
    const list = this.state.messages[peer] ?? [];
    const r = markRead(list);
    if (r.ids.length === 0) return;
    this.store.update((s) => ({ messages: { ...s.messages, [peer]: r.list } }));
    for (const m of r.list) if (r.ids.includes(m.id)) await this.vault.put(K.msg(peer, m.id), m);
    const c = this.conv(peer);
    if (c) await this.saveConv({ ...c, unread: 0 });
    const pend = this.pendingReads.get(peer) ?? new Set<string>();
    for (const id of r.ids) pend.add(id);
    this.pendingReads.set(peer, pend);
    await this.flushReads();
  }

  private async flushReads(): Promise<void> {
    if (this.state.connection !== 'online') return;
    for (const [peer, ids] of [...this.pendingReads]) {
      this.pendingReads.delete(peer);
      // `to` lets our own other devices mark the same messages read (read state sync).
      const ok = await this.sendControl(peer, { v: 1, t: 'receipt', kind: 'read', ids: [...ids], to: peer });
      if (!ok) {
        const again = this.pendingReads.get(peer) ?? new Set<string>();
        for (const id of ids) again.add(id);
        this.pendingReads.set(peer, again);
      }
    }
  }

  // ---------------------------------------------------------------- sending

  async send(peer: string, text: string): Promise<void> {
    const c = this.conv(peer);
    if (!c || text.trim().length === 0) return;
    // Red means we cannot encrypt: nothing is queued or sent (DESIGN §4).
    if (encryptionStatus(c) === 'red') {
      this.store.update({ notice: `Cannot encrypt to ${c.username}; the message was not sent.` });
      return;
    }
    const now = this.now();
    const m: ChatMessage = {
      id: newMessageId(),
      conv: peer,
      dir: 'out',
      text,
      sentAt: now,
      ts: null,
      tick: 'pending',
      wire: null,
      n: ++this.order,
    };
    await this.putMessage(m);
    await this.saveConv({ ...c, lastAt: now, lastText: text });
    await this.flushOutbox();
  }

  /** Sends every queued message, oldest first; safe to call any time (one flush at a time). */
  async flushOutbox(): Promise<void> {
    if (this.flushing) return;
    this.flushing = true;
    try {
      for (;;) {
        if (this.state.connection !== 'online' || !this.link) return;
        const next = this.state.conversations.flatMap((c) => outbox(this.state.messages[c.peer] ?? []));
        next.sort((a, b) => (a.n ?? 0) - (b.n ?? 0) || a.sentAt - b.sentAt);
        const m = next[0];
        if (!m) return;
        const sent = await this.transmit(m);
        if (!sent) return; // connection trouble: wait for the next "online"
      }
    } finally {
      this.flushing = false;
    }
  }

  /** Returns false when the message must wait (offline); true when it left the outbox (sent or failed). */
  private async transmit(m: ChatMessage): Promise<boolean> {
    let frame: SendFrame;
    if (m.wire?.kind === 'sent') {
      // Already encrypted once: resend the identical frame with the same id, so the gateway's
      // dedupe (Nats-Msg-Id) and the receiver's id check make it arrive exactly once.
      frame = m.wire.frame;
    } else {
      const built = await this.serial(() => this.buildFrame(m.conv, m.id, this.textContent(m)));
      if (typeof built === 'string') {
        await this.putMessage({ ...m, tick: 'failed', error: built });
        return true;
      }
      frame = built;
      await this.putMessage({ ...m, wire: { kind: 'sent', frame } });
    }
    try {
      const acc = await this.link!.send(frame);
      const cur = this.findMessage(m.conv, m.id) ?? m;
      await this.putMessage({ ...cur, tick: advanceTick(cur.tick, 'sent'), ts: cur.ts ?? acc.ts });
      return true;
    } catch (e) {
      if (isHushError(e) && e.code === 'GW_UNKNOWN_RECIPIENT') {
        // The peer's device list changed (new device or a reset identity): fetch it again and
        // re-encrypt this message for the current devices.
        await this.serial(() => this.refreshBundle(m.conv));
        const cur = this.findMessage(m.conv, m.id) ?? m;
        const { wire: _old, ...rest } = cur;
        await this.putMessage({ ...rest, wire: null });
        return encryptionStatus(this.conv(m.conv)!) !== 'red' || (await this.failRed(cur));
      }
      if (isHushError(e) && e.status >= 400 && e.status < 500 && e.status !== 429 && e.status !== 401) {
        await this.putMessage({ ...(this.findMessage(m.conv, m.id) ?? m), tick: 'failed', error: e.message });
        return true;
      }
      return false;
    }
  }

  private async failRed(m: ChatMessage): Promise<boolean> {
    await this.putMessage({ ...m, tick: 'failed', error: 'cannot encrypt to this contact' });
    return true;
  }

  private textContent(m: ChatMessage): Content {
    return { v: 1, t: 'text', id: m.id, to: m.conv, text: m.text, sentAt: m.sentAt };
  }

  /** Encrypts one content once per recipient device in one send frame (DESIGN §3.1), or returns why it cannot. */
  private async buildFrame(peer: string, id: string, content: Content): Promise<SendFrame | string> {
    let devices = await this.d.crypto.knownDevices(peer);
    if (devices === null || devices.length === 0) {
      await this.refreshBundle(peer);
      devices = await this.d.crypto.knownDevices(peer);
    }
    const c = this.conv(peer);
    if (!devices || devices.length === 0 || (c && encryptionStatus(c) === 'red'))
      return c?.cannotEncrypt ?? 'no keys for this contact';
    const targets: DeviceAddress[] = devices.map((device) => ({ user: peer, device }));
    // Our own other devices get a copy too (sent copies, read state, device changes: DESIGN §3.1).
    const me = this.state.me!;
    if (content.t === 'text' || content.t === 'devices' || (content.t === 'receipt' && content.to)) {
      let mine = await this.d.crypto.knownDevices(me.userId);
      if (mine === null) {
        await this.refreshOwnDevices().catch(() => undefined);
        mine = await this.d.crypto.knownDevices(me.userId);
      }
      for (const device of mine ?? []) if (device !== me.deviceId) targets.push({ user: me.userId, device });
    }
    const plaintext = encodeContent(content);
    const envelopes = [];
    for (const to of targets) envelopes.push({ to, body: await this.d.crypto.encrypt(to, plaintext) });
    return { type: 'send', id, envelopes };
  }

  /** Fetches and verifies the peer's bundle; updates identity and status. Runs inside serial(). */
  private async refreshBundle(peer: string): Promise<void> {
    const c = this.conv(peer) ?? (await this.ensureConversation(peer));
    try {
      const before = await this.d.crypto.knownDevices(peer);
      const bundle = await this.api!.fetchBundle(peer);
      const r = await this.d.crypto.acceptBundle(bundle, this.now());
      let next = observeIdentity(this.conv(peer) ?? c, r.identityKey, this.now());
      // The peer's signed device list grew under the same identity: tell the user (DESIGN §4,
      // device authorization alerts), as WhatsApp and Signal do.
      if (before !== null && next.identityKey === r.identityKey && r.devices.some((d) => !before.includes(d)))
        next = { ...next, deviceNotice: `${next.username} added a device.` };
      await this.saveConv(next);
    } catch (e) {
      if (isHushError(e) && (e.status >= 500 || e.status === 429)) throw e;
      if (!isHushError(e) && e instanceof TypeError) throw e; // network
      await this.saveConv({ ...(this.conv(peer) ?? c), cannotEncrypt: describe(e) });
    }
  }

  /** Sends a receipt or typing message (not stored, not queued). */
  private async sendControl(peer: string, content: Content): Promise<boolean> {
    if (this.state.connection !== 'online' || !this.link) return false;
    const c = this.conv(peer);
    if (!c || encryptionStatus(c) === 'red') return false;
    try {
      const frame = await this.serial(() => this.buildFrame(peer, newMessageId(), content));
      if (typeof frame === 'string') return false;
      await this.link.send(frame);
      return true;
    } catch {
      return false;
    }
  }

  typing(peer: string, on: boolean): void {
    const st = this.typingSent.get(peer) ?? { on: false, at: 0 };
    clearTimeout(st.idle);
    const now = this.now();
    if (on) st.idle = setTimeout(() => this.typing(peer, false), TYPING_IDLE_MS);
    const changed = st.on !== on;
    const refresh = on && now - st.at >= TYPING_REFRESH_MS;
    st.on = on;
    if (changed || refresh) {
      st.at = now;
      void this.sendControl(peer, { v: 1, t: 'typing', on });
    }
    this.typingSent.set(peer, st);
  }

  // ---------------------------------------------------------------- receiving

  /** Decrypt, store, then ack (DESIGN §3.3). Runs inside serial(). */
  private async receive(f: import('@hush/protocol').DeliverFrame): Promise<void> {
    const me = this.state.me;
    if (!me) return;
    let content: Content;
    let identityKey: string | null;
    try {
      const r = await this.d.crypto.decrypt({ user: f.from.user, device: f.from.device }, f.body, this.now());
      identityKey = r.identityKey;
      content = decodeContent(r.plaintext);
    } catch (e) {
      // Undecryptable (a replay, a corrupted or forged envelope) or malformed content: acking
      // drops it; leaving it would redeliver it forever. A duplicate of a stored message lands here too.
      if (!(e instanceof ContentError)) console.warn('hush: dropped an envelope that did not decrypt', f.id);
      this.link?.ack(f.seq);
      return;
    }
    const fromMe = f.from.user === me.userId;
    if (content.t === 'devices') {
      // Someone's device list changed: fetch it now (verified against their identity).
      if (fromMe) await this.refreshOwnDevices().catch(() => undefined);
      else if (this.conv(f.from.user)) await this.refreshBundle(f.from.user).catch(() => undefined);
      this.link?.ack(f.seq);
      return;
    }
    if (fromMe && content.t === 'receipt' && content.kind === 'read' && content.to) {
      await this.readElsewhere(content.to, content.ids);
      this.link?.ack(f.seq);
      return;
    }
    const peer = fromMe ? (content.t === 'text' ? content.to : null) : f.from.user;
    if (peer) {
      let c = await this.ensureConversation(peer);
      if (identityKey && !fromMe) {
        const next = observeIdentity(c, identityKey, this.now());
        if (next !== c) await this.saveConv(next);
        c = next;
      }
      if (content.t === 'text') await this.receiveText(f, content, fromMe, peer);
      else if (content.t === 'receipt' && !fromMe) await this.receiveReceipt(peer, content.kind, content.ids);
      else if (content.t === 'typing' && !fromMe) this.showTyping(peer, content.on);
    }
    this.link?.ack(f.seq);
  }

  private async receiveText(
    f: import('@hush/protocol').DeliverFrame,
    content: Extract<Content, { t: 'text' }>,
    fromMe: boolean,
    peer: string,
  ): Promise<void> {
    if (this.findMessage(peer, content.id)) return; // exactly once as the user sees it
    const m: ChatMessage = {
      id: content.id,
      conv: peer,
      dir: fromMe ? 'out' : 'in',
      text: content.text,
      sentAt: content.sentAt,
      ts: f.ts,
      tick: fromMe ? 'sent' : 'delivered',
      n: ++this.order,
      wire: {
        kind: 'received',
        frame: { type: 'deliver', seq: f.seq, id: f.id, from: f.from, ts: f.ts, body: f.body },
      },
    };
    await this.putMessage(m);
    this.showTyping(peer, false);
    const c = this.conv(peer)!;
    await this.saveConv({
      ...c,
      lastAt: Math.max(c.lastAt, f.ts),
      lastText: content.text,
      unread: unreadCount(this.state.messages[peer] ?? []),
    });
    if (!fromMe) {
      void this.sendControl(peer, { v: 1, t: 'receipt', kind: 'delivered', ids: [content.id] });
      // Presence is shared only between contacts: a peer who wrote to us has added us by now,
      // so ask again if we could not see them before.
      if (!this.state.presence[peer]?.online) void this.refreshPresence([peer]);
      if (this.open === peer) void this.readOpen();
    }
  }

  /** Another of our devices showed these messages: they are read here too (no receipt sent again). */
  private async readElsewhere(peer: string, ids: string[]): Promise<void> {
    const set = new Set(ids);
    const list = this.state.messages[peer] ?? [];
    const changed = list.filter((m) => m.dir === 'in' && set.has(m.id) && m.tick !== 'read');
    if (changed.length === 0) return;
    const next = list.map((m) => (changed.includes(m) ? { ...m, tick: 'read' as const } : m));
    this.store.update((s) => ({ messages: { ...s.messages, [peer]: next } }));
    for (const m of next) if (set.has(m.id)) await this.vault.put(K.msg(peer, m.id), m);
    const c = this.conv(peer);
    if (c) await this.saveConv({ ...c, unread: unreadCount(next) });
  }

  private async receiveReceipt(peer: string, kind: 'delivered' | 'read', ids: string[]): Promise<void> {
    const r = applyReceipt(this.state.messages[peer] ?? [], kind, ids);
    if (r.changed.length === 0) return;
    this.store.update((s) => ({ messages: { ...s.messages, [peer]: r.list } }));
    for (const m of r.changed) await this.vault.put(K.msg(peer, m.id), m);
  }

  private showTyping(peer: string, on: boolean): void {
    clearTimeout(this.typingShown.get(peer));
    if (on)
      this.typingShown.set(
        peer,
        setTimeout(() => this.showTyping(peer, false), TYPING_SHOW_MS),
      );
    if (Boolean(this.state.typing[peer]) !== on) this.store.update((s) => ({ typing: { ...s.typing, [peer]: on } }));
  }

  // ---------------------------------------------------------------- messages

  private findMessage(peer: string, id: string): ChatMessage | undefined {
    return this.state.messages[peer]?.find((m) => m.id === id);
  }

  private async putMessage(m: ChatMessage): Promise<void> {
    this.store.update((s) => {
      const list = s.messages[m.conv] ?? [];
      const idx = list.findIndex((x) => x.id === m.id);
      let next: ChatMessage[];
      if (idx === -1) next = insertMessage(list, m) ?? list;
      else {
        next = [...list];
        next[idx] = m;
        if (list[idx]!.ts !== m.ts) next = next.sort(compareMessages);
      }
      return { messages: { ...s.messages, [m.conv]: next } };
    });
    await this.vault.put(K.msg(m.conv, m.id), m);
  }

  // ---------------------------------------------------------------- verification

  async safety(peer: string): Promise<SafetyInfo | null> {
    const c = this.conv(peer);
    const me = this.state.me;
    if (!c?.identityKey || !me) return null;
    return this.d.crypto.safety(me.userId, peer, c.identityKey);
  }

  async verifyPayload(peer: string, payload: string): Promise<boolean> {
    const c = this.conv(peer);
    const me = this.state.me;
    if (!c?.identityKey || !me) return false;
    let ok = false;
    try {
      ok = await this.d.crypto.checkPayload(me.userId, peer, c.identityKey, payload);
    } catch {
      ok = false;
    }
    if (ok) await this.saveConv(markVerified(c));
    return ok;
  }

  async markVerified(peer: string): Promise<void> {
    const c = this.conv(peer);
    if (c) await this.saveConv(markVerified(c));
  }
  async unverify(peer: string): Promise<void> {
    const c = this.conv(peer);
    if (c) await this.saveConv(clearVerified(c));
  }
  async dismissDeviceNotice(peer: string): Promise<void> {
    const c = this.conv(peer);
    if (c) await this.saveConv({ ...c, deviceNotice: null });
  }
  async dismissKeyChange(peer: string): Promise<void> {
    const c = this.conv(peer);
    if (c) await this.saveConv({ ...c, keyChange: null });
  }

  // ---------------------------------------------------------------- app lock

  async unlock(passphrase: string): Promise<void> {
    if (!this.d.unlockVault) return;
    this.store.update({ busy: true, notice: null });
    try {
      this.vault = await this.d.unlockVault(passphrase);
    } catch (e) {
      this.store.update({
        busy: false,
        notice: e instanceof Error && e.name === 'WrongPassphraseError' ? 'Wrong passphrase.' : describe(e),
      });
      return;
    }
    this.store.update({ busy: false });
    await this.boot();
  }

  /** Re-encrypts the store under a passphrase-derived key; the socket pauses so no write races the re-key. */
  async setAppLock(passphrase: string): Promise<void> {
    await this.rekey(() => this.vault.setLock(passphrase));
  }
  async removeAppLock(): Promise<void> {
    await this.rekey(() => this.vault.removeLock());
  }
  private async rekey(fn: () => Promise<void>): Promise<void> {
    this.store.update({ busy: true, notice: null });
    this.link?.close();
    this.link = null;
    try {
      await this.serial(fn);
      this.store.update({ appLock: this.vault.hasLock });
    } catch (e) {
      this.store.update({ notice: describe(e) });
    } finally {
      this.store.update({ busy: false });
      const session = await this.vault.get<Session>(K.session);
      if (session) this.start(session);
    }
  }

  setShowWire(on: boolean): void {
    this.store.update({ showWire: on });
  }
  clearNotice(): void {
    this.store.update({ notice: null });
  }
}

/** A sentence for the user; codes come from the protocol's catalogue. */
export function describe(e: unknown): string {
  if (isHushError(e)) return e.message;
  if (e instanceof TypeError) return 'Cannot reach the server. Check your connection and try again.';
  if (e instanceof Error) return e.message;
  return 'Something went wrong.';
}

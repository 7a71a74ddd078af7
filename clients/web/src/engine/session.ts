import { type DeliverFrame, HushError, normaliseUsername, type Session } from '@hush/protocol';
import { describe } from '../core/send-policy.js';
import { openLocked, reencrypt } from './app-lock.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { ServerApi } from './ports.js';
import { PREKEY_TARGET, PrekeyMaintenance } from './prekeys.js';
import { accountHasIdentity, ERASED, SIGNED_OUT_ELSEWHERE, whyReplaced } from './signed-out.js';
import { initialState } from './store.js';
import type { Me } from './types.js';

/** What the session tells the rest of the engine. */
export interface SessionEvents {
  deliver(f: DeliverFrame): void;
  /** The socket is open (again): flush what waited. */
  online(): Promise<void>;
  /** Local data is gone (sign-out): forget in-memory state. */
  reset(): void;
  /** This device is signed in but not linked: show "Link this device" (engine/devices.ts). */
  linkThisDevice(api: ServerApi, session: Session): void;
}

/**
 * The signed-in session: boot from the stored one, register or sign in (this browser makes its
 * own keys), sign-out and its two cousins (revoked elsewhere, expired), the socket, and the app
 * lock. Prekeys are kept up by engine/prekeys.ts.
 */
export class SessionLifecycle {
  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly events: SessionEvents,
  ) {
    this.prekeys = new PrekeyMaintenance(ctx);
  }

  /** This device's API while it waits to be linked (no socket yet). */
  private pending: { api: ServerApi; session: Session } | null = null;
  private readonly prekeys: PrekeyMaintenance;

  /** Restores a saved session (history, keys, tokens) or shows sign-in. */
  async boot(): Promise<void> {
    const { ctx } = this;
    if (!ctx.history) {
      ctx.store.update({ phase: 'locked' });
      return;
    }
    ctx.store.update({ appLock: ctx.history.hasLock });
    const session = await ctx.history.getSession();
    if (!session) {
      ctx.store.update({ phase: 'signed-out' });
      return;
    }
    if (!(await ctx.crypto.hasDevice(session.userId, session.deviceId))) {
      // Signed in earlier but never linked: "Link this device" again, with a fresh code.
      this.beginLink(session);
      return;
    }
    await this.history.load();
    this.start(session);
  }

  private async renewDevice(api: ServerApi, session: Session, oldDeviceId: string): Promise<void> {
    const { ctx } = this;
    const current = await ctx.crypto.ownDeviceList(await api.fetchBundle(session.userId));
    const devices = [...current.devices.filter((d) => d !== oldDeviceId), session.deviceId];
    const keys = await ctx.serial(async () => {
      const list = await ctx.crypto.signDeviceList(session.userId, current.version + 1, devices, ctx.now());
      return ctx.crypto.renewDevice(session.userId, session.deviceId, list, ctx.now(), PREKEY_TARGET);
    });
    await api.publishKeys(keys);
  }

  private beginLink(session: Session): void {
    const { ctx } = this;
    const api = ctx.deps.server(session, (s) => {
      if (s) ctx.background(() => ctx.history.putSession(s));
    });
    this.pending = { api, session };
    const me: Me = { userId: session.userId, username: session.username, deviceId: session.deviceId };
    ctx.store.update({ phase: 'link', me, busy: false, notice: null });
    this.events.linkThisDevice(api, session);
  }

  /** The identity arrived over the provisioning channel and the keys are published: start. */
  async linked(session: Session): Promise<void> {
    const saved = (await this.ctx.history.getSession()) ?? session;
    this.pending = null;
    await this.history.load();
    this.start(saved);
  }

  /**
   * "Reset identity" on a device with nothing to link from: a new identity for the account. Every
   * other device leaves the account and every contact sees a changed safety number (warned in the UI).
   */
  async resetIdentity(): Promise<void> {
    const { ctx } = this;
    const p = this.pending;
    if (!p) return;
    ctx.store.update({ busy: true, notice: null });
    try {
      const keys = await ctx.serial(() =>
        ctx.crypto.createDevice(p.session.userId, p.session.deviceId, ctx.now(), PREKEY_TARGET),
      );
      await p.api.publishKeys({ ...keys, resetIdentity: true });
      await this.linked(p.session);
    } catch (e) {
      ctx.store.update({ busy: false, notice: describe(e) });
    }
  }

  private start(session: Session): void {
    const { ctx } = this;
    const me: Me = { userId: session.userId, username: session.username, deviceId: session.deviceId };
    const api = ctx.deps.server(session, (s) => {
      if (s) ctx.background(() => ctx.history.putSession(s));
    });
    ctx.api = api;
    ctx.store.update({ phase: 'ready', me, connection: 'connecting', notice: null, busy: false });
    ctx.link = api.connect({
      onDeliver: (f) => this.events.deliver(f),
      onPresence: (f) =>
        ctx.store.update((s) => ({
          presence: { ...s.presence, [f.user]: { online: f.online, lastSeen: f.lastSeen } },
        })),
      onState: (c) => {
        ctx.store.update({ connection: c });
        if (c === 'online')
          ctx.background(async () => {
            // The prekey check after the online work: it reuses the own bundle that fetched.
            try {
              await this.events.online();
            } finally {
              await this.prekeys.run();
            }
          });
      },
      onRevoked: () => ctx.background(() => this.signedOutElsewhere()),
      onExpired: () => ctx.background(() => this.sessionExpired()),
      onReplaced: () => ctx.background(() => this.replaced()),
    });
  }

  async authenticate(mode: 'register' | 'login', rawUsername: string, password: string): Promise<void> {
    const { ctx } = this;
    const username = normaliseUsername(rawUsername.trim());
    if (!username) {
      ctx.store.update({ notice: new HushError('AUTH_INVALID_USERNAME').message });
      return;
    }
    ctx.store.update({ busy: true, notice: null });
    try {
      let saved: Session | null = null;
      const api = ctx.deps.server(null, (s) => {
        saved = s;
      });
      const creds = { username, password, deviceName: ctx.deps.deviceName ?? 'Web browser' };
      const session = mode === 'register' ? await api.register(creds) : await api.login(creds);
      saved = session;
      const owner = await ctx.history.getOwner();
      if (owner !== undefined && owner !== session.userId) {
        await ctx.history.wipe();
        ctx.history = await ctx.deps.reopenHistory();
        ctx.store.update({ conversations: [], messages: {}, presence: {}, typing: {} });
      }
      await ctx.history.putOwner(session.userId);
      if (!(await ctx.crypto.hasDevice(session.userId, session.deviceId))) {
        const authed = ctx.deps.server(session, (s) => {
          if (s) saved = s;
        });
        const local = await ctx.crypto.localDevice();
        if (local?.userId === session.userId && mode === 'login') {
          // This browser still holds the account identity (its session expired): it becomes
          // the new device itself, replacing its old device id in the signed list.
          await this.renewDevice(authed, session, local.deviceId);
        } else if (mode === 'login' && (await accountHasIdentity(authed, session.userId))) {
          // An account that already has an identity is never reset by signing in: this device
          // waits, pending, to be linked from one of the account's devices.
          await ctx.history.putSession(saved ?? session);
          this.beginLink(saved ?? session);
          return;
        } else {
          const keys = await ctx.serial(() =>
            ctx.crypto.createDevice(session.userId, session.deviceId, ctx.now(), PREKEY_TARGET),
          );
          await authed.publishKeys(keys);
        }
      }
      await ctx.history.putSession(saved ?? session);
      await this.history.load();
      this.start(saved ?? session);
    } catch (e) {
      ctx.store.update({ busy: false, notice: describe(e) });
    }
  }

  async logout(): Promise<void> {
    const api = this.ctx.api ?? this.pending?.api;
    try {
      await api?.logout();
    } catch {
      // signing out locally matters more than telling a server we cannot reach
    }
    await this.wipeLocal();
  }

  private async signedOutElsewhere(): Promise<void> {
    await this.wipeLocal();
    this.ctx.store.update({ notice: SIGNED_OUT_ELSEWHERE });
  }

  /** Closed with 4409 REPLACED: signed out (say so), or paused for another window ("Use here"). */
  private async replaced(): Promise<void> {
    const { ctx } = this;
    if (!ctx.api) return;
    if ((await whyReplaced(ctx.api)) === 'signed-out') return this.signedOutElsewhere();
    this.disconnect();
    ctx.store.update({ connection: 'replaced' });
  }

  /** "Use here": take the connection back from the other window. */
  async useHere(): Promise<void> {
    const session = await this.ctx.history.getSession();
    this.ctx.link?.close();
    if (session && this.ctx.state.phase === 'ready') this.start(session);
  }

  /** A forgotten app-lock passphrase: erase the store unopened (the server still lists the device). */
  async eraseDevice(): Promise<void> {
    const { ctx } = this;
    const fresh = await ctx.deps.eraseStore?.();
    if (!fresh) return;
    this.forget();
    ctx.history = fresh;
    ctx.store.update({ ...initialState(), phase: 'signed-out', notice: ERASED });
  }

  /** Tokens are gone but the device was not revoked: ask for the password again, keep history. */
  async sessionExpired(): Promise<void> {
    const { ctx } = this;
    this.disconnect();
    await ctx.history.deleteSession();
    ctx.store.update({ phase: 'signed-out', connection: 'offline', notice: 'Your session expired. Sign in again.' });
  }

  private disconnect(): void {
    this.prekeys.stop();
    this.ctx.link?.close();
    this.ctx.link = null;
    this.ctx.api = null;
  }

  /** No pending link, no socket, no in-memory state of the session. */
  private forget(): void {
    this.pending = null;
    this.disconnect();
    this.events.reset();
  }

  private async wipeLocal(): Promise<void> {
    const { ctx } = this;
    this.forget();
    await ctx.history.wipe();
    ctx.history = await ctx.deps.reopenHistory();
    ctx.store.update({ ...initialState(), phase: 'signed-out' });
  }

  /** App lock (engine/app-lock.ts): opens the locked store, then boots. */
  async unlock(passphrase: string): Promise<void> {
    if (await openLocked(this.ctx, passphrase)) await this.boot();
  }

  /** Re-encrypts the store (app lock set or removed); the socket pauses so no write races the re-key. */
  async rekey(fn: () => Promise<void>): Promise<void> {
    this.ctx.link?.close();
    this.ctx.link = null;
    try {
      await reencrypt(this.ctx, fn);
    } finally {
      const session = await this.ctx.history.getSession();
      if (session) this.start(session);
    }
  }
}

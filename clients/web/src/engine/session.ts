import { type DeliverFrame, HushError, normaliseUsername, type Session } from '@hush/protocol';
import { describe } from '../core/send-policy.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import { initialState } from './store.js';
import type { Me } from './types.js';

/** Keep this many one-time prekeys published; top up below the low-water mark (X3DH §3.2). */
export const PREKEY_TARGET = 100;
export const PREKEY_LOW_WATER = 25;

/** What the session tells the rest of the engine. */
export interface SessionEvents {
  deliver(f: DeliverFrame): void;
  /** The socket is open (again): flush what waited. */
  online(): Promise<void>;
  /** Local data is gone (sign-out): forget in-memory state. */
  reset(): void;
}

/**
 * The signed-in session: boot from the stored one, register or sign in (this browser makes its
 * own keys), sign-out and its two cousins (revoked elsewhere, expired), the socket, one-time
 * prekey top-ups, and the app lock.
 */
export class SessionLifecycle {
  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly events: SessionEvents,
  ) {}

  /** Restores a saved session (history, keys, tokens) or shows sign-in. */
  async boot(): Promise<void> {
    const { ctx } = this;
    if (!ctx.history) {
      ctx.store.update({ phase: 'locked' });
      return;
    }
    ctx.store.update({ appLock: ctx.history.hasLock });
    const session = await ctx.history.getSession();
    if (!session || !(await ctx.crypto.hasDevice(session.userId, session.deviceId))) {
      ctx.store.update({ phase: 'signed-out' });
      return;
    }
    await this.history.load();
    this.start(session);
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
        if (c === 'online') {
          ctx.background(() => this.topUpPrekeys());
          ctx.background(() => this.events.online());
        }
      },
      onRevoked: () => ctx.background(() => this.signedOutElsewhere()),
      onExpired: () => ctx.background(() => this.sessionExpired()),
    });
  }

  private async topUpPrekeys(): Promise<void> {
    const api = this.ctx.api;
    if (!api) return;
    try {
      const remaining = await api.prekeyCount();
      if (remaining >= PREKEY_LOW_WATER) return;
      const fresh = await this.ctx.serial(() => this.ctx.crypto.generatePrekeys(PREKEY_TARGET - remaining));
      await api.uploadPrekeys({ oneTimePrekeys: fresh });
    } catch {
      // retried on the next connect; sessions still start with the signed prekey alone (X3DH §3.3)
    }
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
      // This browser makes its own keys. Signing in on a fresh profile therefore starts a new
      // identity (contacts see a key change): moving an identity to a new device over a QR link
      // (DESIGN §4) is not built yet.
      if (!(await ctx.crypto.hasDevice(session.userId, session.deviceId))) {
        const keys = await ctx.serial(() =>
          ctx.crypto.createDevice(session.userId, session.deviceId, ctx.now(), PREKEY_TARGET),
        );
        const authed = ctx.deps.server(session, (s) => {
          if (s) saved = s;
        });
        await authed.publishKeys(keys);
      }
      await ctx.history.putSession(saved ?? session);
      await this.history.load();
      this.start(saved ?? session);
    } catch (e) {
      ctx.store.update({ busy: false, notice: describe(e) });
    }
  }

  async logout(): Promise<void> {
    try {
      await this.ctx.api?.logout();
    } catch {
      // signing out locally matters more than telling a server we cannot reach
    }
    await this.wipeLocal();
  }

  private async signedOutElsewhere(): Promise<void> {
    await this.wipeLocal();
    this.ctx.store.update({ notice: 'This device was signed out.' });
  }

  /** Tokens are gone but the device was not revoked: ask for the password again, keep history. */
  async sessionExpired(): Promise<void> {
    const { ctx } = this;
    this.disconnect();
    await ctx.history.deleteSession();
    ctx.store.update({ phase: 'signed-out', connection: 'offline', notice: 'Your session expired. Sign in again.' });
  }

  private disconnect(): void {
    this.ctx.link?.close();
    this.ctx.link = null;
    this.ctx.api = null;
  }

  private async wipeLocal(): Promise<void> {
    const { ctx } = this;
    this.disconnect();
    this.events.reset();
    await ctx.history.wipe();
    ctx.history = await ctx.deps.reopenHistory();
    ctx.store.update({ ...initialState(), phase: 'signed-out' });
  }

  // ---------------------------------------------------------------- app lock

  async unlock(passphrase: string): Promise<void> {
    const { ctx } = this;
    if (!ctx.deps.unlockHistory) return;
    ctx.store.update({ busy: true, notice: null });
    try {
      ctx.history = await ctx.deps.unlockHistory(passphrase);
    } catch (e) {
      ctx.store.update({
        busy: false,
        notice: e instanceof Error && e.name === 'WrongPassphraseError' ? 'Wrong passphrase.' : describe(e),
      });
      return;
    }
    ctx.store.update({ busy: false });
    await this.boot();
  }

  /** Re-encrypts the store (app lock set or removed); the socket pauses so no write races the re-key. */
  async rekey(fn: () => Promise<void>): Promise<void> {
    const { ctx } = this;
    ctx.store.update({ busy: true, notice: null });
    ctx.link?.close();
    ctx.link = null;
    try {
      await ctx.serial(fn);
      ctx.store.update({ appLock: ctx.history.hasLock });
    } catch (e) {
      ctx.store.update({ notice: describe(e) });
    } finally {
      ctx.store.update({ busy: false });
      const session = await ctx.history.getSession();
      if (session) this.start(session);
    }
  }
}

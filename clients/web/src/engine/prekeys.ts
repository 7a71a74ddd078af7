import type { EngineContext } from './context.js';

/** Keep this many one-time prekeys published; top up below the low-water mark (X3DH §3.2). */
export const PREKEY_TARGET = 100;
export const PREKEY_LOW_WATER = 25;
/** Look at the signed prekey's age at least this often while connected (it rotates weekly). */
export const PREKEY_CHECK_MS = 24 * 3600 * 1000;
/** Our own bundle fetched this recently (on connect, for the device list) also answers the prekey check. */
export const OWN_BUNDLE_FRESH_MS = 30_000;

/** This device's published prekeys: signed prekey rotation and one-time prekey top-ups. */
export class PrekeyMaintenance {
  private timer: unknown = null;

  constructor(private readonly ctx: EngineContext) {}

  /**
   * On every connect and then at least daily: rotates the signed prekey when due (X3DH §4.2, weekly;
   * the replaced one is kept for late messages) and makes sure keydir serves the current one (an
   * upload that failed earlier is repeated), and tops up one-time prekeys below the low-water mark.
   */
  async run(): Promise<void> {
    const { ctx } = this;
    const api = ctx.api;
    const me = ctx.state.me;
    if (!api || !me) return;
    ctx.deps.clock.clearTimeout(this.timer);
    let next = PREKEY_CHECK_MS;
    try {
      const plan = await ctx.serial(() => ctx.crypto.maintainSignedPrekey(ctx.now()));
      next = Math.min(PREKEY_CHECK_MS, Math.max(60_000, plan.nextCheckAt - ctx.now()));
      const own = ctx.ownBundle;
      const recent =
        own !== null && own.bundle.userId === me.userId && ctx.now() - own.at < OWN_BUNDLE_FRESH_MS ? own.bundle : null;
      const [remaining, bundle] = await Promise.all([api.prekeyCount(), recent ?? api.fetchBundle(me.userId)]);
      const served = bundle.devices.find((d) => d.deviceId === me.deviceId)?.signedPrekey.keyId;
      const stale = plan.rotated || served !== plan.current.keyId;
      if (remaining >= PREKEY_LOW_WATER && !stale) return;
      // The upload carries at least one one-time prekey (its schema requires one).
      const count = Math.max(1, remaining < PREKEY_LOW_WATER ? PREKEY_TARGET - remaining : 1);
      const fresh = await ctx.serial(() => ctx.crypto.generatePrekeys(count));
      await api.uploadPrekeys({ oneTimePrekeys: fresh, ...(stale ? { signedPrekey: plan.current } : {}) });
    } catch {
      // Retried on the next connect or check; sessions still start with the signed prekey alone (X3DH §3.3).
    } finally {
      if (ctx.api === api) this.timer = ctx.deps.clock.setTimeout(() => ctx.background(() => this.run()), next);
    }
  }

  /** Signed out or disconnected: no more checks until the next connect. */
  stop(): void {
    this.ctx.deps.clock.clearTimeout(this.timer);
    this.timer = null;
  }
}

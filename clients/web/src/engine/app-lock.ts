import { describe } from '../core/send-policy.js';
import type { EngineContext } from './context.js';

/** Opens a store locked with a passphrase; false (with a notice) when it did not open. */
export async function openLocked(ctx: EngineContext, passphrase: string): Promise<boolean> {
  if (!ctx.deps.unlockHistory) return false;
  ctx.store.update({ busy: true, notice: null });
  try {
    ctx.history = await ctx.deps.unlockHistory(passphrase);
    ctx.store.update({ busy: false });
    return true;
  } catch (e) {
    ctx.store.update({
      busy: false,
      notice: e instanceof Error && e.name === 'WrongPassphraseError' ? 'Wrong passphrase.' : describe(e),
    });
    return false;
  }
}

/** Re-encrypts the store (app lock set or removed) behind the ratchet queue; a failure becomes a notice. */
export async function reencrypt(ctx: EngineContext, fn: () => Promise<void>): Promise<void> {
  ctx.store.update({ busy: true, notice: null });
  try {
    await ctx.serial(fn);
    ctx.store.update({ appLock: ctx.history.hasLock });
  } catch (e) {
    ctx.store.update({ notice: describe(e) });
  } finally {
    ctx.store.update({ busy: false });
  }
}

import type { Session, UserBundle } from '@hush/protocol';
import type { BackupDeps } from './backup-ports.js';
import type { GroupCryptoPort } from './group-ports.js';
import type { Clock, CryptoPort, HistoryPort, Link, ServerApi } from './ports.js';
import { initialState, StateStore } from './store.js';
import type { AppState } from './types.js';

export interface EngineDeps {
  /** null when the store is locked with a passphrase (unlockHistory opens it). */
  history: HistoryPort | null;
  unlockHistory?: (passphrase: string) => Promise<HistoryPort>;
  /** Opens a fresh, empty history after sign-out wiped the old one. */
  reopenHistory: () => Promise<HistoryPort>;
  crypto: CryptoPort;
  /** MLS state for group chats (engine/groups.ts); without it group deliveries are acked and dropped. */
  groupCrypto?: GroupCryptoPort;
  /** Makes the server API; `onSession` persists rotated tokens. */
  server: (session: Session | null, onSession: (s: Session | null) => void) => ServerApi;
  clock: Clock;
  deviceName?: string;
  /** Whether the user can see the page (read receipts are sent only then). */
  isVisible?: () => boolean;
  /** Encrypted backup (engine/backup.ts); without it the engine has no backup. */
  backup?: BackupDeps;
  /** Reloads the page (locking drops the app lock's key from memory). */
  reload?: () => void;
  /** Erases the whole local store without opening it (a forgotten app-lock passphrase). */
  eraseStore?: () => Promise<HistoryPort>;
}

/**
 * What the engine's parts share: the state the views read, the open history, the server API and
 * socket of the signed-in session, one queue for everything that touches ratchet state (so sends
 * and receives never interleave on a session), and a record of background work.
 */
export class EngineContext {
  readonly store = new StateStore(initialState());
  /** Until unlocked nothing touches the history (boot stops at the lock screen). */
  history: HistoryPort;
  api: ServerApi | null = null;
  link: Link | null = null;
  /** Our own published bundle as last fetched (engine/keys.ts), so the prekey check need not fetch it again. */
  ownBundle: { at: number; bundle: UserBundle } | null = null;
  /** Told of every stored message that has an expiry, so the sweep wakes in time (engine/expiry.ts). */
  expiryHook: ((at: number) => void) | null = null;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly tasks = new Set<Promise<unknown>>();

  constructor(readonly deps: EngineDeps) {
    this.history = deps.history as HistoryPort;
  }

  get state(): AppState {
    return this.store.state;
  }
  get crypto(): CryptoPort {
    return this.deps.crypto;
  }
  now(): number {
    return this.deps.clock.now();
  }

  serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.queue.then(fn, fn);
    this.queue = p.catch(() => undefined);
    return p;
  }

  /** Runs work nobody awaits (a presence refresh, a receipt); idle() waits for it. */
  background(work: () => Promise<unknown>): void {
    const p = work().catch((e: unknown) => console.warn('hush: background work failed', e));
    this.tasks.add(p);
    void p.finally(() => this.tasks.delete(p));
  }

  private readonly coalesced = new Set<string>();

  /**
   * Runs `work` once, in the background, after the ratchet work queued right now (a burst's
   * deliveries); calls with the same key meanwhile join that run. One receipt then answers a
   * whole burst instead of one receipt (one encryption, one frame) per message.
   */
  coalesce(key: string, work: () => Promise<unknown>): void {
    if (this.coalesced.has(key)) return;
    this.coalesced.add(key);
    this.background(async () => {
      try {
        await this.serial(async () => undefined);
      } finally {
        this.coalesced.delete(key);
      }
      await work();
    });
  }

  /** Resolves once no background work and no queued ratchet work is left (re-keying waits on it; so do tests). */
  async idle(): Promise<void> {
    for (;;) {
      const q = this.queue;
      await Promise.allSettled([...this.tasks, q]);
      if (this.tasks.size === 0 && q === this.queue) return;
    }
  }
}

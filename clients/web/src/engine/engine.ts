import { EngineContext, type EngineDeps } from './context.js';
import { Conversations } from './conversations.js';
import { History } from './history.js';
import { Inbox } from './inbox.js';
import { PeerKeys } from './keys.js';
import { Outbox } from './outbox.js';
import { Retries } from './retries.js';
import { SessionLifecycle } from './session.js';
import { Signals } from './signals.js';
import type { StateStore } from './store.js';
import type { Actions, AppState, SafetyInfo } from './types.js';
import { Verification } from './verification.js';

export type { EngineDeps } from './context.js';
export { PREKEY_LOW_WATER, PREKEY_TARGET } from './session.js';
export { TYPING_IDLE_MS, TYPING_REFRESH_MS, TYPING_SHOW_MS } from './signals.js';

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

  constructor(deps: EngineDeps) {
    const ctx = new EngineContext(deps);
    const history = new History(ctx);
    const keys = new PeerKeys(ctx, history);
    const signals = new Signals(ctx, history, keys);
    const conversations = new Conversations(ctx, history, keys, signals);
    const outbox = new Outbox(ctx, history, keys);
    const inbox = new Inbox(ctx, history, conversations, signals, new Retries(ctx, history));
    this.session = new SessionLifecycle(ctx, history, {
      deliver: (f) => inbox.deliver(f),
      online: async () => {
        conversations.onOnline();
        await outbox.flush();
        await conversations.flushReads();
      },
      reset: () => {
        conversations.reset();
        signals.reset();
        inbox.reset();
      },
    });
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
  /** Sends what waits in the outbox (it also runs by itself on every reconnect). */
  flushOutbox(): Promise<void> {
    return this.outbox.flush();
  }
  /** The page became visible or hidden: read receipts go only for what the user can see. */
  visibilityChanged(): void {
    this.conversations.visibilityChanged();
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
  }
  send(peer: string, text: string): Promise<void> {
    return this.outbox.send(peer, text);
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

  setShowWire(on: boolean): void {
    this.ctx.store.update({ showWire: on });
  }
  clearNotice(): void {
    this.ctx.store.update({ notice: null });
  }
}

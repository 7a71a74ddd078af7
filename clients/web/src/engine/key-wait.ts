import { encryptionStatus } from '../core/model.js';
import { keyWaitDelay } from '../core/send-policy.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { PeerKeys } from './keys.js';

/**
 * A chat opened moments after the contact registered finds no keys yet (KEYS_NOT_FOUND). While
 * that chat is open, this looks again on the injected clock with a backoff (core/send-policy.ts
 * KEY_WAIT_MS) until their keys verify; the chat then turns usable by itself. Closing the chat
 * or signing out stops it; opening it again starts over from the quick end.
 */
export class KeyWait {
  private peer: string | null = null;
  private timer: unknown;
  private attempt = 0;

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly keys: PeerKeys,
  ) {
    // startChat settles the conversation after the view opened it: watch for it turning "waiting".
    ctx.store.subscribe(() => {
      if (this.peer && this.timer === undefined && this.waiting(this.peer)) this.schedule();
    });
  }

  private waiting(peer: string): boolean {
    const c = this.history.conv(peer);
    return Boolean(c?.keysMissing && encryptionStatus(c) === 'red');
  }

  /** The chat on screen changed (null: none). */
  open(peer: string | null): void {
    if (peer === this.peer) return;
    this.stop();
    this.peer = peer;
    if (peer && this.waiting(peer)) this.schedule();
  }

  private schedule(): void {
    const { clock } = this.ctx.deps;
    const peer = this.peer;
    if (!peer) return;
    this.timer = clock.setTimeout(() => {
      this.ctx.background(async () => {
        if (this.peer !== peer) return;
        if (this.ctx.api && this.ctx.state.connection === 'online')
          await this.ctx.serial(() => this.keys.refreshBundle(peer)).catch(() => undefined);
        this.timer = undefined;
        if (this.peer !== peer || !this.waiting(peer)) return;
        this.attempt++;
        this.schedule();
      });
    }, keyWaitDelay(this.attempt));
  }

  stop(): void {
    if (this.timer !== undefined) this.ctx.deps.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.attempt = 0;
    this.peer = null;
  }
}

import { type Content, MAX_RECEIPT_IDS, newMessageId } from '../core/content.js';
import { sendGate } from '../core/trust.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { PeerKeys } from './keys.js';

import { TYPING_SHOW_MS, TypingSender } from './typing.js';

/**
 * Control messages: receipts and typing, encrypted like any message but neither
 * stored nor queued: one that cannot go now is simply not sent.
 */
export class Signals {
  private readonly typingSent: TypingSender;
  private readonly typingShown = new Map<string, unknown>();
  /** Delivered receipts waiting for the current burst to be stored, per peer. */
  private readonly delivered = new Map<string, Set<string>>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly keys: PeerKeys,
  ) {
    this.typingSent = new TypingSender(ctx.deps.clock, (peer, on) =>
      this.ctx.background(() => this.sendControl(peer, { v: 1, t: 'typing', on })),
    );
  }

  /** Sends a receipt or typing message now; false when it could not go. */
  async sendControl(peer: string, content: Content): Promise<boolean> {
    const link = this.ctx.link;
    if (this.ctx.state.connection !== 'online' || !link) return false;
    const c = this.history.conv(peer);
    // Receipts and typing wait on the trust policy like messages do (nothing is sent while held).
    if (!c || sendGate(c) === 'cannot-encrypt' || sendGate(c) === 'awaiting-user') return false;
    try {
      const built = await this.ctx.serial(() => this.keys.buildFrame(peer, newMessageId(), content));
      if (!('frame' in built)) return false;
      await link.send(built.frame);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * A "delivered" receipt for a message we stored, batched: the ids of everything received in the
   * same burst go in one receipt (chunks of MAX_RECEIPT_IDS), sent once the queued deliveries are
   * handled. Best effort, as before: one that cannot go now is not sent again.
   */
  deliveredReceipt(peer: string, id: string): void {
    const set = this.delivered.get(peer) ?? new Set<string>();
    set.add(id);
    this.delivered.set(peer, set);
    this.ctx.coalesce('delivered', async () => {
      const batch = [...this.delivered];
      this.delivered.clear();
      for (const [p, ids] of batch)
        for (const chunk of chunks([...ids], MAX_RECEIPT_IDS))
          await this.sendControl(p, { v: 1, t: 'receipt', kind: 'delivered', ids: chunk });
    });
  }

  /** Our typing state for a peer (the composer calls this on each change). */
  typing(peer: string, on: boolean): void {
    this.typingSent.input(peer, on);
  }

  /** A message to the peer went out: that ends our "typing" there (without a message of its own). */
  messageSent(peer: string): void {
    this.typingSent.sent(peer);
  }

  /** The peer's typing state as their messages say (lapses by itself after TYPING_SHOW_MS). */
  showTyping(peer: string, on: boolean): void {
    const { clock } = this.ctx.deps;
    const prev = this.typingShown.get(peer);
    if (prev !== undefined) clock.clearTimeout(prev);
    this.typingShown.delete(peer);
    if (on)
      this.typingShown.set(
        peer,
        clock.setTimeout(() => this.showTyping(peer, false), TYPING_SHOW_MS),
      );
    if (Boolean(this.ctx.state.typing[peer]) !== on)
      this.ctx.store.update((s) => ({ typing: { ...s.typing, [peer]: on } }));
  }

  /** Forgets every timer (sign-out). */
  reset(): void {
    const { clock } = this.ctx.deps;
    this.typingSent.reset();
    for (const t of this.typingShown.values()) clock.clearTimeout(t);
    this.typingShown.clear();
    this.delivered.clear();
  }
}

export function chunks<T>(xs: readonly T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

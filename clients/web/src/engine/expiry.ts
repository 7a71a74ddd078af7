import { PURGE_MAX_MAILBOXES } from '@hush/protocol';
import { dueForDeletion, nextExpiry } from '../core/message-ops.js';
import type { ChatMessage } from '../core/model.js';
import type { EngineContext } from './context.js';
import type { MessageOps, Thread } from './message-ops.js';

/**
 * Disappearing messages (libs/crypto/PROTOCOL.md §13.4): every stored message with an expiry is
 * deleted from this device when its time comes: its record (HistoryPort.deleteMessage, the one
 * delete path), its kept attachment, and then the list row's preview. Expiry times are stored
 * with the messages, so a reload loses nothing: the sweep runs when the history opens and then on
 * one timer set for the earliest expiry (the injected clock, so tests run on fake time).
 */
const MAX_WAIT_MS = 24 * 3600 * 1000;
const GROUP_PREFIX = 'g:';

interface Address {
  user: string;
  device: string;
}

export class Expiry {
  private timer: unknown = null;
  private at: number | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private readonly threads: () => Thread[],
    private readonly ops: MessageOps,
    /** A group's member devices but this one: where the gateway's fan-out put our message. */
    private readonly groupTargets: (groupId: string) => Promise<Address[]> = async () => [],
  ) {
    ctx.expiryHook = (at) => this.wake(at);
  }

  /** A message with this expiry was stored: make sure the sweep runs by then. */
  wake(at: number): void {
    if (this.at !== null && this.at <= at) return;
    const { clock } = this.ctx.deps;
    if (this.timer !== null) clock.clearTimeout(this.timer);
    this.at = at;
    this.timer = clock.setTimeout(
      () => {
        this.timer = null;
        this.at = null;
        this.ctx.background(() => this.sweep());
      },
      // Browsers run a timer longer than 2^31-1 ms at once: wake at least daily and look again.
      Math.min(Math.max(0, at - this.ctx.now()), MAX_WAIT_MS),
    );
  }

  /** Deletes everything due now, then sets the timer for the next one. */
  async sweep(): Promise<void> {
    const now = this.ctx.now();
    let next: number | null = null;
    for (const th of this.threads()) {
      const due = dueForDeletion(th.messages(), now);
      for (const m of due) {
        await th.remove(m.id);
        if (m.file) await this.ctx.history.deleteAttachment(m.file.id);
        if (m.ttl) this.purge(m);
      }
      if (due.length > 0) await this.ops.refreshPreview(th);
      const n = nextExpiry(th.messages());
      if (n !== null && (next === null || n < next)) next = n;
    }
    if (next !== null) this.wake(next);
  }

  /**
   * Our expired message: its envelopes not yet fetched by the devices it went to are deleted from
   * the server too (the gateway keeps undelivered envelopes for the mailbox's age otherwise:
   * libs/crypto/PROTOCOL.md §13.4). Best effort while online: the devices that fetched it already
   * acked it away. A group message went through the gateway's fan-out to every member device (the
   * same Nats-Msg-Id per device): those are named from the group's members as they are now.
   */
  private purge(m: ChatMessage): void {
    const api = this.ctx.api;
    if (m.dir !== 'out' || m.wire?.kind !== 'sent' || !api?.purgeMessage) return;
    const named = m.wire.frame.envelopes.map((e) => e.to).filter((t) => t.device !== '*');
    const group = m.conv.startsWith(GROUP_PREFIX) ? m.conv.slice(GROUP_PREFIX.length) : null;
    this.ctx.background(async () => {
      const to = group ? await this.groupTargets(group) : named;
      // The route takes at most PURGE_MAX_MAILBOXES mailboxes per call.
      for (let i = 0; i < to.length; i += PURGE_MAX_MAILBOXES)
        await api.purgeMessage!(m.id, to.slice(i, i + PURGE_MAX_MAILBOXES)).catch(() => undefined);
    });
  }

  reset(): void {
    if (this.timer !== null) this.ctx.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    this.at = null;
  }
}

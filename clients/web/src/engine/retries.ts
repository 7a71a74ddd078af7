import type { DeliverFrame } from '@hush/protocol';
import { encodeContent, newMessageId } from '../core/content.js';
import type { ChatMessage } from '../core/model.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import { textContent } from './outgoing.js';
import type { DeviceAddress } from './ports.js';

/**
 * Retry requests (libs/crypto PROTOCOL.md §5.3, as WhatsApp's retry receipts): an envelope this
 * device cannot decrypt is asked for again instead of only being dropped, and a request from a
 * device that could not decrypt ours is answered by encrypting the message again over a fresh
 * session. Both run inside the context's serial queue (they touch ratchet state); frames leave in
 * the background.
 */
export class Retries {
  /** Requests sent per (envelope id, sender device). */
  private readonly asked = new Map<string, number>();
  /** Requests answered, per (message id, requesting device, attempt): a redelivered request is answered once. */
  private readonly answered = new Set<string>();

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
  ) {}

  /** Asks the sender of an envelope we could not decrypt to send it again (at most RETRY_ATTEMPTS times). */
  async ask(f: DeliverFrame): Promise<void> {
    const from: DeviceAddress = { user: f.from.user, device: f.from.device };
    // An answer that failed too counts against the message it answers, so a device that can never
    // decrypt stops after RETRY_ATTEMPTS instead of looping.
    const id = originalId(f.id);
    const k = `${id}@${from.user}/${from.device}`;
    const attempt = (this.asked.get(k) ?? 0) + 1;
    if (attempt > RETRY_ATTEMPTS) return;
    this.asked.set(k, attempt);
    const body = await this.ctx.crypto.retryRequest(from, id, attempt, this.ctx.now());
    this.send(from, newMessageId(), body);
  }

  /** True when an envelope refused as a duplicate is not one we stored: its sender reused a key (rolled back). */
  unseen(f: DeliverFrame): boolean {
    return !this.findOwnOrReceived(f.id);
  }

  /** A retry request arrived: encrypt that message again for the device that asked. */
  async answer(f: DeliverFrame, ask: { messageId: string; attempt: number }): Promise<void> {
    const to: DeviceAddress = { user: f.from.user, device: f.from.device };
    const k = `${ask.messageId}@${to.user}/${to.device}#${ask.attempt}`;
    if (this.answered.has(k)) return;
    this.answered.add(k);
    const m = this.findOwnOrReceived(ask.messageId);
    // Only our own text messages are kept to send again; receipts and typing are not worth it.
    if (m?.dir !== 'out') return;
    const body = await this.ctx.crypto.encryptRetry(to, encodeContent(textContent(m)));
    this.send(to, answerId(ask.messageId, ask.attempt), body);
  }

  private send(to: DeviceAddress, id: string, body: string): void {
    const link = this.ctx.link;
    if (!link) return;
    this.ctx.background(() => link.send({ type: 'send', id, envelopes: [{ to, body }] }));
  }

  private findOwnOrReceived(id: string): ChatMessage | undefined {
    for (const c of this.ctx.state.conversations) {
      const m = this.history.findMessage(c.peer, id);
      if (m) return m;
    }
    return undefined;
  }
}

/** Requests per message before it is given up on (the library's MAX_RETRY_ATTEMPTS). */
export const RETRY_ATTEMPTS = 5;

/**
 * The answer to attempt n for message m travels as frame `m-rn`: the gateway dedupes per (frame id,
 * device), so it must differ from the original, and the receiver maps a failed answer back to m.
 * The receiver shows it once whatever the frame id (it dedupes by the content's own id).
 */
export const answerId = (messageId: string, attempt: number) =>
  `${messageId}-r${attempt}`.length <= 64 ? `${messageId}-r${attempt}` : newMessageId();
/** The message an envelope carries: its frame id, or for an answer `m-rn`, m. */
export const originalId = (frameId: string) => frameId.replace(/-r\d+$/, '');

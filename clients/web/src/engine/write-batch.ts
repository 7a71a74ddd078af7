import type { ChatMessage, Conversation } from '../core/model.js';

type Write = (messages: ChatMessage[], conversations: Conversation[]) => Promise<void>;

/**
 * Coalesces history writes: one write at a time goes to disk, and everything asked for while it
 * runs goes together in the next one (one IndexedDB transaction, one flush). A burst of 200
 * messages with their ticks and receipts costs a handful of flushes instead of a thousand.
 * Each caller's promise settles when the write that carried its records is durable, or rejects
 * with that write's error (nothing of it is then shown: "written first, shown after").
 * Later versions of the same record in one batch replace earlier ones (they are newer).
 */
export class WriteBatch {
  private messages = new Map<string, ChatMessage>();
  private conversations = new Map<string, Conversation>();
  private waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  private running = false;

  constructor(private readonly put: Write) {}

  write(messages: readonly ChatMessage[], conversations: readonly Conversation[]): Promise<void> {
    for (const m of messages) this.messages.set(`${m.conv}\u0000${m.id}`, m);
    for (const c of conversations) this.conversations.set(c.peer, c);
    const p = new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
    if (!this.running) void this.run();
    return p;
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      while (this.waiters.length > 0) {
        const ms = [...this.messages.values()];
        const cs = [...this.conversations.values()];
        const waiters = this.waiters;
        this.messages = new Map();
        this.conversations = new Map();
        this.waiters = [];
        try {
          await this.put(ms, cs);
          for (const w of waiters) w.resolve();
        } catch (e) {
          for (const w of waiters) w.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }
}

import type { Clock } from './ports.js';

/** Re-send "typing" at most this often while the user keeps typing, and stop after this idle time. */
export const TYPING_REFRESH_MS = 3_000;
export const TYPING_IDLE_MS = 5_000;
/** A peer's "typing" lapses after this long without a refresh (their stop message may be lost). */
export const TYPING_SHOW_MS = 7_000;
/**
 * "Typing" is announced only once the composer has held text this long. A message typed and sent
 * within it (a quick "ok", a paste, a burst) costs no typing messages at all: before this delay a
 * burst of 200 messages sent 400 encrypted typing messages besides them, each through the same
 * ratchet queue as the messages (docs/BENCHMARKS.md, web client burst).
 */
export const TYPING_START_MS = 400;

interface State {
  on: boolean;
  at: number;
  start?: unknown;
  idle?: unknown;
}

/**
 * When to tell a conversation "typing on/off", for 1:1 chats and groups alike. Sending a message
 * ends "typing" without a message of its own: the receiver stops showing the indicator when the
 * message arrives (engine/inbox.ts, engine/group-inbox.ts).
 */
export class TypingSender {
  private readonly st = new Map<string, State>();

  constructor(
    private readonly clock: Clock,
    private readonly emit: (key: string, on: boolean) => void,
  ) {}

  /** The composer changed: it now holds text (`hasText`) or was emptied. */
  input(key: string, hasText: boolean): void {
    const s = this.st.get(key) ?? { on: false, at: 0 };
    this.st.set(key, s);
    if (!hasText) {
      this.stop(key, s, true);
      return;
    }
    if (s.idle !== undefined) this.clock.clearTimeout(s.idle);
    s.idle = this.clock.setTimeout(() => this.stop(key, s, true), TYPING_IDLE_MS);
    if (s.on) {
      if (this.clock.now() - s.at >= TYPING_REFRESH_MS) this.announce(key, s);
    } else if (s.start === undefined) {
      s.start = this.clock.setTimeout(() => {
        s.start = undefined;
        this.announce(key, s);
      }, TYPING_START_MS);
    }
  }

  /** A message went out: typing has ended, and the message itself tells the receiver so. */
  sent(key: string): void {
    const s = this.st.get(key);
    if (s) this.stop(key, s, false);
  }

  /** Forgets every timer (sign-out). */
  reset(): void {
    for (const s of this.st.values()) this.clear(s);
    this.st.clear();
  }

  private announce(key: string, s: State): void {
    s.on = true;
    s.at = this.clock.now();
    this.emit(key, true);
  }

  private stop(key: string, s: State, tell: boolean): void {
    this.clear(s);
    if (s.on && tell) this.emit(key, false);
    s.on = false;
  }

  private clear(s: State): void {
    if (s.start !== undefined) this.clock.clearTimeout(s.start);
    if (s.idle !== undefined) this.clock.clearTimeout(s.idle);
    s.start = undefined;
    s.idle = undefined;
  }
}

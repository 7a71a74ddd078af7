/** Consumer notifications of one mailbox, read by one reader (`status()`), ended by `close()`. */
export class StatusQueue implements AsyncIterable<{ type: string }>, AsyncIterator<{ type: string }> {
  private readonly waiters: ((v: IteratorResult<{ type: string }>) => void)[] = [];
  private readonly queue: { type: string }[] = [];
  private ended = false;

  push(s: { type: string }): void {
    const w = this.waiters.shift();
    if (w) w({ value: s, done: false });
    else this.queue.push(s);
  }

  end(): void {
    this.ended = true;
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
  }

  /** Its own iterator (one reader): no iterator object and closure per mailbox. */
  [Symbol.asyncIterator](): AsyncIterator<{ type: string }> {
    return this;
  }

  next(): Promise<IteratorResult<{ type: string }>> {
    const s = this.queue.shift();
    if (s) return Promise.resolve({ value: s, done: false });
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((r) => this.waiters.push(r));
  }
}

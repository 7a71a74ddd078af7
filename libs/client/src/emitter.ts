/** A tiny typed event emitter (no Node `events`, so the browser bundle needs nothing extra). */
export class Emitter<E extends object> {
  private readonly handlers = new Map<keyof E, Set<(v: never) => void>>();

  on<K extends keyof E>(event: K, fn: (v: E[K]) => void): () => void {
    let set = this.handlers.get(event);
    if (!set) {
      set = new Set();
      this.handlers.set(event, set);
    }
    set.add(fn as (v: never) => void);
    return () => set.delete(fn as (v: never) => void);
  }

  protected emit<K extends keyof E>(event: K, value: E[K]): void {
    for (const fn of this.handlers.get(event) ?? []) {
      try {
        (fn as (v: E[K]) => void)(value);
      } catch {
        /* a listener's failure must not break the connection */
      }
    }
  }
}

/**
 * Counts by code, for metrics: error frames the gateway answered (by catalogued code) and
 * WebSocket protocol violations by clients (by the ws library's WS_ERR_* code). Clients cause
 * these at will, so they are counted, not logged as server errors; a metrics registry exports
 * `snapshot()`.
 */
export class CodeCounter {
  private readonly counts = new Map<string, number>();

  add(code: string): void {
    this.counts.set(code, (this.counts.get(code) ?? 0) + 1);
  }

  get(code: string): number {
    return this.counts.get(code) ?? 0;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries(this.counts);
  }
}

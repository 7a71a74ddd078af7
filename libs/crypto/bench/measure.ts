/** Tiny benchmark harness (isomorphic: used in Node and in the browser page). */
export interface Result {
  op: string;
  opsPerSec: number;
  /** Median microseconds per op. */
  usPerOp: number;
}

export type Op = () => Promise<unknown>;

export async function batch(fn: Op, ms: number): Promise<number> {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    await fn();
    n++;
    t = performance.now();
  }
  return (n * 1000) / (t - t0);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Runs each contender's `fn` in `batches` batches of about `batchMs`, interleaved (A, B, A, B, ...)
 * so that background load hits all contenders alike, after a warm-up; reports each one's median rate.
 */
export async function measureInterleaved(
  op: string,
  fns: Op[],
  opts: { batches?: number; batchMs?: number; warmup?: number } = {},
): Promise<Result[]> {
  const batches = opts.batches ?? 7;
  const batchMs = opts.batchMs ?? 250;
  for (const fn of fns) for (let i = 0; i < (opts.warmup ?? 20); i++) await fn();
  const rates: number[][] = fns.map(() => []);
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < fns.length; i++) rates[i]!.push(await batch(fns[i]!, batchMs));
  }
  return rates.map((r) => ({ op, opsPerSec: median(r), usPerOp: 1e6 / median(r) }));
}

export async function measure(op: string, fn: Op, opts: { batches?: number; batchMs?: number; warmup?: number } = {}) {
  return (await measureInterleaved(op, [fn], opts))[0]!;
}

/**
 * Runs in Chromium: the same operations as bench.ts on @hush/crypto. Node drives it one batch at a
 * time (window.__hushBench), interleaving with libsignal batches in Node.
 */
import { createPrimitives } from '../src/index.js';
import { sha512Engine } from '../src/sha512.js';
import { batch } from './measure.js';
import { type BenchOp, oursOps } from './ours.js';

export interface BrowserBenchApi {
  init(): Promise<{ primitives: string; sha512: string; ops: string[] }>;
  prepare(i: number): Promise<void>;
  batch(i: number, ms: number): Promise<number>;
}

declare global {
  interface Window {
    __hushBench?: BrowserBenchApi;
  }
}

let ops: BenchOp[] = [];
window.__hushBench = {
  async init() {
    const prims = await createPrimitives();
    ops = await oursOps(prims, { prekeys: 800 });
    return { primitives: prims.name, sha512: sha512Engine(), ops: ops.map((o) => o.op) };
  },
  async prepare(i) {
    const op = ops[i]!;
    await op.prepare?.();
    for (let k = 0; k < (op.warmup ?? 20); k++) await op.run();
  },
  batch: (i, ms) => batch(ops[i]!.run, ms),
};

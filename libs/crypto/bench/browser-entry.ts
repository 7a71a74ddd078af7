/** Runs in Chromium: the same operations as bench.ts on @hush/crypto, results on window.__bench. */
import { createPrimitives } from '../src/index.js';
import { sha512Engine } from '../src/sha512.js';
import { measure, type Result } from './measure.js';
import { oursOps } from './ours.js';

declare global {
  interface Window {
    __bench?: { done: boolean; primitives?: string; sha512?: string; results: Result[]; error?: string };
  }
}

async function main() {
  const state: NonNullable<Window['__bench']> = { done: false, results: [] };
  window.__bench = state;
  try {
    const batchMs = Number(new URLSearchParams(location.search).get('batchMs') ?? 250);
    const prims = await createPrimitives();
    state.primitives = prims.name;
    state.sha512 = sha512Engine();
    for (const op of await oursOps(prims, { prekeys: 600 })) {
      await op.prepare?.();
      state.results.push(await measure(op.op, op.run, { batchMs, warmup: op.warmup ?? 20 }));
    }
  } catch (e) {
    state.error = String((e as Error)?.stack ?? e);
  }
  state.done = true;
}
void main();

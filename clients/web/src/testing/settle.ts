import type { Engine } from '../engine/engine.js';

/**
 * Runs every engine until nothing moves: each round waits for their queued and background work,
 * then lets the fake hub's deliveries (microtasks) land; done when a whole round changed no state.
 * Event-driven: no wall-clock waits.
 */
export async function settle(...engines: Engine[]): Promise<void> {
  for (let round = 0; round < 200; round++) {
    const before = engines.map((e) => e.state);
    await Promise.all(engines.map((e) => e.idle()));
    await new Promise((r) => setImmediate(r));
    await Promise.all(engines.map((e) => e.idle()));
    if (engines.every((e, i) => e.state === before[i])) return;
  }
  throw new Error('the engines never settled');
}

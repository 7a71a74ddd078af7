import { describe, expect, it } from 'vitest';
import { TurnBatch } from './turn-batch.js';

const nextTurn = () => new Promise((r) => setImmediate(r));

describe('TurnBatch', () => {
  it('does the work of one turn together, in order, after the turn and its microtasks', async () => {
    const done: number[] = [];
    const b = new TurnBatch<number>((n) => done.push(n));
    b.add(1);
    await Promise.resolve();
    b.add(2);
    queueMicrotask(() => b.add(3));
    await Promise.resolve();
    expect(done).toEqual([]);
    expect(b.size).toBe(3);
    await nextTurn();
    expect(done).toEqual([1, 2, 3]);
    b.add(4);
    await nextTurn();
    expect(done).toEqual([1, 2, 3, 4]);
  });

  it('reports an item that throws and still does the others', async () => {
    const done: number[] = [];
    const errors: unknown[] = [];
    const b = new TurnBatch<number>(
      (n) => {
        if (n === 2) throw new Error('boom');
        done.push(n);
      },
      (e) => errors.push(e),
    );
    for (const n of [1, 2, 3]) b.add(n);
    await nextTurn();
    expect(done).toEqual([1, 3]);
    expect(errors).toHaveLength(1);
  });

  it('flush does what is queued at once (shutdown), and nothing twice', async () => {
    const done: number[] = [];
    const b = new TurnBatch<number>((n) => done.push(n));
    b.add(1);
    b.flush();
    expect(done).toEqual([1]);
    await nextTurn();
    expect(done).toEqual([1]);
  });
});

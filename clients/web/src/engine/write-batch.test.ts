import { describe, expect, it } from 'vitest';
import type { ChatMessage, Conversation } from '../core/model.js';
import { newConversation } from '../core/model.js';
import { WriteBatch } from './write-batch.js';

const msg = (id: string, text = id): ChatMessage => ({
  id,
  conv: 'bob',
  dir: 'out',
  text,
  sentAt: 1,
  ts: null,
  tick: 'pending',
  wire: null,
});

describe('WriteBatch', () => {
  it('puts writes that arrive while one is on its way into one next write, newest version of a record last', async () => {
    const writes: { ms: string[]; cs: string[] }[] = [];
    let release!: () => void;
    const first = new Promise<void>((r) => {
      release = r;
    });
    const b = new WriteBatch(async (ms, cs) => {
      writes.push({ ms: ms.map((m) => m.text), cs: cs.map((c) => c.peer) });
      if (writes.length === 1) await first;
    });
    const a = b.write([msg('a')], []);
    const rest = [
      b.write([msg('b')], []),
      b.write([msg('c')], [newConversation('bob', 'bob', 1)]),
      b.write([msg('b', 'b2')], []),
    ];
    release();
    await Promise.all([a, ...rest]);
    expect(writes).toEqual([
      { ms: ['a'], cs: [] },
      { ms: ['b2', 'c'], cs: ['bob'] },
    ]);
  });

  it('rejects every writer of a failed write and keeps going with the next', async () => {
    let n = 0;
    const b = new WriteBatch(async () => {
      if (++n === 1) throw new DOMException('full', 'QuotaExceededError');
    });
    await expect(b.write([msg('a')], [] as Conversation[])).rejects.toThrow('full');
    await expect(b.write([msg('b')], [])).resolves.toBeUndefined();
  });
});

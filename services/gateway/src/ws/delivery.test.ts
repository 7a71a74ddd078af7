import type { StoredEnvelope } from '@hush/protocol';
import { describe, expect, it } from 'vitest';
import { deliverText } from './delivery.js';

const enc = (s: string) => new TextEncoder().encode(s);
const msg = (seq: number, text: string) => ({
  seq,
  data: enc(text),
  json: <T>() => JSON.parse(text) as T,
});

describe('deliverText', () => {
  const env: StoredEnvelope = { id: 'm-1', from: { user: 'u1', device: 'd1' }, ts: 1_700_000_000_000, body: 'QUJD' };

  it('turns an envelope the gateway stored into the deliver frame by copying it behind type and seq', () => {
    const text = deliverText(msg(42, JSON.stringify(env)));
    expect(JSON.parse(String(text))).toEqual({ type: 'deliver', seq: 42, ...env });
    // Byte for byte what serializing the frame gives: clients see no difference.
    expect(String(text)).toBe(JSON.stringify({ type: 'deliver', seq: 42, ...env }));
  });

  it('keeps a group tag and non-ASCII bytes intact', () => {
    const g: StoredEnvelope = { ...env, id: 'é-✓', group: { id: 'g1', kind: 'commit' } };
    const text = deliverText(msg(7, JSON.stringify(g)));
    expect(JSON.parse(Buffer.from(text!).toString('utf8'))).toEqual({ type: 'deliver', seq: 7, ...g });
  });

  it('rebuilds an envelope in another field order from its known fields only', () => {
    const other = JSON.stringify({ from: env.from, extra: 'dropped', id: env.id, ts: env.ts, body: env.body });
    expect(JSON.parse(String(deliverText(msg(3, other))))).toEqual({ type: 'deliver', seq: 3, ...env });
  });

  it('refuses what is not an envelope', () => {
    for (const bad of ['', 'not json', '{"id":"x"', '[]', 'null', '{"body":1,"id":"x"}', '{"body":"x"}']) {
      expect(deliverText(msg(1, bad)), bad).toBeUndefined();
    }
  });
});

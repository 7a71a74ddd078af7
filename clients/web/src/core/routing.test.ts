import { describe, expect, it } from 'vitest';
import type { Content } from './content.js';
import { routeContent } from './routing.js';

const ME = 'me00000001';
const PEER = 'peer000001';
const OTHER = 'other00001';
const text = (to: string): Content => ({ v: 1, t: 'text', id: 'abcdefgh1', to, text: 'hi', sentAt: 1 });

describe('inbound content routing', () => {
  it('files a peer’s text under the sender', () => {
    expect(routeContent(ME, PEER, text(ME))).toMatchObject({ kind: 'text', peer: PEER, fromMe: false });
  });
  it('files a copy from our own other device under its recipient', () => {
    expect(routeContent(ME, ME, text(OTHER))).toMatchObject({ kind: 'text', peer: OTHER, fromMe: true });
  });
  it('applies a peer’s receipts and typing to the conversation with them', () => {
    expect(routeContent(ME, PEER, { v: 1, t: 'receipt', kind: 'read', ids: ['abcdefgh1'] })).toEqual({
      kind: 'receipt',
      peer: PEER,
      receipt: 'read',
      ids: ['abcdefgh1'],
    });
    expect(routeContent(ME, PEER, { v: 1, t: 'typing', on: true })).toEqual({ kind: 'typing', peer: PEER, on: true });
  });
  it('ignores receipts and typing from our own devices', () => {
    expect(routeContent(ME, ME, { v: 1, t: 'typing', on: true })).toEqual({ kind: 'ignore' });
    expect(routeContent(ME, ME, { v: 1, t: 'receipt', kind: 'delivered', ids: ['abcdefgh1'] })).toEqual({
      kind: 'ignore',
    });
  });
});

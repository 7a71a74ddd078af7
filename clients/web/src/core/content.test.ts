import { describe, expect, it } from 'vitest';
import { type Content, ContentError, decodeContent, encodeContent, newMessageId } from './content.js';

const enc = new TextEncoder();

describe('message content', () => {
  it('round-trips text, receipts and typing', () => {
    const id = newMessageId();
    const all: Content[] = [
      { v: 1, t: 'text', id, to: 'abcdefghij12', text: '<img src=x onerror=alert(1)>', sentAt: 5 },
      { v: 1, t: 'receipt', kind: 'read', ids: [id] },
      { v: 1, t: 'typing', on: true },
    ];
    for (const c of all) {
      expect(decodeContent(encodeContent(c))).toEqual(c);
    }
  });

  it('message ids match the wire pattern', () => {
    expect(newMessageId()).toMatch(/^[A-Za-z0-9_-]{8,64}$/);
  });

  it.each([
    ['not JSON', 'hello'],
    ['another version', '{"v":2,"t":"typing","on":true}'],
    ['an unknown type', '{"v":1,"t":"html","html":"<b>"}'],
    ['an empty text', '{"v":1,"t":"text","id":"aaaaaaaa","to":"abcdefghij12","text":"","sentAt":1}'],
    ['a bad receipt id', '{"v":1,"t":"receipt","kind":"read","ids":["x"]}'],
    ['a bad receipt kind', '{"v":1,"t":"receipt","kind":"seen","ids":["aaaaaaaa"]}'],
    ['a typing flag that is not boolean', '{"v":1,"t":"typing","on":"yes"}'],
    ['an array', '[1,2]'],
  ])('refuses %s', (_name, text) => {
    expect(() => decodeContent(enc.encode(text))).toThrow(ContentError);
  });

  it('refuses bytes that are not UTF-8', () => {
    expect(() => decodeContent(new Uint8Array([0xff, 0xfe, 0x7b]))).toThrow(ContentError);
  });
});

import { describe, expect, it } from 'vitest';
import { linkify, safeHref } from './links.js';

describe('linkify', () => {
  it('makes http and https URLs links and keeps the rest as text', () => {
    expect(linkify('see https://example.org/a?b=1 now')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
      { kind: 'text', text: ' now' },
    ]);
    expect(linkify('http://x.example')).toEqual([
      { kind: 'link', text: 'http://x.example', href: 'http://x.example/' },
    ]);
  });

  it('leaves sentence punctuation and an unopened bracket outside the link', () => {
    const p = linkify('(read https://en.example/wiki/Foo_(bar)), then https://a.example/x.');
    expect(p.filter((x) => x.kind === 'link').map((x) => x.text)).toEqual([
      'https://en.example/wiki/Foo_(bar)',
      'https://a.example/x',
    ]);
    expect(p.map((x) => x.text).join('')).toBe('(read https://en.example/wiki/Foo_(bar)), then https://a.example/x.');
  });

  it('never links other schemes, bare domains or credentials in URLs', () => {
    for (const t of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<script>alert(1)</script>',
      'file:///etc/passwd',
      'example.org',
      'ftp://example.org',
      'vbscript:msgbox',
    ])
      expect(linkify(t).every((x) => x.kind === 'text')).toBe(true);
    expect(safeHref('https://user:pw@example.org/')).toBeNull();
    expect(safeHref('https://')).toBeNull();
    expect(safeHref(`https://example.org/${'a'.repeat(3000)}`)).toBeNull();
  });

  it('does not link a javascript: URL hidden after an http prefix', () => {
    const p = linkify('http://javascript:alert(1)');
    expect(p.filter((x) => x.kind === 'link').every((x) => x.href.startsWith('http://'))).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { SearchIndex, SearchIndexError, snippet, tokenize } from './search.js';

const doc = (id: string, at: number, conv = 'bobbobbob1') => ({ id, conv, at });

describe('message search index', () => {
  it('tokenizes into lower-case, accent-folded words', () => {
    expect(tokenize('Café au LAIT, café!')).toEqual(['cafe', 'au', 'lait']);
    expect(tokenize('Привет мир 42')).toEqual(['привет', 'мир', '42']);
    expect(tokenize('   ')).toEqual([]);
  });

  it('finds messages holding every word, the last as a prefix, newest first', () => {
    const idx = new SearchIndex();
    idx.add(doc('m1', 1), 'lunch at the harbour on friday');
    idx.add(doc('m2', 2), 'Harbour lights tonight');
    idx.add(doc('m3', 3), 'nothing here');
    expect(idx.search('harb').map((d) => d.id)).toEqual(['m2', 'm1']);
    expect(idx.search('friday harb').map((d) => d.id)).toEqual(['m1']);
    expect(idx.search('HARBOUR lights').map((d) => d.id)).toEqual(['m2']);
    expect(idx.search('missing harbour')).toEqual([]);
    expect(idx.search('')).toEqual([]);
  });

  it('forgets removed messages and re-indexes an edited one', () => {
    const idx = new SearchIndex();
    idx.add(doc('m1', 1), 'secret plan');
    idx.remove('m1');
    expect(idx.search('secret')).toEqual([]);
    expect(idx.size).toBe(0);
    idx.add(doc('m2', 2), 'first words');
    idx.add(doc('m2', 2), 'second words');
    expect(idx.search('first')).toEqual([]);
    expect(idx.search('second').map((d) => d.id)).toEqual(['m2']);
  });

  it('encodes and decodes to the same answers, and refuses a malformed encoding', () => {
    const idx = new SearchIndex();
    idx.add(doc('m1', 1), 'alpha beta');
    idx.add(doc('m2', 2, 'carolcarol'), 'beta gamma');
    const back = SearchIndex.decode(idx.encode());
    expect(back.search('beta')).toEqual(idx.search('beta'));
    expect(back.size).toBe(2);
    for (const bad of [
      'nope',
      '{"v":2,"docs":[]}',
      '{"v":1,"docs":[["m1","c",1]]}',
      '{"v":1,"docs":[["m1","c",1,[""]]]}',
    ])
      expect(() => SearchIndex.decode(bad)).toThrow(SearchIndexError);
  });

  it('cuts a snippet around the match and marks the whole word', () => {
    const s = snippet(`${'x '.repeat(50)}meet at the Harbour tomorrow`, 'harb', 10);
    expect(s.match).toBe('Harbour');
    expect(s.before.startsWith('…')).toBe(true);
    expect(s.after).toBe(' tomorrow');
  });
});

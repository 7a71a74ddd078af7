/**
 * A small inverted index over message text (docs/ARCHITECTURE.md, "Message search"): tokens are
 * lower-cased, accent-folded runs of letters and digits; a query matches a message holding every
 * query token, the last one as a prefix (results while typing). Pure, so it is unit-tested in Node
 * and its encoding is checked before use: the encoded index sits in the vault (encrypted at rest)
 * and never leaves the device.
 */
export const SEARCH_INDEX_VERSION = 1;
/** Words longer than this are cut (a pasted hash or URL must not bloat the index). */
export const MAX_TOKEN_CHARS = 32;
/** Results beyond this are not listed: refine the query. */
export const MAX_RESULTS = 50;

export interface SearchDoc {
  id: string;
  conv: string;
  /** Sort key: newest first. */
  at: number;
}

const WORD = /[\p{L}\p{N}]+/gu;

export function tokenize(text: string): string[] {
  const folded = text.normalize('NFKD').replace(/\p{M}/gu, '').toLocaleLowerCase();
  const out = new Set<string>();
  for (const m of folded.matchAll(WORD)) out.add(m[0].slice(0, MAX_TOKEN_CHARS));
  return [...out];
}

export class SearchIndex {
  private readonly postings = new Map<string, Set<string>>();
  private readonly docs = new Map<string, { doc: SearchDoc; tokens: string[] }>();

  get size(): number {
    return this.docs.size;
  }
  has(id: string): boolean {
    return this.docs.has(id);
  }
  ids(): IterableIterator<string> {
    return this.docs.keys();
  }

  /** Adds or replaces a message's entry (an edit re-indexes it). */
  add(doc: SearchDoc, text: string): void {
    this.addTokens(doc, tokenize(text));
  }

  private addTokens(doc: SearchDoc, tokens: string[]): void {
    this.remove(doc.id);
    if (tokens.length === 0) return;
    this.docs.set(doc.id, { doc, tokens });
    for (const t of tokens) {
      const set = this.postings.get(t) ?? new Set<string>();
      set.add(doc.id);
      this.postings.set(t, set);
    }
  }

  /** Forgets a message (deleted, or disappeared): it is no longer found. */
  remove(id: string): void {
    const e = this.docs.get(id);
    if (!e) return;
    this.docs.delete(id);
    for (const t of e.tokens) {
      const set = this.postings.get(t);
      set?.delete(id);
      if (set?.size === 0) this.postings.delete(t);
    }
  }

  /** Messages holding every token of the query (the last as a prefix), newest first. */
  search(query: string, limit = MAX_RESULTS): SearchDoc[] {
    const q = tokenize(query);
    if (q.length === 0) return [];
    const last = q.pop()!;
    // Every whole word must be there: intersect their postings.
    let hits: string[] | null = null;
    for (const t of q) {
      const p = this.postings.get(t);
      if (!p) return [];
      hits = hits === null ? [...p] : hits.filter((id) => p.has(id));
    }
    const must = hits === null ? null : new Set(hits);
    const prefixed = new Set<string>();
    for (const [t, p] of this.postings)
      if (t.startsWith(last)) for (const id of p) if (!must || must.has(id)) prefixed.add(id);
    return [...prefixed]
      .map((id) => this.docs.get(id)!.doc)
      .sort((a, b) => b.at - a.at)
      .slice(0, limit);
  }

  /** The index as a string for the vault: documents with their tokens (postings are rebuilt on load). */
  encode(): string {
    const docs = [...this.docs.values()].map(({ doc, tokens }) => [doc.id, doc.conv, doc.at, tokens]);
    return JSON.stringify({ v: SEARCH_INDEX_VERSION, docs });
  }

  /** Reads an encoded index; throws SearchIndexError on anything malformed (the caller rebuilds). */
  static decode(s: string): SearchIndex {
    let raw: unknown;
    try {
      raw = JSON.parse(s);
    } catch (e) {
      throw new SearchIndexError('not JSON', { cause: e });
    }
    const r = raw as { v?: unknown; docs?: unknown };
    if (typeof raw !== 'object' || raw === null || r.v !== SEARCH_INDEX_VERSION || !Array.isArray(r.docs))
      throw new SearchIndexError('unknown index format');
    const idx = new SearchIndex();
    for (const d of r.docs) {
      if (!Array.isArray(d) || d.length !== 4) throw new SearchIndexError('bad entry');
      const [id, conv, at, tokens] = d as unknown[];
      if (typeof id !== 'string' || typeof conv !== 'string' || typeof at !== 'number' || !Array.isArray(tokens))
        throw new SearchIndexError('bad entry');
      if (!tokens.every((t) => typeof t === 'string' && t.length > 0 && t.length <= MAX_TOKEN_CHARS))
        throw new SearchIndexError('bad token');
      idx.addTokens({ id, conv, at }, tokens as string[]);
    }
    return idx;
  }
}

export class SearchIndexError extends Error {
  override readonly name = 'SearchIndexError';
}

/**
 * The part of `text` around the first match of the query, with the match marked: the view shows
 * `before`, `match` in a <mark>, then `after`, all as text nodes.
 */
export function snippet(text: string, query: string, width = 60): { before: string; match: string; after: string } {
  const q = tokenize(query);
  const lower = text.normalize('NFKD').replace(/\p{M}/gu, '');
  // Folding can change lengths; match on the folded text only when it kept them.
  const hay = lower.length === text.length ? lower.toLocaleLowerCase() : text.toLocaleLowerCase();
  let at = -1;
  let len = 0;
  for (const t of q) {
    const i = hay.indexOf(t);
    if (i !== -1 && (at === -1 || i < at)) {
      at = i;
      len = t.length;
    }
  }
  if (at === -1) return { before: text.slice(0, width * 2), match: '', after: '' };
  // Extend a prefix match to the end of the word, as the reader sees it.
  while (at + len < text.length && /[\p{L}\p{N}]/u.test(text[at + len]!)) len++;
  const start = Math.max(0, at - width);
  const end = Math.min(text.length, at + len + width);
  return {
    before: (start > 0 ? '…' : '') + text.slice(start, at),
    match: text.slice(at, at + len),
    after: text.slice(at + len, end) + (end < text.length ? '…' : ''),
  };
}

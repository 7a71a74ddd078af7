/**
 * Splits message text into plain runs and web links (ui/RichText.tsx renders them). Only
 * `http:` and `https:` URLs written out in full become links: no `javascript:`, `data:`, `file:`
 * or other scheme, no bare domains (guessing "example.com" is how look-alike links get made).
 * The text itself is never parsed as markup; every piece stays a text node.
 */
export type TextPiece = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string };

/** A scheme, then anything up to whitespace or a character that cannot end a URL in prose. */
const URL_RE = /\bhttps?:\/\/[^\s<>"'`]+/gi;
/** Punctuation that ends a sentence rather than the URL ("see https://a.example/x."). */
const TRAILING = /[.,;:!?*'"]+$/;
/** A link longer than this stays text (no legitimate one is; it would only stretch the bubble). */
export const MAX_LINK_CHARS = 2_048;

/** Drops a closing bracket the URL did not open: "(see https://a.example/x)". */
function trimUrl(raw: string): string {
  let s = raw;
  for (;;) {
    const before = s;
    s = s.replace(TRAILING, '');
    for (const [open, close] of [
      ['(', ')'],
      ['[', ']'],
      ['{', '}'],
    ] as const) {
      if (s.endsWith(close) && s.split(open).length < s.split(close).length) s = s.slice(0, -1);
    }
    if (s === before) return s;
  }
}

/** The URL as a link target, or null when it is not a well-formed http(s) URL. */
export function safeHref(candidate: string): string | null {
  if (candidate.length > MAX_LINK_CHARS) return null;
  let u: URL;
  try {
    u = new URL(candidate);
  } catch {
    return null;
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return null;
  if (!u.hostname || u.username || u.password) return null;
  return u.href;
}

export function linkify(text: string): TextPiece[] {
  const out: TextPiece[] = [];
  let at = 0;
  const push = (t: string) => {
    if (!t) return;
    const last = out.at(-1);
    if (last?.kind === 'text') last.text += t;
    else out.push({ kind: 'text', text: t });
  };
  for (const m of text.matchAll(URL_RE)) {
    const start = m.index ?? 0;
    const url = trimUrl(m[0]);
    const href = safeHref(url);
    push(text.slice(at, start));
    if (href) out.push({ kind: 'link', text: url, href });
    else push(url);
    at = start + url.length;
  }
  push(text.slice(at));
  return out;
}

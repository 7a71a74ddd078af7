import { linkify } from '../engine/index.js';

/**
 * Message text with its http(s) URLs as links (core/links.ts decides which). Every piece is a
 * text node; links open in a new tab with no opener and no referrer, so the page a contact
 * links to learns neither who sent it nor which chat it came from.
 */
export function RichText({ text }: { text: string }) {
  return (
    <>
      {linkify(text).map((p, i) =>
        p.kind === 'text' ? (
          p.text
        ) : (
          <a key={i} href={p.href} target="_blank" rel="noopener noreferrer">
            {p.text}
          </a>
        ),
      )}
    </>
  );
}

/** The composer's most lines before it scrolls (Shift+Enter adds a line, Enter sends). */
export const COMPOSER_MAX_LINES = 6;

/** The browser sizes the composer itself (CSS `field-sizing: content`, styles/shell.css). */
const CSS_SIZED = typeof CSS !== 'undefined' && CSS.supports?.('field-sizing', 'content');

/**
 * Sizes a textarea to its text, from one line up to COMPOSER_MAX_LINES, then it scrolls. Only
 * where CSS cannot (measuring forces a layout of the whole page on every key).
 */
export function growComposer(el: HTMLTextAreaElement): void {
  if (CSS_SIZED) return;
  const cs = getComputedStyle(el);
  const line = Number.parseFloat(cs.lineHeight) || Number.parseFloat(cs.fontSize) * 1.4;
  const pad = Number.parseFloat(cs.paddingTop) + Number.parseFloat(cs.paddingBottom);
  const border = Number.parseFloat(cs.borderTopWidth) + Number.parseFloat(cs.borderBottomWidth);
  el.style.height = 'auto';
  const max = line * COMPOSER_MAX_LINES + pad + border;
  el.style.height = `${Math.min(el.scrollHeight + border, max)}px`;
  el.style.overflowY = el.scrollHeight + border > max ? 'auto' : 'hidden';
}

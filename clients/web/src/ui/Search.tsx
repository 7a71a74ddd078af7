import { type Conversation, formatTime, shownName } from '../engine/index.js';
import { useGroupsView } from './Groups.js';
import { useActions, useAppState, useNow } from './hooks.js';

/** Conversations whose shown name or username contains the query (case- and accent-blind). */
export function filterConversations(convs: Conversation[], query: string): Conversation[] {
  const q = fold(query.trim());
  if (!q) return convs;
  return convs.filter((c) => fold(shownName(c)).includes(q) || fold(c.username).includes(q));
}
const fold = (s: string) => s.normalize('NFKD').replace(/\p{M}/gu, '').toLocaleLowerCase();

export function GearIcon() {
  return (
    <svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false" class="icon gear">
      <path
        d="M12 15.5a3.5 3.5 0 100-7 3.5 3.5 0 000 7zm7.4-2.5a7.6 7.6 0 000-2l2.1-1.6-2-3.5-2.5 1a7.5 7.5 0 00-1.7-1L15 3h-4l-.4 2.9a7.5 7.5 0 00-1.7 1l-2.5-1-2 3.5L6.5 11a7.6 7.6 0 000 2l-2.1 1.6 2 3.5 2.5-1a7.5 7.5 0 001.7 1L11 21h4l.4-2.9a7.5 7.5 0 001.7-1l2.5 1 2-3.5z"
        fill="none"
        stroke="currentColor"
        stroke-width="1.6"
        stroke-linejoin="round"
      />
    </svg>
  );
}

/**
 * Scrolls the open chat to a message and marks it (class `found`), once the chat has rendered it.
 * Gives up quietly after about two seconds (the message may have been deleted meanwhile).
 */
export function jumpToMessage(id: string, tries = 120): void {
  const el = document.querySelector<HTMLElement>(`.log [data-id="${CSS.escape(id)}"]`);
  if (!el) {
    if (tries > 0) requestAnimationFrame(() => jumpToMessage(id, tries - 1));
    return;
  }
  for (const old of document.querySelectorAll('.log .found')) old.classList.remove('found');
  el.classList.add('found');
  el.tabIndex = -1;
  el.scrollIntoView({ block: 'center' });
  el.focus({ preventScroll: true });
}

/**
 * "Search messages": filters the conversation list by name as the user types (the Sidebar does
 * that with filterConversations) and lists messages of the local history that match, each
 * opening its chat at the message. The index is this device's (engine/search.ts): works offline.
 */
export function SearchBox({
  query,
  onQuery,
  onOpen,
}: {
  query: string;
  onQuery: (q: string) => void;
  onOpen: (peer: string) => void;
}) {
  const s = useAppState();
  const a = useActions();
  const now = useNow();
  const q = query.trim();
  const hits = q ? a.searchMessages(q) : [];
  const groups = useGroupsView();
  const nameOf = (conv: string) => {
    if (conv.startsWith('g:')) return groups.groups.find((g) => `g:${g.id}` === conv)?.name || 'Group';
    const c = s.conversations.find((x) => x.peer === conv);
    return c ? shownName(c) : conv;
  };
  return (
    <search class="search">
      <label class="sr-only" for="search-messages">
        Search messages
      </label>
      <input
        id="search-messages"
        type="search"
        placeholder="Search messages"
        autocomplete="off"
        value={query}
        onInput={(e) => onQuery(e.currentTarget.value)}
        onKeyDown={(e) => {
          if (e.key === 'Escape') onQuery('');
        }}
      />
      {q && (
        <section class="search-results" aria-labelledby="search-results-title">
          <h2 id="search-results-title" class="search-title">
            {hits.length === 0 ? 'No messages found' : `Messages (${hits.length})`}
          </h2>
          {hits.length > 0 && (
            <ul>
              {hits.map((h) => (
                <li key={h.id}>
                  <button
                    type="button"
                    data-testid="search-hit"
                    onClick={() => {
                      onOpen(h.conv);
                      jumpToMessage(h.id);
                    }}
                  >
                    <span class="name">{nameOf(h.conv)}</span>
                    <span class="time">{formatTime(h.at, now)}</span>
                    <span class="snippet" dir="auto">
                      {h.snippet.before}
                      <mark>{h.snippet.match}</mark>
                      {h.snippet.after}
                    </span>
                  </button>
                </li>
              ))}
            </ul>
          )}
        </section>
      )}
    </search>
  );
}

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { encryptionStatus, formatTime, shownName } from '../engine/index.js';
import { GroupList } from './Groups.js';
import { useActions, useAppState, useNow } from './hooks.js';
import { Avatar } from './Profile.js';
import { filterConversations, GearIcon, SearchBox } from './Search.js';
import { Settings } from './Settings.js';

const STATUS_WORD = { green: 'verified', yellow: 'not verified', red: 'cannot encrypt' } as const;
/** This device's own connection, shown instead of guessing about others while we are not online. */
const CONNECTION_WORD = {
  online: 'Online',
  connecting: 'Connecting…',
  offline: 'Offline',
  replaced: 'Paused: open in another window',
} as const;

export function Sidebar({
  selected,
  onSelect,
  onDevices,
  onBackup,
}: {
  selected: string | null;
  onSelect: (peer: string) => void;
  onDevices: () => void;
  onBackup?: () => void;
}) {
  const s = useAppState();
  const a = useActions();
  const now = useNow();
  const [adding, setAdding] = useState(false);
  const [settings, setSettings] = useState(false);
  const [name, setName] = useState('');
  const [query, setQuery] = useState('');
  const gear = useRef<HTMLButtonElement>(null);
  const newChatBtn = useRef<HTMLButtonElement>(null);
  const newChatInput = useRef<HTMLInputElement>(null);
  // The form opens on request: focus belongs in it, before the next frame (a fast typist's first
  // characters must land in the field, not on the page).
  useLayoutEffect(() => {
    if (adding) newChatInput.current?.focus();
  }, [adding]);
  // Just signed in or registered: focus was on a form that is gone; start from "New chat".
  useEffect(() => {
    if (document.activeElement === document.body || document.activeElement === null) newChatBtn.current?.focus();
  }, []);

  const start = async (e: Event) => {
    e.preventDefault();
    const peer = await a.startChat(name);
    if (peer) {
      setName('');
      setAdding(false);
      onSelect(peer);
    }
  };
  if (settings)
    return (
      <nav class="sidebar settings-open" aria-label="Settings">
        <Settings
          onClose={() => {
            setSettings(false);
            // Back where the user left: the gear (rendered again on the next frame).
            requestAnimationFrame(() => gear.current?.focus());
          }}
          // Devices and Backup are pages of their own: the list comes back beside them.
          onDevices={() => {
            setSettings(false);
            onDevices();
          }}
          onBackup={
            onBackup &&
            (() => {
              setSettings(false);
              onBackup();
            })
          }
        />
      </nav>
    );
  const shown = filterConversations(s.conversations, query);

  return (
    <nav class="sidebar" aria-label="Conversations">
      <header>
        <button
          ref={gear}
          class="me-button"
          type="button"
          aria-label={`Settings (signed in as ${s.me?.username ?? ''})`}
          title="Settings"
          onClick={() => setSettings(true)}
        >
          <Avatar
            userId={s.me?.userId ?? ''}
            name={s.profile?.name || s.me?.username || ''}
            bytes={s.profile?.avatar ?? null}
            size={32}
          />
          <GearIcon />
        </button>
        <h1>Hush</h1>
        <span class={`me-state ${s.connection}`} data-testid="my-connection" role="status">
          <span aria-hidden="true">● </span>
          {CONNECTION_WORD[s.connection]}
        </span>
        <button
          ref={newChatBtn}
          class="btn primary small"
          type="button"
          aria-expanded={adding}
          aria-controls="newchat"
          onClick={() => setAdding(!adding)}
        >
          New chat
        </button>
      </header>
      {adding && (
        <div class="newchat" id="newchat">
          <form onSubmit={start}>
            <div class="field">
              <label for="newchat-user">Contact username</label>
              <input
                id="newchat-user"
                autocapitalize="none"
                spellcheck={false}
                required
                ref={newChatInput}
                value={name}
                onInput={(e) => setName(e.currentTarget.value)}
                onKeyDown={(e) => {
                  if (e.key === 'Escape') {
                    setAdding(false);
                    newChatBtn.current?.focus();
                  }
                }}
              />
            </div>
            <button class="btn primary" type="submit" disabled={s.busy}>
              Start chat
            </button>
          </form>
        </div>
      )}
      {s.notice && (
        <p class="notice" role="alert">
          {s.notice}{' '}
          <button class="btn small" type="button" onClick={() => a.clearNotice()}>
            Dismiss
          </button>
        </p>
      )}
      <SearchBox query={query} onQuery={setQuery} onOpen={onSelect} />
      {s.conversations.length === 0 ? (
        <p class="empty">No conversations yet. Press “New chat” and type a username.</p>
      ) : query.trim() && shown.length === 0 ? null : (
        <ul class="convs" aria-label={query.trim() ? 'Matching conversations' : undefined}>
          {shown.map((c) => {
            const st = encryptionStatus(c);
            const word = st === 'red' && c.keysMissing ? 'not registered yet' : STATUS_WORD[st];
            return (
              <li key={c.peer}>
                <button
                  type="button"
                  aria-current={selected === c.peer ? 'true' : undefined}
                  data-peer={c.username}
                  // One sentence for screen readers ("bob, not verified, 2 unread: see you"), not
                  // the pieces' text run together with stray spaces.
                  aria-label={`${shownName(c)}, ${word}${c.unread > 0 ? `, ${c.unread} unread` : ''}${c.draft ? ', draft' : ''}: ${(c.draft || c.lastText || 'no messages yet').slice(0, 80)}`}
                  onClick={() => onSelect(c.peer)}
                >
                  <Avatar userId={c.peer} name={shownName(c)} file={c.avatar} />
                  <span class="name">
                    {shownName(c)}
                    <span class={`state ${st}`} data-status={st}>
                      <span aria-hidden="true">● </span>
                      {word}
                    </span>
                  </span>
                  <span class="time">{c.lastText ? formatTime(c.lastAt, now) : ''}</span>
                  <span class="last" dir="auto">
                    {c.draft ? <em>Draft: {c.draft}</em> : c.lastText || 'No messages yet'}
                  </span>
                  {c.unread > 0 ? (
                    <span class="unread" data-testid="unread">
                      {c.unread}
                      <span class="sr-only"> unread</span>
                    </span>
                  ) : (
                    <span />
                  )}
                </button>
              </li>
            );
          })}
        </ul>
      )}
      <GroupList selected={selected} onSelect={onSelect} />
    </nav>
  );
}

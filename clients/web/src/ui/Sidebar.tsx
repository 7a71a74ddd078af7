import { useEffect, useRef, useState } from 'preact/hooks';
import { encryptionStatus, formatTime } from '../engine/index.js';
import { GroupList } from './Groups.js';
import { useActions, useAppState, useNow } from './hooks.js';
import { AppLockSettings } from './Lock.js';
import { currentTheme, setTheme } from './theme.js';

const STATUS_WORD = { green: 'verified', yellow: 'not verified', red: 'cannot encrypt' } as const;

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
  const [locking, setLocking] = useState(false);
  const [name, setName] = useState('');
  // The theme follows the system until toggled; re-render when the system setting changes.
  const [, rerender] = useState(0);
  const theme = currentTheme();
  useEffect(() => {
    const mq = matchMedia('(prefers-color-scheme: dark)');
    const on = () => rerender((n) => n + 1);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  const newChatBtn = useRef<HTMLButtonElement>(null);
  const newChatInput = useRef<HTMLInputElement>(null);
  // The form opens on request: focus belongs in it.
  useEffect(() => {
    if (adding) newChatInput.current?.focus();
  }, [adding]);

  const start = async (e: Event) => {
    e.preventDefault();
    const peer = await a.startChat(name);
    if (peer) {
      setName('');
      setAdding(false);
      onSelect(peer);
    }
  };
  const toggleTheme = () => {
    const t = theme === 'dark' ? 'light' : 'dark';
    setTheme(t);
    rerender((n) => n + 1);
  };

  return (
    <nav class="sidebar" aria-label="Conversations">
      <header>
        <h1>Hush</h1>
        <span class="presence" title="Signed in as">
          {s.me?.username}
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
      <div class="toolbar">
        <button class="btn small" type="button" aria-pressed={theme === 'dark'} onClick={toggleTheme}>
          Dark theme
        </button>
        <label>
          <input type="checkbox" checked={s.showWire} onChange={(e) => a.setShowWire(e.currentTarget.checked)} />
          What the server sees
        </label>
        <button
          class="btn small"
          type="button"
          aria-expanded={locking}
          aria-controls="applock"
          onClick={() => setLocking(!locking)}
        >
          App lock{s.appLock ? ' (on)' : ''}
        </button>
        <button class="btn small" type="button" onClick={onDevices}>
          Linked devices
        </button>
        {onBackup && (
          <button class="btn small" type="button" onClick={onBackup}>
            Backup
          </button>
        )}
        <button class="btn small" type="button" onClick={() => void a.logout()}>
          Sign out
        </button>
      </div>
      {locking && <AppLockSettings onDone={() => setLocking(false)} />}
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
      {s.conversations.length === 0 ? (
        <p class="empty">No conversations yet. Press “New chat” and type a username.</p>
      ) : (
        <ul class="convs">
          {s.conversations.map((c) => {
            const st = encryptionStatus(c);
            return (
              <li key={c.peer}>
                <button
                  type="button"
                  aria-current={selected === c.peer ? 'true' : undefined}
                  data-peer={c.username}
                  onClick={() => onSelect(c.peer)}
                >
                  <span class="name">
                    {c.username}
                    <span class={`state ${st}`} data-status={st}>
                      <span aria-hidden="true">● </span>
                      <span class="sr-only">, </span>
                      {STATUS_WORD[st]}
                    </span>
                  </span>
                  <span class="time">{c.lastText ? formatTime(c.lastAt, now) : ''}</span>
                  <span class="last">{c.lastText || 'No messages yet'}</span>
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

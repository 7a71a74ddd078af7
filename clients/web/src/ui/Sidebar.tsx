import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { encryptionStatus, formatTime } from '../engine/index.js';
import { GroupList } from './Groups.js';
import { useActions, useAppState, useNow } from './hooks.js';
import { AppLockSettings } from './Lock.js';
import { currentTheme, setTheme } from './theme.js';

const STATUS_WORD = { green: 'verified', yellow: 'not verified', red: 'cannot encrypt' } as const;
/** This device's own connection, shown instead of guessing about others while we are not online. */
const CONNECTION_WORD = {
  online: 'Online',
  connecting: 'Connecting…',
  offline: 'Offline',
  replaced: 'Paused: open in another window',
} as const;

/** "Sign out" erases this browser's history and keys: say so, and offer linking first. */
function SignOutConfirm({ onCancel, onDevices }: { onCancel: () => void; onDevices: () => void }) {
  const a = useActions();
  const s = useAppState();
  const ref = useRef<HTMLButtonElement>(null);
  useLayoutEffect(() => ref.current?.focus(), []);
  return (
    <section class="newchat confirm" id="signout" aria-labelledby="signout-title">
      <p id="signout-title">
        <strong>Sign out and erase this device?</strong>
      </p>
      <p>
        Signing out erases everything Hush keeps in this browser: your message history here and this device’s keys. It
        cannot be undone, and the history cannot be fetched again. If this is your only device, your contacts will see a
        new safety number when you sign in again.
      </p>
      <p>
        To keep your history, link another device first (“Linked devices”): it receives your account and history over an
        encrypted channel.
      </p>
      <div class="row">
        <button class="btn danger" type="button" disabled={s.busy} onClick={() => void a.logout()}>
          Sign out and erase
        </button>
        <button ref={ref} class="btn" type="button" onClick={onCancel}>
          Cancel
        </button>
        <button class="btn" type="button" onClick={onDevices}>
          Linked devices
        </button>
      </div>
    </section>
  );
}

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
  const [signingOut, setSigningOut] = useState(false);
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
        <button
          class="btn small"
          type="button"
          aria-expanded={signingOut}
          aria-controls="signout"
          onClick={() => setSigningOut(!signingOut)}
        >
          Sign out
        </button>
      </div>
      {locking && <AppLockSettings onDone={() => setLocking(false)} />}
      {signingOut && (
        <SignOutConfirm
          onCancel={() => setSigningOut(false)}
          onDevices={() => {
            setSigningOut(false);
            onDevices();
          }}
        />
      )}
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
                  // One sentence for screen readers ("bob, not verified, 2 unread: see you"), not
                  // the pieces' text run together with stray spaces.
                  aria-label={`${c.username}, ${STATUS_WORD[st]}${c.unread > 0 ? `, ${c.unread} unread` : ''}${c.draft ? ', draft' : ''}: ${(c.draft || c.lastText || 'no messages yet').slice(0, 80)}`}
                  onClick={() => onSelect(c.peer)}
                >
                  <span class="name">
                    {c.username}
                    <span class={`state ${st}`} data-status={st}>
                      <span aria-hidden="true">● </span>
                      {STATUS_WORD[st]}
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

import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { useActions, useAppState } from './hooks.js';
import { AppLockSettings } from './Lock.js';
import { NotificationSettings } from './Notify.js';
import { ProfileSettings } from './Profile.js';
import { currentTheme, setTheme } from './theme.js';

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

/** The theme follows the system until toggled; re-renders when the system setting changes. */
function useTheme(): [ReturnType<typeof currentTheme>, () => void] {
  const [, rerender] = useState(0);
  useEffect(() => {
    const mq = matchMedia('(prefers-color-scheme: dark)');
    const on = () => rerender((n) => n + 1);
    mq.addEventListener('change', on);
    return () => mq.removeEventListener('change', on);
  }, []);
  const theme = currentTheme();
  const toggle = () => {
    setTheme(theme === 'dark' ? 'light' : 'dark');
    rerender((n) => n + 1);
  };
  return [theme, toggle];
}

/**
 * The settings page (reached from the gear atop the sidebar; docs/ARCHITECTURE.md, "Settings
 * page"): it takes the sidebar's place, so an open chat stays on screen beside it. Every control
 * keeps the accessible name it had in the old toolbar ("Dark theme", "App lock", "Sign out", …).
 */
export function Settings({
  onClose,
  onDevices,
  onBackup,
}: {
  onClose: () => void;
  onDevices: () => void;
  onBackup?: () => void;
}) {
  const s = useAppState();
  const a = useActions();
  const [theme, toggleTheme] = useTheme();
  const [locking, setLocking] = useState(false);
  const [signingOut, setSigningOut] = useState(false);
  const title = useRef<HTMLHeadingElement>(null);
  // Opened on request: focus goes to the page's title so the keyboard starts at the top.
  useLayoutEffect(() => title.current?.focus(), []);

  return (
    <section
      class="settings"
      aria-labelledby="settings-title"
      onKeyDown={(e) => {
        if (e.key === 'Escape') onClose();
      }}
    >
      <header>
        <button class="btn small" type="button" onClick={onClose}>
          <span aria-hidden="true">←</span> Close settings
        </button>
        <h2 id="settings-title" tabIndex={-1} ref={title}>
          Settings
        </h2>
      </header>
      <div class="settings-body">
        <ProfileSettings />
        <section aria-labelledby="set-appearance">
          <h3 id="set-appearance">Appearance</h3>
          <button class="btn small" type="button" aria-pressed={theme === 'dark'} onClick={toggleTheme}>
            Dark theme
          </button>
          <p class="hint">Follows your system until you choose.</p>
        </section>
        <section aria-labelledby="set-privacy">
          <h3 id="set-privacy">Privacy &amp; security</h3>
          <label class="check">
            <input type="checkbox" checked={s.showWire} onChange={(e) => a.setShowWire(e.currentTarget.checked)} />
            What the server sees
          </label>
          <p>
            <button
              class="btn small"
              type="button"
              aria-expanded={locking}
              aria-controls="applock"
              onClick={() => setLocking(!locking)}
            >
              App lock{s.appLock ? ' (on)' : ''}
            </button>
          </p>
          {locking && <AppLockSettings onDone={() => setLocking(false)} />}
        </section>
        <NotificationSettings />
        <section aria-labelledby="set-devices">
          <h3 id="set-devices">Devices</h3>
          <button class="btn small" type="button" onClick={onDevices}>
            Linked devices
          </button>
        </section>
        {onBackup && (
          <section aria-labelledby="set-backup">
            <h3 id="set-backup">Backup</h3>
            <button class="btn small" type="button" onClick={onBackup}>
              Backup
            </button>
          </section>
        )}
        <section aria-labelledby="set-account">
          <h3 id="set-account">Account</h3>
          <p class="hint">
            Signed in as <strong>{s.me?.username}</strong>
          </p>
          <button
            class="btn small"
            type="button"
            aria-expanded={signingOut}
            aria-controls="signout"
            onClick={() => setSigningOut(!signingOut)}
          >
            Sign out
          </button>
          {signingOut && (
            <SignOutConfirm
              onCancel={() => setSigningOut(false)}
              onDevices={() => {
                setSigningOut(false);
                onDevices();
              }}
            />
          )}
        </section>
      </div>
    </section>
  );
}

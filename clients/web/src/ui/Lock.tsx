import { useState } from 'preact/hooks';
import { MIN_PASSPHRASE_CHARS } from '../engine/index.js';
import { useActions, useAppState } from './hooks.js';

/** The lock screen: the local store is encrypted under a key derived from this passphrase. */
export function Unlock() {
  const s = useAppState();
  const a = useActions();
  const [pass, setPass] = useState('');
  return (
    <main class="auth">
      <h1>Hush is locked</h1>
      <p>Your messages on this device are encrypted with your app-lock passphrase.</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void a.unlock(pass);
        }}
      >
        <div class="field">
          <label for="unlock-pass">App lock passphrase</label>
          <input
            id="unlock-pass"
            type="password"
            autocomplete="current-password"
            required
            value={pass}
            onInput={(e) => setPass(e.currentTarget.value)}
          />
        </div>
        {s.notice && (
          <p class="notice" role="alert">
            {s.notice}
          </p>
        )}
        <button class="btn primary" type="submit" disabled={s.busy}>
          Unlock
        </button>
      </form>
    </main>
  );
}

/** Set, change or remove the app lock (in the sidebar). */
export function AppLockSettings({ onDone }: { onDone: () => void }) {
  const s = useAppState();
  const a = useActions();
  const [pass, setPass] = useState('');
  return (
    <div class="newchat" id="applock">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          await a.setAppLock(pass);
          setPass('');
          onDone();
        }}
      >
        <div class="field">
          <label for="applock-pass">{s.appLock ? 'New app lock passphrase' : 'App lock passphrase'}</label>
          <input
            id="applock-pass"
            type="password"
            autocomplete="new-password"
            required
            minLength={MIN_PASSPHRASE_CHARS}
            value={pass}
            onInput={(e) => setPass(e.currentTarget.value)}
          />
        </div>
        <button class="btn primary" type="submit" disabled={s.busy}>
          {s.appLock ? 'Change lock' : 'Set lock'}
        </button>
      </form>
      {s.appLock && (
        <p>
          <button
            class="btn small"
            type="button"
            disabled={s.busy}
            onClick={async () => {
              await a.removeAppLock();
              onDone();
            }}
          >
            Remove app lock
          </button>{' '}
          <button class="btn small" type="button" onClick={() => location.reload()}>
            Lock now
          </button>
        </p>
      )}
    </div>
  );
}

import { useEffect, useState } from 'preact/hooks';
import { MIN_PASSPHRASE_CHARS } from '../engine/index.js';
import { useActions, useAppState } from './hooks.js';

/** Idle minutes before an app-locked Hush locks itself; 0 = never. A preference, kept in localStorage like the theme. */
const IDLE_KEY = 'hush.autolock';
export const IDLE_CHOICES = [0, 1, 5, 15, 60] as const;

export function savedIdleMinutes(): number {
  try {
    const n = Number(localStorage.getItem(IDLE_KEY) ?? '0');
    return (IDLE_CHOICES as readonly number[]).includes(n) ? n : 0;
  } catch {
    return 0;
  }
}
function saveIdleMinutes(n: number): void {
  try {
    localStorage.setItem(IDLE_KEY, String(n));
  } catch {
    // private mode: applies to this page only
  }
}

/**
 * Locks after `minutes` without a key press, click or touch (the seed's "auto-logout after
 * inactivity"; with an app lock, locking drops the key from memory, which is what matters).
 */
export function useIdleLock(active: boolean, minutes: number, lock: () => void): void {
  useEffect(() => {
    if (!active || minutes <= 0) return;
    let last = Date.now();
    const seen = () => {
      last = Date.now();
    };
    const events = ['pointerdown', 'keydown', 'wheel', 'touchstart'] as const;
    for (const e of events) addEventListener(e, seen, { passive: true, capture: true });
    const t = setInterval(() => {
      if (Date.now() - last >= minutes * 60_000) lock();
    }, 5_000);
    return () => {
      clearInterval(t);
      for (const e of events) removeEventListener(e, seen, { capture: true });
    };
  }, [active, minutes, lock]);
}

/** The lock screen: the local store is encrypted under a key derived from this passphrase. */
export function Unlock() {
  const s = useAppState();
  const a = useActions();
  const [pass, setPass] = useState('');
  const [erasing, setErasing] = useState(false);
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
      <section class="forgot" aria-labelledby="forgot-title">
        <h2 id="forgot-title">Forgot the passphrase?</h2>
        <p>
          Nobody can open this store without it, not even the server. You can erase Hush from this browser and sign in
          again: the messages and keys kept here are lost, and your contacts see a new safety number unless you link
          this browser from another of your devices.
        </p>
        {erasing ? (
          <div class="confirm">
            <p id="erase-q">
              <strong>Erase everything Hush keeps in this browser?</strong> This cannot be undone.
            </p>
            <div class="row">
              <button class="btn danger" type="button" disabled={s.busy} onClick={() => void a.eraseDevice()}>
                Erase this device
              </button>
              <button class="btn" type="button" onClick={() => setErasing(false)}>
                Cancel
              </button>
            </div>
          </div>
        ) : (
          <button class="btn" type="button" onClick={() => setErasing(true)}>
            Sign out and erase this device
          </button>
        )}
      </section>
    </main>
  );
}

/** Set, change or remove the app lock, and the idle auto-lock (in the sidebar). */
export function AppLockSettings({ onDone }: { onDone: () => void }) {
  const s = useAppState();
  const a = useActions();
  const [pass, setPass] = useState('');
  const [again, setAgain] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const [idle, setIdle] = useState(savedIdleMinutes());
  return (
    <div class="newchat" id="applock">
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          // A mistyped passphrase would lock the user out of their own history: typed twice.
          if (pass !== again) {
            setMismatch(true);
            return;
          }
          setMismatch(false);
          await a.setAppLock(pass);
          setPass('');
          setAgain('');
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
            aria-describedby="applock-rule"
            value={pass}
            onInput={(e) => setPass(e.currentTarget.value)}
          />
          <p id="applock-rule" class="hint">
            At least {MIN_PASSPHRASE_CHARS} characters. Forget it and the history on this device cannot be opened.
          </p>
        </div>
        <div class="field">
          <label for="applock-again">Confirm passphrase</label>
          <input
            id="applock-again"
            type="password"
            autocomplete="new-password"
            required
            minLength={MIN_PASSPHRASE_CHARS}
            value={again}
            onInput={(e) => setAgain(e.currentTarget.value)}
          />
        </div>
        {mismatch && (
          <p class="notice" role="alert">
            The two passphrases are not the same.
          </p>
        )}
        <button class="btn primary" type="submit" disabled={s.busy}>
          {s.appLock ? 'Change lock' : 'Set lock'}
        </button>
      </form>
      {s.appLock && (
        <>
          <div class="field">
            <label for="applock-idle">Lock when idle</label>
            <select
              id="applock-idle"
              value={String(idle)}
              onChange={(e) => {
                const n = Number(e.currentTarget.value);
                setIdle(n);
                saveIdleMinutes(n);
                dispatchEvent(new Event('hush-idle-changed'));
              }}
            >
              {IDLE_CHOICES.map((n) => (
                <option key={n} value={String(n)}>
                  {n === 0 ? 'Never' : n === 60 ? 'After 1 hour' : `After ${n} minute${n === 1 ? '' : 's'}`}
                </option>
              ))}
            </select>
          </div>
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
            <button class="btn small" type="button" onClick={() => a.lockNow()}>
              Lock now
            </button>
          </p>
        </>
      )}
    </div>
  );
}

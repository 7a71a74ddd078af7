import { useState } from 'preact/hooks';
import { MIN_PASSPHRASE_CHARS } from '../engine/index.js';
import { useActions, useAppState } from './hooks.js';

/**
 * Sign in, or create an account: two separate forms, so Enter on a new username never tries to
 * sign in with it, and a new password is typed twice (a typo there would lock the account away).
 */
export function Auth() {
  const s = useAppState();
  const a = useActions();
  const [mode, setMode] = useState<'login' | 'register'>('login');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [confirm, setConfirm] = useState('');
  const [mismatch, setMismatch] = useState(false);
  const creating = mode === 'register';
  const submit = (e: Event) => {
    e.preventDefault();
    if (s.busy) return;
    if (creating && password !== confirm) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    void (creating ? a.register(username, password) : a.login(username, password));
  };
  const switchTo = (m: 'login' | 'register') => {
    a.clearNotice();
    setMismatch(false);
    setConfirm('');
    setMode(m);
    // The username stays; the first field to fill gets the focus.
    requestAnimationFrame(() => document.getElementById(username ? 'password' : 'username')?.focus());
  };
  const notice = mismatch ? 'The two passwords are not the same.' : s.notice;
  const wrong = !creating && s.notice?.startsWith('Wrong username or password');
  return (
    <main class="auth">
      <h1>Hush</h1>
      <p>End-to-end encrypted chat. Your keys are made in this browser and never leave it.</p>
      <h2 id="auth-title">{creating ? 'Create account' : 'Sign in'}</h2>
      <form onSubmit={submit} aria-labelledby="auth-title" aria-describedby={notice ? 'auth-notice' : undefined}>
        <div class="field">
          <label for="username">Username</label>
          <input
            id="username"
            name="username"
            autocomplete="username"
            autocapitalize="none"
            spellcheck={false}
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </div>
        <div class="field">
          <label for="password">Password</label>
          <input
            id="password"
            name="password"
            type="password"
            autocomplete={creating ? 'new-password' : 'current-password'}
            required
            minLength={MIN_PASSPHRASE_CHARS}
            aria-describedby="password-rule"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
          <p id="password-rule" class="hint">
            At least {MIN_PASSPHRASE_CHARS} characters.
          </p>
        </div>
        {creating && (
          <div class="field">
            <label for="password-confirm">Confirm password</label>
            <input
              id="password-confirm"
              name="password-confirm"
              type="password"
              autocomplete="new-password"
              required
              minLength={MIN_PASSPHRASE_CHARS}
              value={confirm}
              onInput={(e) => setConfirm(e.currentTarget.value)}
            />
          </div>
        )}
        {notice && (
          <p id="auth-notice" class="notice" role="alert">
            {notice}
            {wrong && ' New here? Create an account instead.'}
          </p>
        )}
        <div class="row">
          <button class="btn primary" type="submit" disabled={s.busy}>
            {creating ? 'Register' : 'Sign in'}
          </button>
          <button class="btn" type="button" disabled={s.busy} onClick={() => switchTo(creating ? 'login' : 'register')}>
            {creating ? 'I have an account' : 'Create account'}
          </button>
        </div>
      </form>
    </main>
  );
}

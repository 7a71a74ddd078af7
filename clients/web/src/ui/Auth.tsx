import { useState } from 'preact/hooks';
import { useActions, useAppState } from './hooks.js';

/** Register or sign in. The same form: the button pressed decides. */
export function Auth() {
  const s = useAppState();
  const a = useActions();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const submit = (mode: 'register' | 'login') => (e: Event) => {
    e.preventDefault();
    if (s.busy) return;
    void (mode === 'register' ? a.register(username, password) : a.login(username, password));
  };
  return (
    <main class="auth">
      <h1>Hush</h1>
      <p>End-to-end encrypted chat. Your keys are made in this browser and never leave it.</p>
      <form onSubmit={submit('login')} aria-describedby={s.notice ? 'auth-notice' : undefined}>
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
            autocomplete="current-password"
            required
            minLength={8}
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </div>
        {s.notice && (
          <p id="auth-notice" class="notice" role="alert">
            {s.notice}
          </p>
        )}
        <div class="row">
          <button class="btn primary" type="submit" disabled={s.busy}>
            Sign in
          </button>
          <button class="btn" type="button" disabled={s.busy} onClick={submit('register')}>
            Register
          </button>
        </div>
      </form>
    </main>
  );
}

import { createContext } from 'preact';
import { useContext, useEffect, useRef, useState } from 'preact/hooks';
import { type Backup, type BackupView, formatBackupAge, keyGroups } from '../engine/index.js';
import { useNow } from './hooks.js';

export const BackupContext = createContext<Backup | null>(null);

/** The backup state (engine/backup.ts), re-rendered on every change; null when there is no backup. */
export function useBackup(): [Backup | null, BackupView | null] {
  const b = useContext(BackupContext);
  const [v, set] = useState(b?.view ?? null);
  useEffect(() => {
    if (!b) return;
    const off = b.subscribe(() => set(b.view));
    set(b.view);
    return off;
  }, [b]);
  return [b, v];
}

const kib = (n: number) => (n < 10_240 ? `${n} bytes` : `${Math.round(n / 1024)} KiB`);

/** The recovery key as numbered groups, shown once. */
function RecoveryKey({ text }: { text: string }) {
  return (
    <ol class="recovery-key" data-testid="recovery-key" aria-label="Recovery key, 16 groups">
      {keyGroups(text).map((g, i) => (
        <li key={i}>
          <span class="n" aria-hidden="true">
            {i + 1}
          </span>
          <code>{g}</code>
        </li>
      ))}
    </ol>
  );
}

/**
 * "Backup": turn on (a recovery key shown once, then a few of its groups typed back), the status
 * ("Last backup 2 min ago"), "Back up now", a new recovery key, and "Turn off backup".
 */
export function BackupSettings({ onClose }: { onClose: () => void }) {
  const [b, v] = useBackup();
  const now = useNow(15_000);
  const heading = useRef<HTMLHeadingElement>(null);
  const [answers, setAnswers] = useState<string[]>([]);
  const [offing, setOffing] = useState(false);
  useEffect(() => {
    heading.current?.focus();
    if (b) void b.load();
  }, [b]);
  useEffect(() => setAnswers([]), [v?.stage]);
  if (!b || !v) return null;

  const confirm = (e: Event) => {
    e.preventDefault();
    void b.confirm(answers);
  };
  const other = v.stage === 'off' && v.server?.enabled;
  return (
    <section class="devices backup" aria-labelledby="backup-title">
      <button class="btn small" type="button" onClick={onClose}>
        Back to chats
      </button>
      <h2 id="backup-title" tabIndex={-1} ref={heading}>
        Backup
      </h2>
      {v.error && (
        <p class="notice" role="alert">
          {v.error}
        </p>
      )}
      {v.stage === 'off' && (
        <>
          <p>
            Backup keeps an encrypted copy of your identity, contacts, their verification and your history on the
            server. Only your recovery key opens it: the server cannot, and nobody can reset it for you.
          </p>
          {other && (
            <p class="notice" data-testid="backup-elsewhere">
              Another of your devices backs up this account ({formatBackupAge(v.server?.updatedAt ?? null, now)}).
              Turning backup on here makes a new recovery key and replaces that backup.
            </p>
          )}
          <button class="btn primary" type="button" onClick={() => b.begin()}>
            Turn on backup
          </button>
        </>
      )}
      {v.stage === 'show-key' && v.key && (
        <>
          <h3>Recovery key</h3>
          <p>
            Write these 64 characters down and keep them somewhere safe, away from this device. You need them to restore
            on a new browser. This is the only time they are shown.
          </p>
          <RecoveryKey text={v.key} />
          <div class="row">
            <button class="btn primary" type="button" onClick={() => b.keyNoted()}>
              I have written it down
            </button>
            <button class="btn" type="button" onClick={() => b.cancelSetup()}>
              Cancel
            </button>
          </div>
        </>
      )}
      {v.stage === 'confirm' && (
        <form onSubmit={confirm}>
          <h3>Check your recovery key</h3>
          <p>Type these groups of your recovery key, as you wrote them down.</p>
          <div class="confirm-groups">
            {v.ask.map((pos, i) => (
              <div class="field" key={pos}>
                <label for={`group-${pos}`}>Group {pos}</label>
                <input
                  id={`group-${pos}`}
                  autocapitalize="none"
                  autocomplete="off"
                  spellcheck={false}
                  maxLength={4}
                  required
                  value={answers[i] ?? ''}
                  onInput={(e) => {
                    const next = [...answers];
                    next[i] = e.currentTarget.value;
                    setAnswers(next);
                    b.clearError();
                  }}
                />
              </div>
            ))}
          </div>
          <div class="row">
            <button class="btn primary" type="submit" disabled={v.busy}>
              {v.rotating ? 'Use the new key' : 'Turn on backup'}
            </button>
            <button class="btn" type="button" onClick={() => b.begin()}>
              Show a new key instead
            </button>
            <button class="btn" type="button" onClick={() => b.cancelSetup()}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {v.stage === 'on' && (
        <>
          <p class="backup-state">
            <span class="state green" aria-hidden="true">
              ●{' '}
            </span>
            Backup is on.{' '}
            <span role="status" data-testid="backup-status">
              {v.running ? 'Backing up…' : formatBackupAge(v.lastBackupAt, now)}
            </span>
          </p>
          <p class="meta" data-testid="backup-size">
            {v.server?.enabled
              ? `${kib(v.server.bytes)} in ${v.server.chunks} encrypted ${v.server.chunks === 1 ? 'part' : 'parts'} on the server. `
              : ''}
            {v.uploaded.last > 0 ? `Last upload: ${kib(v.uploaded.last)}.` : ''}
          </p>
          <div class="row">
            <button class="btn primary" type="button" disabled={v.running} onClick={() => void b.backupNow()}>
              Back up now
            </button>
            <button class="btn" type="button" onClick={() => b.begin()}>
              New recovery key
            </button>
            <button class="btn danger" type="button" aria-expanded={offing} onClick={() => setOffing(!offing)}>
              Turn off backup
            </button>
          </div>
          {offing && (
            <div class="notice">
              <p>This deletes the backup from the server. Your history stays on this device.</p>
              <button class="btn danger" type="button" disabled={v.busy} onClick={() => void b.turnOff()}>
                Delete the backup
              </button>
            </div>
          )}
        </>
      )}
    </section>
  );
}

/** On a browser waiting to be linked: "Restore from backup" with the recovery key. */
export function RestoreFromBackup() {
  const [b, v] = useBackup();
  const [text, setText] = useState('');
  if (!b || !v) return null;
  const submit = (e: Event) => {
    e.preventDefault();
    void b.restore(text);
  };
  return (
    <details class="reset restore">
      <summary>Restore from backup</summary>
      <form onSubmit={submit}>
        <p>
          Type the recovery key you wrote down when you turned on backup. You keep your identity (contacts see no new
          safety number) and get your history back.
        </p>
        <div class="field">
          <label for="recovery-key-input">Recovery key</label>
          <textarea
            id="recovery-key-input"
            rows={3}
            autocapitalize="none"
            autocomplete="off"
            spellcheck={false}
            required
            value={text}
            onInput={(e) => {
              setText(e.currentTarget.value);
              b.clearError();
            }}
          />
        </div>
        {v.restore && (
          <div class="link-progress" role="status">
            <p>
              {v.restore.total > 0
                ? `Restoring: ${v.restore.done} of ${v.restore.total} parts`
                : 'Opening your backup…'}
            </p>
            <progress max={v.restore.total || 1} value={v.restore.done} aria-label="Restore progress" />
          </div>
        )}
        {v.error && (
          <p class="notice" role="alert" data-testid="restore-error">
            {v.error}
          </p>
        )}
        <div class="row">
          <button class="btn primary" type="submit" disabled={v.busy}>
            Restore
          </button>
        </div>
      </form>
    </details>
  );
}

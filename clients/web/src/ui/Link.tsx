import { useEffect, useRef, useState } from 'preact/hooks';
import type { LinkState } from '../engine/index.js';
import { RestoreFromBackup } from './Backup.js';
import { useDevicesView } from './Devices.js';
import { useActions, useAppState } from './hooks.js';
import { Qr } from './Qr.js';

/** "123456" -> "123 456": easier to read aloud and compare. */
export const groupCode = (c: string) => `${c.slice(0, 3)} ${c.slice(3)}`;

/** Progress of the identity and history moving over the provisioning channel. */
export function LinkProgress({ link }: { link: LinkState }) {
  const p = link.progress;
  return (
    <div class="link-progress" data-testid="link-progress">
      <p role="status">
        {p && p.total > 0 ? `Moving your history: ${p.done} of ${p.total} messages` : 'Moving your keys…'}
      </p>
      <progress max={p?.total || 1} value={p?.total ? p.done : 0} aria-label="Linking progress" />
    </div>
  );
}

/**
 * Shown on a browser that signed in to an account that already has devices: nothing is reset.
 * The code (QR and text) goes to an existing device; the only other way on is "Reset identity",
 * an explicit choice behind a warning (as Signal's "transfer or start fresh").
 */
export function LinkThisDevice() {
  const s = useAppState();
  const a = useActions();
  const v = useDevicesView();
  const link = v.link;
  const [understood, setUnderstood] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => heading.current?.focus(), []);

  return (
    <main class="auth link" aria-labelledby="link-title">
      <h1 id="link-title" tabIndex={-1} ref={heading}>
        Link this device
      </h1>
      <p>
        <strong>{s.me?.username}</strong> already uses Hush on another device. To read and send your messages here, open
        Hush there, choose <em>Linked devices</em> → <em>Link a new device</em>, and scan this code or paste its text.
      </p>
      {!link || link.stage === 'waiting' ? (
        link?.code ? (
          <>
            <Qr text={link.code} label="QR code to link this device" />
            <div class="field">
              <label for="link-code-text">Code as text</label>
              <output id="link-code-text" class="wire" data-testid="link-code">
                {link.code}
              </output>
            </div>
            <p role="status">Waiting for your other device…</p>
          </>
        ) : (
          <p role="status">Preparing a code…</p>
        )
      ) : link.stage === 'confirm' ? (
        <div role="status" class="compare">
          <p>Check that your other device shows the same code, then approve there:</p>
          <p class="big-code" data-testid="link-compare">
            {groupCode(link.compare ?? '')}
          </p>
        </div>
      ) : link.stage === 'transfer' || link.stage === 'done' ? (
        <LinkProgress link={link} />
      ) : (
        <p class="notice" role="alert">
          {link.error}
        </p>
      )}
      {link?.stage === 'failed' && (
        <button class="btn primary" type="button" onClick={() => location.reload()}>
          Start again
        </button>
      )}
      <RestoreFromBackup />
      <details class="reset">
        <summary>No other device?</summary>
        <p class="notice">
          Resetting gives this account a new identity. Your other devices are signed out and lose this account’s
          messages, and every contact sees that your safety number changed. Only do this if you lost your other devices.
        </p>
        <label>
          <input type="checkbox" checked={understood} onChange={(e) => setUnderstood(e.currentTarget.checked)} /> I
          understand: my other devices will be signed out
        </label>
        <div class="row">
          <button
            class="btn danger"
            type="button"
            disabled={!understood || s.busy}
            onClick={() => void a.resetIdentity()}
          >
            Reset identity
          </button>
        </div>
      </details>
      {s.notice && (
        <p class="notice" role="alert">
          {s.notice}
        </p>
      )}
      <div class="row">
        <button class="btn" type="button" onClick={() => void a.logout()}>
          Sign out
        </button>
      </div>
    </main>
  );
}

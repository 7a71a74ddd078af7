import { useEffect, useRef, useState } from 'preact/hooks';
import type { FileRef } from '../engine/index.js';
import { useActions } from './hooks.js';

/** Images shown inline (decoded by the browser from a blob: URL; never SVG, which can carry script). */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const INLINE_MAX_BYTES = 25 * 1024 * 1024;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}

/** Icons as inline SVG: emoji fonts are missing on many systems (headless Chromium shows boxes). */
function PaperclipIcon() {
  return (
    <svg viewBox="0 0 24 24" width="20" height="20" aria-hidden="true" focusable="false" class="icon">
      <path
        d="M21 11.5l-8.6 8.6a5.5 5.5 0 01-7.8-7.8l9.2-9.2a3.7 3.7 0 015.2 5.2l-9.2 9.2a1.8 1.8 0 01-2.6-2.6l8.5-8.5"
        fill="none"
        stroke="currentColor"
        stroke-width="2"
        stroke-linecap="round"
        stroke-linejoin="round"
      />
    </svg>
  );
}
function FileIcon() {
  return (
    <svg viewBox="0 0 24 24" width="22" height="22" aria-hidden="true" focusable="false" class="icon">
      <path
        d="M14 3H7a2 2 0 00-2 2v14a2 2 0 002 2h10a2 2 0 002-2V8zM14 3v5h5"
        fill="none"
        stroke="currentColor"
        stroke-width="2"
        stroke-linejoin="round"
      />
    </svg>
  );
}

/** "Attach": picks a file and sends it end-to-end encrypted. */
export function AttachButton({ peer, disabled }: { peer: string; disabled: boolean }) {
  const a = useActions();
  const input = useRef<HTMLInputElement>(null);
  const [sending, setSending] = useState<string | null>(null);
  const pick = async (files: FileList | null) => {
    const f = files?.[0];
    if (!f) return;
    setSending(f.name);
    try {
      await a.sendFile(peer, { name: f.name, mime: f.type, bytes: new Uint8Array(await f.arrayBuffer()) });
    } finally {
      setSending(null);
      if (input.current) input.current.value = '';
    }
  };
  return (
    <>
      <input
        ref={input}
        type="file"
        class="sr-only"
        tabIndex={-1}
        aria-hidden="true"
        data-testid="attach-input"
        onChange={(e) => void pick(e.currentTarget.files)}
      />
      <button
        class="btn attach"
        type="button"
        aria-label={sending ? `Encrypting and sending ${sending}` : 'Attach'}
        title="Attach a file (encrypted on this device, at most 100 MB)"
        disabled={disabled || sending !== null}
        onClick={() => input.current?.click()}
      >
        {sending ? '…' : <PaperclipIcon />}
      </button>
      {sending && (
        <span class="sr-only" role="status">
          Encrypting and sending {sending}
        </span>
      )}
    </>
  );
}

/** An attached file in a bubble: images inline (blurred placeholder while loading), others as a card. */
export function FileView({ file }: { file: FileRef }) {
  const a = useActions();
  const inline = INLINE_IMAGES.has(file.mime) && file.size <= INLINE_MAX_BYTES;
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    if (!inline) return;
    let alive = true;
    let made: string | null = null;
    a.attachment(file).then(
      (bytes) => {
        if (!alive) return;
        made = URL.createObjectURL(new Blob([bytes as BlobPart], { type: file.mime }));
        setUrl(made);
      },
      (e: unknown) => alive && setError(e instanceof Error ? e.message : 'Could not load the file'),
    );
    return () => {
      alive = false;
      if (made) URL.revokeObjectURL(made);
    };
  }, [file.id]);

  const save = async () => {
    try {
      const bytes = await a.attachment(file);
      const href = URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'application/octet-stream' }));
      const link = document.createElement('a');
      link.href = href;
      link.download = file.name;
      link.rel = 'noopener';
      link.click();
      setTimeout(() => URL.revokeObjectURL(href), 10_000);
    } catch (e) {
      setError(e instanceof Error ? e.message : 'Could not load the file');
    }
  };

  if (inline && !error)
    return url ? (
      <img class="attachment-image" src={url} alt={file.name} data-testid="attachment-image" />
    ) : (
      <div class="attachment-image loading" role="img" aria-label={`Loading ${file.name}`} />
    );
  return (
    <div class="attachment-file" data-testid="attachment-file">
      <span class="attachment-icon">
        <FileIcon />
      </span>
      <span class="attachment-name" dir="auto">
        {file.name}
      </span>
      <span class="attachment-size">{formatBytes(file.size)}</span>
      <button class="btn small" type="button" onClick={() => void save()} aria-label={`Download ${file.name}`}>
        Download
      </button>
      {error && (
        <span class="attachment-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

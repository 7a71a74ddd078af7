import { useEffect, useRef, useState } from 'preact/hooks';
import type { FileRef } from '../engine/index.js';
import { useActions } from './hooks.js';
import { Icon } from './Icon.js';
import { TransferBar } from './Transfer.js';
import { VoiceNote } from './Voice.js';

/** Images shown inline (decoded by the browser from a blob: URL; never SVG, which can carry script). */
const INLINE_IMAGES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const INLINE_MAX_BYTES = 25 * 1024 * 1024;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(n < 10 * 1024 ? 1 : 0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
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
        {sending ? '…' : <Icon name="paperclip" />}
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
  if (file.voiceMs !== undefined && file.mime.startsWith('audio/')) return <VoiceNote file={file} />;
  return <FileCard file={file} />;
}

/**
 * A blob: URL of the decrypted file (kept on this device, or fetched and checked first) while
 * `enabled`, revoked when the view goes; or the error that stopped it.
 */
export function useBlobUrl(file: FileRef, enabled: boolean) {
  const a = useActions();
  const [url, setUrl] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    if (!enabled) return;
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
  }, [file.id, enabled]);
  return { url, error, setError };
}

function FileCard({ file }: { file: FileRef }) {
  const a = useActions();
  const inline = INLINE_IMAGES.has(file.mime) && file.size <= INLINE_MAX_BYTES;
  const { url, error, setError } = useBlobUrl(file, inline);

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
      <div class="attachment-image-wrap">
        <div class="attachment-image loading" role="img" aria-label={`Loading ${file.name}`} />
        <TransferBar id={file.id} idle={null} />
      </div>
    );
  return (
    <div class="attachment-file" data-testid="attachment-file">
      <span class="attachment-icon">
        <Icon name="file" size={22} />
      </span>
      <span class="attachment-name" dir="auto">
        {file.name}
      </span>
      <span class="attachment-size">{formatBytes(file.size)}</span>
      <TransferBar id={file.id} idle={null} />
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

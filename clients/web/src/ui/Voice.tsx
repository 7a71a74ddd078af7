import { useEffect, useRef, useState } from 'preact/hooks';
import { type FileRef, MAX_VOICE_MS, voiceLabel } from '../engine/index.js';
import { useBlobUrl } from './Attachment.js';
import { useActions } from './hooks.js';
import { Icon } from './Icon.js';
import { TransferBar } from './Transfer.js';

/** Opus in WebM (Chromium, Firefox), Opus in Ogg, then AAC in MP4 (Safari): the first the browser records. */
const TYPES = ['audio/webm;codecs=opus', 'audio/ogg;codecs=opus', 'audio/mp4'];

const clock = (ms: number) => {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
};

/** Why the microphone could not be used, in words the user can act on. */
function micProblem(e: unknown): string {
  const name = (e as { name?: string } | null)?.name;
  if (name === 'NotAllowedError' || name === 'SecurityError')
    return 'Hush may not use the microphone. Allow it in the browser’s site settings, then try again.';
  if (name === 'NotFoundError') return 'No microphone was found.';
  return 'The microphone could not be started.';
}

interface Recording {
  recorder: MediaRecorder;
  stream: MediaStream;
  chunks: Blob[];
  startedAt: number;
  send: boolean;
}

/**
 * "Record voice message": records from the microphone in the browser (MediaRecorder), then sends
 * the audio as an encrypted attachment marked as a voice message. Cancel throws it away; a
 * recording stops and is sent by itself at MAX_VOICE_MS.
 */
export function RecordButton({ peer, disabled }: { peer: string; disabled: boolean }) {
  const a = useActions();
  const rec = useRef<Recording | null>(null);
  const [recording, setRecording] = useState(false);
  const [elapsed, setElapsed] = useState(0);
  const [problem, setProblem] = useState<string | null>(null);
  const supported = typeof MediaRecorder !== 'undefined' && Boolean(navigator.mediaDevices?.getUserMedia);

  useEffect(() => {
    if (!recording) return;
    const t = setInterval(() => {
      const r = rec.current;
      if (!r) return;
      const ms = performance.now() - r.startedAt;
      setElapsed(ms);
      if (ms >= MAX_VOICE_MS) stop(true);
    }, 250);
    return () => clearInterval(t);
  }, [recording]);
  // Leaving the chat mid-recording throws the recording away and frees the microphone.
  useEffect(() => () => stop(false), []);

  const start = async () => {
    setProblem(null);
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch (e) {
      setProblem(micProblem(e));
      return;
    }
    const mimeType = TYPES.find((t) => MediaRecorder.isTypeSupported(t));
    const recorder = new MediaRecorder(stream, mimeType ? { mimeType } : {});
    const r: Recording = { recorder, stream, chunks: [], startedAt: performance.now(), send: false };
    recorder.ondataavailable = (e) => {
      if (e.data.size > 0) r.chunks.push(e.data);
    };
    recorder.onstop = () => {
      for (const t of stream.getTracks()) t.stop();
      if (!r.send) return;
      const voiceMs = Math.min(MAX_VOICE_MS, Math.round(performance.now() - r.startedAt));
      const type = recorder.mimeType || mimeType || 'audio/webm';
      void new Blob(r.chunks, { type }).arrayBuffer().then((buf) =>
        a.sendFile(peer, {
          name: `Voice message ${new Date().toISOString().slice(0, 19).replace('T', ' ')}.${type.includes('mp4') ? 'm4a' : type.includes('ogg') ? 'ogg' : 'webm'}`,
          mime: type,
          bytes: new Uint8Array(buf),
          voiceMs,
        }),
      );
    };
    recorder.start(1000);
    rec.current = r;
    setElapsed(0);
    setRecording(true);
  };

  const stop = (send: boolean) => {
    const r = rec.current;
    rec.current = null;
    setRecording(false);
    if (!r) return;
    r.send = send;
    if (r.recorder.state !== 'inactive') r.recorder.stop();
    else for (const t of r.stream.getTracks()) t.stop();
  };

  if (recording)
    return (
      <div class="recording" data-testid="recording">
        <span class="rec-dot" aria-hidden="true" />
        <span class="rec-time" role="timer" aria-label={`Recording, ${clock(elapsed)}`}>
          {clock(elapsed)}
        </span>
        <button class="btn small" type="button" onClick={() => stop(false)}>
          Cancel recording
        </button>
        <button class="btn small primary" type="button" onClick={() => stop(true)}>
          Send voice message
        </button>
      </div>
    );
  return (
    <>
      <button
        class="btn attach"
        type="button"
        aria-label="Record voice message"
        title={supported ? 'Record a voice message (encrypted on this device)' : 'This browser cannot record audio'}
        disabled={disabled || !supported}
        onClick={() => void start()}
      >
        <Icon name="mic" />
      </button>
      {problem && (
        <p class="composer-problem" role="alert">
          {problem}
        </p>
      )}
    </>
  );
}

/** A voice message in a bubble: a player for the decrypted audio and its length. */
export function VoiceNote({ file }: { file: FileRef }) {
  const { url, error } = useBlobUrl(file, true);
  const label = voiceLabel(file.voiceMs ?? 0);
  return (
    <div class="voice-note" data-testid="voice-note">
      {url ? (
        // biome-ignore lint/a11y/useMediaCaption: a voice message has no caption track to offer
        <audio controls preload="metadata" src={url} aria-label={label} data-testid="voice-audio" />
      ) : (
        <TransferBar id={file.id} idle={error ? null : 'Loading voice message…'} />
      )}
      <span class="voice-length">{label}</span>
      {error && (
        <span class="attachment-error" role="alert">
          {error}
        </span>
      )}
    </div>
  );
}

import jsQR from 'jsqr';
import { useEffect, useRef, useState } from 'preact/hooks';
import type { SafetyInfo } from '../engine/index.js';
import { encryptionStatus, groupSafetyNumber } from '../engine/index.js';
import { useActions, useAppState } from './hooks.js';
import { Qr } from './Qr.js';

/** How often the camera frame is searched for a QR code (jsQR costs a few ms per frame). */
const SCAN_INTERVAL_MS = 200;

/**
 * The verification view: the 60-digit safety number in 12 groups of 5, a QR code of
 * our side, and three ways to confirm: compare and press "Mark as verified", scan the other
 * device's code with the camera, or paste its payload.
 */
export function Verify({ peer, onClose }: { peer: string; onClose: () => void }) {
  const s = useAppState();
  const a = useActions();
  const conv = s.conversations.find((c) => c.peer === peer);
  const [info, setInfo] = useState<SafetyInfo | null>(null);
  const [payload, setPayload] = useState('');
  const [result, setResult] = useState<'ok' | 'bad' | null>(null);
  const [scanning, setScanning] = useState(false);
  const heading = useRef<HTMLHeadingElement>(null);

  useEffect(() => {
    heading.current?.focus();
  }, []);
  useEffect(() => {
    let live = true;
    void a.safety(peer).then((i) => live && setInfo(i));
    return () => {
      live = false;
    };
  }, [peer, conv?.identityKey, a]);

  if (!conv) return null;
  const status = encryptionStatus(conv);
  const check = async (text: string) => {
    const ok = await a.verifyPayload(peer, text.trim());
    setResult(ok ? 'ok' : 'bad');
  };

  return (
    <section class="verify" aria-labelledby="verify-title">
      <button class="btn small" type="button" onClick={onClose}>
        Back to chat
      </button>
      <h2 id="verify-title" class="verify-title" tabIndex={-1} ref={heading}>
        Verify {conv.username}
      </h2>
      <p>
        Compare these numbers with the ones on {conv.username}’s screen, in person or over a channel you trust. If they
        match, your messages cannot be read by anyone in between.
      </p>
      {status === 'red' || !info ? (
        <p class="notice">No safety number yet: this conversation has no keys to compare.</p>
      ) : (
        <>
          <ol class="digits" aria-label="Safety number" data-testid="safety-number">
            {groupSafetyNumber(info.digits).map((g, i) => (
              <li key={i}>{g}</li>
            ))}
          </ol>
          <Qr text={info.qrPayload} label={`QR code of your safety number with ${conv.username}`} />
          <details>
            <summary>Show the QR code’s text (to paste on the other device)</summary>
            <output class="wire" data-testid="qr-payload">
              {info.qrPayload}
            </output>
          </details>
          <div class="actions">
            {status === 'green' ? (
              <>
                <p class="result ok" role="status">
                  Verified.
                </p>
                <button class="btn" type="button" onClick={() => void a.unverify(peer)}>
                  Clear verification
                </button>
              </>
            ) : (
              <>
                {conv.sendHold === 'user' && (
                  <p class="result" role="status" data-testid="new-safety-number">
                    This is {conv.username}’s new safety number. Nothing is sent until you mark it as verified or accept
                    it.
                  </p>
                )}
                <button class="btn primary" type="button" onClick={() => void a.markVerified(peer)}>
                  Mark as verified
                </button>
                {conv.sendHold === 'user' && (
                  <button class="btn" type="button" onClick={() => void a.acceptKeyChange(peer)}>
                    Accept new safety number
                  </button>
                )}
              </>
            )}
            <button class="btn" type="button" aria-pressed={scanning} onClick={() => setScanning(!scanning)}>
              {scanning ? 'Stop camera' : 'Scan their code'}
            </button>
          </div>
          {scanning && (
            <Scanner
              onCode={(t) => {
                setScanning(false);
                void check(t);
              }}
            />
          )}
          <form
            class="paste"
            onSubmit={(e) => {
              e.preventDefault();
              void check(payload);
            }}
          >
            <div class="field">
              <label for="payload">Their code’s text</label>
              <textarea id="payload" value={payload} onInput={(e) => setPayload(e.currentTarget.value)} />
            </div>
            <button class="btn" type="submit">
              Compare
            </button>
          </form>
          {result && (
            <p class={`result ${result}`} role="status" data-testid="verify-result">
              {result === 'ok'
                ? 'The codes match. Marked as verified.'
                : 'The codes do not match. Do not mark this contact as verified.'}
            </p>
          )}
        </>
      )}
    </section>
  );
}

/** Camera scanning with getUserMedia + jsQR; frames are drawn to an off-screen canvas. */
export function Scanner({ onCode }: { onCode: (text: string) => void }) {
  const video = useRef<HTMLVideoElement>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stream: MediaStream | null = null;
    let timer: ReturnType<typeof setInterval> | undefined;
    let done = false;
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    // Every failure is caught inside and shown; nothing is left to reject.
    void (async () => {
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
        if (done) return;
        const v = video.current!;
        v.srcObject = stream;
        await v.play();
        timer = setInterval(() => {
          if (!ctx || v.videoWidth === 0) return;
          canvas.width = v.videoWidth;
          canvas.height = v.videoHeight;
          ctx.drawImage(v, 0, 0);
          const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
          const code = jsQR(img.data, img.width, img.height, { inversionAttempts: 'dontInvert' });
          if (code?.data) {
            done = true;
            onCode(code.data);
          }
        }, SCAN_INTERVAL_MS);
      } catch (e) {
        setError(e instanceof Error ? `The camera is not available: ${e.message}` : 'The camera is not available');
      }
    })();
    return () => {
      done = true;
      clearInterval(timer);
      for (const t of stream?.getTracks() ?? []) t.stop();
    };
  }, [onCode]);
  return (
    <div class="scanner">
      {error ? (
        <p class="notice" role="alert">
          {error}
        </p>
      ) : (
        <video ref={video} muted playsInline aria-label="Camera preview for scanning their QR code" />
      )}
    </div>
  );
}

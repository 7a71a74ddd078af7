import type { Transfer } from '../engine/index.js';
import { useAppState } from './hooks.js';

const VERB: Record<Transfer['phase'], string> = {
  encrypting: 'Encrypting',
  uploading: 'Sending',
  downloading: 'Downloading',
  decrypting: 'Decrypting',
};

/** "Sending notes.pdf, 40 %" with a native progress bar (screen readers announce its value). */
function Bar({ t }: { t: Transfer }) {
  const pct = t.total > 0 ? Math.floor((100 * t.done) / t.total) : 0;
  const label = `${VERB[t.phase]} ${t.name}`;
  return (
    <div class="transfer" data-testid="transfer" data-phase={t.phase}>
      <span class="transfer-label">
        {label} · {pct} %
      </span>
      <progress max={100} value={pct} aria-label={label} />
    </div>
  );
}

/** The progress of one file's download (by file id); `idle` when nothing is moving. */
export function TransferBar({ id, idle }: { id: string; idle: string | null }) {
  const t = useAppState().transfers[id];
  if (t) return <Bar t={t} />;
  return idle ? <span class="transfer-label">{idle}</span> : null;
}

/** Uploads to this conversation, above its composer. */
export function Uploads({ peer }: { peer: string }) {
  const s = useAppState();
  const mine = Object.entries(s.transfers).filter(([, t]) => t.peer === peer);
  if (mine.length === 0) return null;
  return (
    <div class="uploads">
      {mine.map(([k, t]) => (
        <Bar key={k} t={t} />
      ))}
    </div>
  );
}

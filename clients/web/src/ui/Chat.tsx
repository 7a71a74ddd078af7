import { Component } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import {
  b64Bytes,
  type ChatMessage,
  type Conversation,
  encryptionStatus,
  formatLastSeen,
  formatTime,
  MAX_TEXT_CHARS,
  type Tick,
  type WireRecord,
} from '../engine/index.js';
import { DeviceNoticeBanner } from './Devices.js';
import { useActions, useAppState, useNow } from './hooks.js';

const TICK_TEXT: Record<Tick, { mark: string; label: string }> = {
  pending: { mark: '○', label: 'Waiting to send' },
  sent: { mark: '✓', label: 'Sent' },
  delivered: { mark: '✓✓', label: 'Delivered' },
  read: { mark: '✓✓', label: 'Read' },
  failed: { mark: '!', label: 'Not sent' },
};
const BADGE = {
  green: 'Verified',
  yellow: 'Not verified',
  red: 'Cannot encrypt',
} as const;

export function Chat({ peer, onBack, onVerify }: { peer: string; onBack: () => void; onVerify: () => void }) {
  const s = useAppState();
  const a = useActions();
  const now = useNow();
  const conv = s.conversations.find((c) => c.peer === peer);
  const messages = s.messages[peer] ?? [];
  const [draft, setDraft] = useState('');
  const log = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  // Messages present when the chat opened do not animate; later arrivals do.
  const seen = useRef<Set<string> | null>(null);
  if (seen.current === null) seen.current = new Set(messages.map((m) => m.id));

  useLayoutEffect(() => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length, s.typing[peer]]);
  useEffect(() => {
    input.current?.focus();
  }, [peer]);

  if (!conv) return <div class="placeholder">Choose a conversation.</div>;
  const status = encryptionStatus(conv);
  const canSend = status !== 'red' && draft.trim().length > 0 && draft.length <= MAX_TEXT_CHARS;

  const send = (e?: Event) => {
    e?.preventDefault();
    if (!canSend) return;
    const text = draft;
    setDraft('');
    a.typing(peer, false);
    void a.send(peer, text);
  };

  return (
    <section class="chat" aria-labelledby="chat-title" data-status={status}>
      <header>
        <button class="btn small back" type="button" onClick={onBack}>
          <span aria-hidden="true">←</span> Chats
        </button>
        <div class="who">
          <h2 id="chat-title">{conv.username}</h2>
          <div class="presence" data-testid="presence">
            {formatLastSeen(s.presence[peer], now)}
          </div>
        </div>
        <button
          class={`badge ${status}`}
          type="button"
          data-testid="encryption-status"
          data-status={status}
          onClick={onVerify}
          aria-label={`Encryption: ${BADGE[status]}. Open verification`}
        >
          <span aria-hidden="true" class="dot">
            ●{' '}
          </span>
          {BADGE[status]}
        </button>
      </header>
      {s.connection !== 'online' && (
        <div class="banner offline" role="status" data-testid="offline-banner">
          <p>
            {s.connection === 'connecting' ? 'Reconnecting…' : 'You are offline.'} Messages you write wait in the outbox
            and go out when the connection is back.
          </p>
        </div>
      )}
      <KeyChangeBanner conv={conv} onVerify={onVerify} />
      <DeviceNoticeBanner conv={conv} />
      {status === 'red' && (
        <div class="banner bad" role="alert">
          <p>
            Cannot encrypt to {conv.username}: {conv.cannotEncrypt ?? 'no keys yet'}. Nothing will be sent until this is
            fixed.
          </p>
        </div>
      )}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1, axe scrollable-region-focusable) */}
      <div class="log" ref={log} role="log" aria-label={`Messages with ${conv.username}`} tabIndex={0}>
        {messages.length === 0 && (
          <p class="empty">
            {status === 'red' ? 'No messages.' : 'No messages yet. Say hello; it is end-to-end encrypted.'}
          </p>
        )}
        {messages.map((m) => (
          <Bubble
            key={m.id}
            m={m}
            now={now}
            fresh={!seen.current!.has(m.id)}
            showWire={s.showWire}
            peerName={conv.username}
          />
        ))}
      </div>
      <div class="typing" aria-live="polite" data-testid="typing">
        {s.typing[peer] ? `${conv.username} is typing…` : ''}
      </div>
      <form class="composer" onSubmit={send}>
        <div class="field">
          <label class="sr-only" for="composer">
            Message
          </label>
          <textarea
            id="composer"
            ref={input}
            rows={1}
            placeholder={
              status === 'red'
                ? 'Cannot encrypt: sending is off'
                : conv.sendHold === 'user'
                  ? 'Messages wait until you verify or accept the new safety number'
                  : 'Message'
            }
            maxLength={MAX_TEXT_CHARS}
            value={draft}
            onInput={(e) => {
              const v = e.currentTarget.value;
              setDraft(v);
              a.typing(peer, v.length > 0);
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) send(e);
            }}
          />
        </div>
        <button class="btn primary" type="submit" disabled={!canSend}>
          Send
        </button>
      </form>
    </section>
  );
}

function KeyChangeBanner({ conv, onVerify }: { conv: Conversation; onVerify: () => void }) {
  const a = useActions();
  // A verified contact's change stops all sending until the user chooses (core/trust.ts).
  if (conv.sendHold === 'user')
    return (
      <div class="banner warn" role="alert" aria-labelledby="key-change-text" data-testid="key-change-banner">
        <p id="key-change-text">
          {conv.username}’s safety number has changed since you verified it. They may have reinstalled or signed in on a
          new device — or someone may be trying to intercept your messages. Nothing is sent to {conv.username}, not even
          messages already waiting, until you verify the new safety number or accept it.
        </p>
        <div class="choices">
          <button class="btn small" type="button" onClick={onVerify}>
            Verify again
          </button>
          <button class="btn small" type="button" onClick={() => void a.acceptKeyChange(conv.peer)}>
            Accept new safety number
          </button>
        </div>
      </div>
    );
  if (!conv.keyChange) return null;
  return (
    <div class="banner warn" role="alert" data-testid="key-change-banner">
      <p>
        {conv.username}’s safety number has changed{conv.keyChange.wasVerified ? ' since you verified it' : ''}. They
        may have reinstalled or signed in on a new device — or someone may be trying to intercept your messages. Verify
        again before you share anything sensitive.
      </p>
      <div class="choices">
        <button class="btn small" type="button" onClick={onVerify}>
          Verify again
        </button>
        <button class="btn small" type="button" onClick={() => void a.dismissKeyChange(conv.peer)}>
          Dismiss
        </button>
      </div>
    </div>
  );
}

type BubbleProps = Parameters<typeof BubbleView>[0];
/** Only the bubbles whose props changed re-render (a burst otherwise re-renders every bubble per tick). */
class Bubble extends Component<BubbleProps> {
  override shouldComponentUpdate(next: BubbleProps): boolean {
    const p = this.props as Record<string, unknown>;
    return Object.entries(next).some(([k, v]) => p[k] !== v);
  }
  override render() {
    return BubbleView(this.props);
  }
}

function BubbleView({
  m,
  now,
  fresh,
  showWire,
  peerName,
}: {
  m: ChatMessage;
  now: number;
  fresh: boolean;
  showWire: boolean;
  peerName: string;
}) {
  if (m.dir === 'event')
    return (
      <p class="event" data-testid="timeline-notice">
        <span aria-hidden="true">⚠ </span>
        {m.text}
        <time dateTime={new Date(m.sentAt).toISOString()}> · {formatTime(m.sentAt, now)}</time>
      </p>
    );
  const t = TICK_TEXT[m.tick];
  return (
    <div class={`msg ${m.dir}${fresh ? ' fresh' : ''}`} data-id={m.id} data-tick={m.tick} data-testid="message">
      <span class="sr-only">{m.dir === 'out' ? 'You:' : `${peerName}:`}</span>
      {m.undecryptable ? (
        <div class="bubble undecryptable" data-testid="undecryptable">
          Could not decrypt this message.
        </div>
      ) : (
        <div class="bubble">{m.text}</div>
      )}
      <div class="meta">
        <time dateTime={new Date(m.sentAt).toISOString()}>{formatTime(m.sentAt, now)}</time>
        {m.dir === 'out' && (
          <span class="tick" data-tick={m.tick} title={m.error ?? t.label}>
            <span aria-hidden="true">{t.mark}</span>
            <span class="sr-only">{m.error ? `${t.label}: ${m.error}` : t.label}</span>
          </span>
        )}
      </div>
      {showWire && <WireView w={m.wire} />}
    </div>
  );
}

/** The envelope(s) exactly as the gateway got or gave them: routing, base64 ciphertext, sizes. */
function WireView({ w }: { w: WireRecord | null }) {
  if (!w) return <pre class="wire">Not sent yet: still in the outbox on this device.</pre>;
  const json = JSON.stringify(w.frame, null, 1);
  const bodies = w.kind === 'sent' ? w.frame.envelopes.map((e) => e.body) : [w.frame.body];
  const ct = bodies.reduce((n, b) => n + b64Bytes(b), 0);
  return (
    <pre class="wire" data-testid="wire">
      {`${w.kind === 'sent' ? 'Sent frame' : 'Delivered frame'}: ${bodies.length} envelope${bodies.length === 1 ? '' : 's'}, ${ct} bytes of ciphertext, ${new TextEncoder().encode(json).length} bytes JSON\n${json}`}
    </pre>
  );
}

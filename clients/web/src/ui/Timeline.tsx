import { Component, Fragment } from 'preact';
import { useLayoutEffect, useRef, useState } from 'preact/hooks';
import { b64Bytes, type ChatMessage, dayLabel, formatClock, type Tick, type WireRecord } from '../engine/index.js';
import { FileView } from './Attachment.js';
import { RichText } from './RichText.js';

const TICK_TEXT: Record<Tick, { mark: string; label: string }> = {
  pending: { mark: '○', label: 'Waiting to send' },
  sent: { mark: '✓', label: 'Sent' },
  delivered: { mark: '✓✓', label: 'Delivered' },
  read: { mark: '✓✓', label: 'Read' },
  failed: { mark: '!', label: 'Not sent' },
};
/** Messages from one side closer together than this share one time, under the last of them. */
const GROUP_MS = 5 * 60_000;
/** Within this many pixels of the bottom counts as "at the bottom": new messages scroll into view. */
const NEAR_BOTTOM_PX = 48;

const dayKey = (ms: number) => new Date(ms).toDateString();

/**
 * The messages of one conversation: a list (one item per message, so screen readers count and
 * step through them), day separators ("Today", "Yesterday", a date), an "Unread messages" divider
 * where the unread ones began when the chat was opened, and times shown once per group.
 * Scrolling: at the bottom it follows new messages; scrolled up it stays put and offers
 * "New messages ↓" instead of yanking the reader down.
 */
export function Timeline({
  messages,
  peerName,
  now,
  showWire,
  typing,
  empty,
}: {
  /** What an empty conversation says. */
  empty: string;
  messages: ChatMessage[];
  peerName: string;
  now: number;
  showWire: boolean;
  typing: boolean;
}) {
  const log = useRef<HTMLDivElement>(null);
  // Fixed when the chat opens: the first message not yet read then, and what was there (no animation).
  const opened = useRef<{ firstUnread: string | null; seen: Set<string> } | null>(null);
  if (opened.current === null)
    opened.current = {
      firstUnread: messages.find((m) => m.dir === 'in' && m.tick !== 'read')?.id ?? null,
      seen: new Set(messages.map((m) => m.id)),
    };
  const { firstUnread, seen } = opened.current;
  const atBottom = useRef(true);
  const count = useRef(messages.length);
  const [below, setBelow] = useState(0);

  const toBottom = () => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
    atBottom.current = true;
    setBelow(0);
  };
  // On open: the unread divider in view, else the newest message.
  useLayoutEffect(() => {
    const divider = firstUnread ? log.current?.querySelector<HTMLElement>('[data-testid="unread-divider"]') : null;
    if (divider && log.current) {
      log.current.scrollTop = Math.max(0, divider.offsetTop - 8);
      atBottom.current = false;
    } else toBottom();
  }, []);
  useLayoutEffect(() => {
    const added = messages.length - count.current;
    count.current = messages.length;
    // Everything fits on screen (opened at a short unread divider, say): nothing is below the fold,
    // so there is nothing to point "New messages ↓" at.
    const el = log.current;
    const fits = el !== null && el.scrollHeight <= el.clientHeight;
    if (atBottom.current || fits) toBottom();
    else if (added > 0) setBelow((n) => n + added);
  }, [messages.length, typing]);

  let lastDay = '';
  const items = messages.map((m, i) => {
    const day = dayKey(m.sentAt);
    const next = messages[i + 1];
    const grouped =
      next !== undefined && next.dir === m.dir && dayKey(next.sentAt) === day && next.sentAt - m.sentAt < GROUP_MS;
    const sep = day !== lastDay;
    lastDay = day;
    return (
      <Fragment key={m.id}>
        {sep && (
          <li key={`day-${day}`} class="day" data-testid="day-separator">
            <span>{dayLabel(m.sentAt, now)}</span>
          </li>
        )}
        {m.id === firstUnread && (
          <li key="unread" class="unread-divider" data-testid="unread-divider">
            <span>Unread messages</span>
          </li>
        )}
        <Bubble key={m.id} m={m} fresh={!seen.has(m.id)} showWire={showWire} peerName={peerName} showTime={!grouped} />
      </Fragment>
    );
  });

  return (
    <div class="log-wrap">
      <div
        class="log"
        ref={log}
        role="log"
        aria-label={`Messages with ${peerName}`}
        // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1, axe scrollable-region-focusable)
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < NEAR_BOTTOM_PX;
          if (atBottom.current && below > 0) setBelow(0);
        }}
      >
        {messages.length === 0 ? <p class="empty">{empty}</p> : <ol class="msgs">{items}</ol>}
      </div>
      {below > 0 && (
        <button class="btn small new-below" type="button" data-testid="new-below" onClick={toBottom}>
          New messages <span aria-hidden="true">↓</span>
          <span class="sr-only"> ({below}), go to the newest</span>
        </button>
      )}
    </div>
  );
}

interface BubbleProps {
  m: ChatMessage;
  fresh: boolean;
  showWire: boolean;
  peerName: string;
  showTime: boolean;
}

/** Only the bubbles whose props changed re-render (a burst otherwise re-renders every bubble per tick). */
class Bubble extends Component<BubbleProps> {
  override shouldComponentUpdate(next: BubbleProps): boolean {
    const p = this.props as unknown as Record<string, unknown>;
    return Object.entries(next).some(([k, v]) => p[k] !== v);
  }
  override render() {
    return bubble(this.props);
  }
}

function bubble({ m, fresh, showWire, peerName, showTime }: BubbleProps) {
  const time = (
    <time dateTime={new Date(m.sentAt).toISOString()} class={showTime ? undefined : 'sr-only'}>
      {formatClock(m.sentAt)}
    </time>
  );
  if (m.dir === 'event')
    return (
      <li class="event" data-testid="timeline-notice">
        <span aria-hidden="true">⚠ </span>
        {m.text} · {time}
      </li>
    );
  const t = TICK_TEXT[m.tick];
  return (
    <li class={`msg ${m.dir}${fresh ? ' fresh' : ''}`} data-id={m.id} data-tick={m.tick} data-testid="message">
      <span class="sr-only">{m.dir === 'out' ? 'You: ' : `${peerName}: `}</span>
      {m.undecryptable ? (
        <div class="bubble undecryptable" data-testid="undecryptable">
          Could not decrypt this message.
        </div>
      ) : (
        <div class="bubble" dir="auto">
          {m.file && <FileView file={m.file} />}
          <RichText text={m.text} />
        </div>
      )}
      <div class="meta">
        {time}
        {m.dir === 'out' && (
          <span class="tick" data-tick={m.tick} title={m.error ?? t.label}>
            <span aria-hidden="true">{t.mark}</span>
            {/* Ends with a full stop so a screen reader does not run it into the next message. */}
            <span class="sr-only">{m.error ? `, ${t.label}: ${m.error}.` : `, ${t.label}.`}</span>
          </span>
        )}
      </div>
      {showWire && <WireView w={m.wire} />}
    </li>
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

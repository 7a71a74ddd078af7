import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  type ChatMessage,
  type Conversation,
  encryptionStatus,
  formatLastSeen,
  MAX_TEXT_CHARS,
  shownName,
} from '../engine/index.js';
import { AttachButton } from './Attachment.js';
import { DeviceNoticeBanner } from './Devices.js';
import { Disappearing } from './Disappearing.js';
import { useActions, useAppState, useNow } from './hooks.js';
import { MessageScopeContext, ReplyBar } from './MessageActions.js';
import { Avatar } from './Profile.js';
import { growComposer } from './RichText.js';
import { Timeline } from './Timeline.js';
import { Uploads } from './Transfer.js';
import { RecordButton } from './Voice.js';

const WAITING = 'Not registered yet';
const BADGE = {
  green: 'Verified',
  yellow: 'Not verified',
  red: 'Cannot encrypt',
} as const;

/** Show the counter from this many characters on (and always once over the limit). */
const COUNTER_FROM = Math.floor(MAX_TEXT_CHARS * 0.8);
const DRAFT_SAVE_MS = 400;

export function Chat({ peer, onBack, onVerify }: { peer: string; onBack: () => void; onVerify: () => void }) {
  const s = useAppState();
  const a = useActions();
  const now = useNow();
  const conv = s.conversations.find((c) => c.peer === peer);
  const messages = s.messages[peer] ?? [];
  // The draft comes back from the encrypted store (kept across reloads) and is saved as typed.
  const [draft, setDraft] = useState(conv?.draft ?? '');
  const saveTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const input = useRef<HTMLTextAreaElement>(null);
  const [replying, setReplying] = useState<ChatMessage | null>(null);

  useEffect(() => {
    input.current?.focus();
  }, [peer]);
  useEffect(() => () => clearTimeout(saveTimer.current), []);
  // A restored draft, or the empty box after sending: the composer's height follows its text.
  useEffect(() => {
    if (input.current) growComposer(input.current);
  }, [draft === '']);

  const me = s.me?.userId ?? '';
  const username = conv?.username ?? '';
  const canSendHere = conv ? encryptionStatus(conv) !== 'red' : false;
  // One scope object until something in it changes: every bubble's menu reads it from context, and
  // a new object on each render re-rendered every bubble on every update (a burst spent most of
  // its time there: docs/BENCHMARKS.md, web client burst).
  const scope = useMemo(
    () => ({
      conv: peer,
      me,
      nameOf: (u: string) => (u === me ? 'You' : u === peer ? username : u),
      canSend: canSendHere,
      onReply: (m: ChatMessage) => {
        setReplying(m);
        input.current?.focus();
      },
    }),
    [peer, me, username, canSendHere],
  );

  if (!conv) return <div class="placeholder">Choose a conversation.</div>;
  const status = encryptionStatus(conv);
  const over = draft.length - MAX_TEXT_CHARS;
  // Not registered yet: Send stays on, as pressing it looks for their keys again (engine/outbox.ts).
  const waiting = status === 'red' && Boolean(conv.keysMissing);
  const canSend = (status !== 'red' || waiting) && draft.trim().length > 0 && over <= 0;

  const edit = (v: string) => {
    setDraft(v);
    a.typing(peer, v.length > 0);
    clearTimeout(saveTimer.current);
    saveTimer.current = setTimeout(() => void a.saveDraft(peer, v), DRAFT_SAVE_MS);
  };
  const send = (e?: Event) => {
    e?.preventDefault();
    if (!canSend) return;
    const text = draft;
    clearTimeout(saveTimer.current);
    setDraft('');
    // A plain send ends "typing" in the engine (without a message of its own); a reply says so here.
    if (replying) {
      a.typing(peer, false);
      void a.messages.reply(peer, replying.id, text);
    } else void a.send(peer, text);
    setReplying(null);
  };
  const nameOf = scope.nameOf;
  const self = s.connection;

  return (
    <section class="chat" aria-labelledby="chat-title" data-status={status}>
      <header>
        <button class="btn small back" type="button" onClick={onBack}>
          <span aria-hidden="true">←</span> Chats
        </button>
        <Avatar userId={conv.peer} name={shownName(conv)} file={conv.avatar} size={36} />
        <div class="who">
          <h2 id="chat-title">{shownName(conv)}</h2>
          {conv.displayName && <div class="username">@{conv.username}</div>}
          {/* While we are not connected we know nothing new about them: say where we are instead. */}
          <div class="presence" data-testid="presence">
            {self === 'online' ? formatLastSeen(s.presence[peer], now) : SELF_STATE[self]}
          </div>
        </div>
        <Disappearing conv={peer} seconds={conv.timer?.seconds ?? 0} disabled={status === 'red'} />
        <button
          class={`badge ${status}`}
          type="button"
          data-testid="encryption-status"
          data-status={status}
          onClick={onVerify}
          aria-label={`Encryption: ${waiting ? WAITING : BADGE[status]}. Open verification`}
        >
          <span aria-hidden="true" class="dot">
            ●{' '}
          </span>
          {waiting ? WAITING : BADGE[status]}
        </button>
      </header>
      {self === 'replaced' ? (
        <div class="banner offline" role="status" data-testid="offline-banner">
          <p>
            Hush connected from another window on this device, so this one paused. Messages you write here wait in the
            outbox.
          </p>
          <button class="btn small" type="button" onClick={() => a.useHere()}>
            Use here
          </button>
        </div>
      ) : (
        self !== 'online' && (
          <div class="banner offline" role="status" data-testid="offline-banner">
            <p>
              {self === 'connecting' ? 'Reconnecting…' : 'You are offline.'} Messages you write wait in the outbox and
              go out when the connection is back.
            </p>
          </div>
        )
      )}
      <KeyChangeBanner conv={conv} onVerify={onVerify} />
      <DeviceNoticeBanner conv={conv} />
      {waiting && (
        <div class="banner warn" role="status" data-testid="not-registered">
          <p>
            {conv.username} is not registered yet: their keys are not published, so nothing can be encrypted to them
            yet. Hush looks again every few seconds while this chat is open, and when you press Send.
          </p>
        </div>
      )}
      {status === 'red' && !waiting && (
        <div class="banner bad" role="alert" data-testid="cannot-encrypt">
          <p>
            Hush cannot encrypt to {conv.username} ({(conv.cannotEncrypt ?? 'no keys published yet').replace(/\.$/, '')}
            ). So that nothing leaks, nothing you write here is sent. This usually means {conv.username} has not opened
            Hush since signing up, or their keys failed a check; Hush looks again each time you open this chat.
          </p>
        </div>
      )}
      <MessageScopeContext.Provider value={scope}>
        <Timeline
          key={peer}
          messages={messages}
          peerName={conv.username}
          now={now}
          showWire={s.showWire}
          typing={Boolean(s.typing[peer])}
          empty={status === 'red' ? 'No messages.' : 'No messages yet. Say hello; it is end-to-end encrypted.'}
        />
      </MessageScopeContext.Provider>
      <div class="typing" aria-live="polite" data-testid="typing">
        {s.typing[peer] ? `${conv.username} is typing…` : ''}
      </div>
      <Uploads peer={peer} />
      {replying && (
        <ReplyBar m={replying} name={nameOf(replying.dir === 'out' ? me : peer)} onCancel={() => setReplying(null)} />
      )}
      <form class="composer" onSubmit={send}>
        <div class="field">
          <label class="sr-only" for="composer">
            Message
          </label>
          <textarea
            id="composer"
            ref={input}
            rows={1}
            aria-describedby={draft.length >= COUNTER_FROM ? 'composer-count' : undefined}
            aria-invalid={over > 0 ? 'true' : undefined}
            placeholder={
              waiting
                ? 'Waiting for their keys'
                : status === 'red'
                  ? 'Cannot encrypt: sending is off'
                  : conv.sendHold === 'user'
                    ? 'Messages wait until you verify or accept the new safety number'
                    : 'Message'
            }
            value={draft}
            onInput={(e) => {
              edit(e.currentTarget.value);
              growComposer(e.currentTarget);
            }}
            onKeyDown={(e) => {
              if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) send(e);
            }}
          />
          {draft.length >= COUNTER_FROM && (
            <p id="composer-count" class={`count${over > 0 ? ' over' : ''}`} data-testid="composer-count">
              {draft.length.toLocaleString('en')} / {MAX_TEXT_CHARS.toLocaleString('en')} characters
              {over > 0 && ` — ${over.toLocaleString('en')} too many: shorten it or send it in parts.`}
            </p>
          )}
        </div>
        <AttachButton peer={peer} disabled={status === 'red'} />
        <RecordButton peer={peer} disabled={status === 'red'} />
        <button class="btn primary" type="submit" disabled={!canSend}>
          Send
        </button>
      </form>
    </section>
  );
}

const SELF_STATE = {
  online: '',
  connecting: 'Connecting…',
  offline: 'You are offline',
  replaced: 'Paused: open in another window',
} as const;

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

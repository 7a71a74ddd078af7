import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import {
  b64Bytes,
  type ChatMessage,
  formatTime,
  type GroupRecord,
  groupStatusLabel,
  MAX_TEXT_CHARS,
  type Tick,
  visibleMessages,
} from '../engine/index.js';
import { Disappearing } from './Disappearing.js';
import { GroupInfo } from './GroupInfo.js';
import { statusOf, useGroups, useGroupsView } from './Groups.js';
import { useActions, useAppState, useNow } from './hooks.js';
import { MessageBody, MessageMenu, MessageScopeContext, MetaMarks, Reactions, ReplyBar } from './MessageActions.js';
import { growComposer } from './RichText.js';

const TICK: Record<Tick, { mark: string; label: string }> = {
  pending: { mark: '○', label: 'Waiting to send' },
  sent: { mark: '✓', label: 'Sent' },
  delivered: { mark: '✓✓', label: 'Delivered to everyone' },
  read: { mark: '✓✓', label: 'Read by everyone' },
  failed: { mark: '!', label: 'Not sent' },
};
const BADGE = { green: 'All verified', yellow: 'Not all verified', red: 'Cannot encrypt' } as const;

/** A group's timeline and composer; "Group info" (members, add, remove, leave) replaces it in place. */
export function GroupChat({
  groupId,
  onBack,
  onOpenChat,
}: {
  groupId: string;
  onBack: () => void;
  onOpenChat: (userId: string) => void;
}) {
  const s = useAppState();
  const v = useGroupsView();
  const groups = useGroups()!;
  const now = useNow();
  const [info, setInfo] = useState(false);
  const [draft, setDraft] = useState('');
  const [replying, setReplying] = useState<ChatMessage | null>(null);
  const a = useActions();
  const log = useRef<HTMLDivElement>(null);
  const box = useRef<HTMLTextAreaElement>(null);
  // The composer shrinks back to one line once a message went out.
  useEffect(() => {
    if (box.current) growComposer(box.current);
  }, [draft === '']);
  const g = v.groups.find((x) => x.id === groupId);
  const messages = visibleMessages(v.messages[groupId] ?? []);
  const typing = v.typing[groupId] ?? [];

  useEffect(() => {
    groups.openGroup(groupId);
    return () => groups.openGroup(null);
  }, [groups, groupId]);
  useLayoutEffect(() => {
    const el = log.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [messages.length, typing.length, info]);

  const me = s.me?.userId ?? '';
  const people = g?.people;
  const active = g?.state === 'active';
  // Stable until something in it changes (see ui/Chat.tsx: bubbles read it from context).
  const scope = useMemo(
    () => ({
      conv: `g:${groupId}`,
      me,
      nameOf: (u: string) => (u === me ? 'You' : (people?.find((p) => p.userId === u)?.username ?? 'A former member')),
      canSend: active,
      onReply: (m: ChatMessage) => setReplying(m),
    }),
    [groupId, me, people, active],
  );

  if (!g) return <div class="placeholder">Choose a conversation.</div>;
  if (info) return <GroupInfo g={g} onClose={() => setInfo(false)} onOpenChat={onOpenChat} />;
  const status = statusOf(s, g);
  const canSend = active && draft.trim().length > 0 && draft.length <= MAX_TEXT_CHARS;
  const name = (userId: string | undefined) => g.people.find((p) => p.userId === userId)?.username ?? 'A former member';

  const send = (e?: Event) => {
    e?.preventDefault();
    if (!canSend) return;
    const text = draft;
    setDraft('');
    if (replying) void a.messages.reply(`g:${groupId}`, replying.id, text);
    else void groups.send(groupId, text);
    setReplying(null);
  };

  return (
    <section class="chat group-chat" aria-labelledby="chat-title" data-status={status}>
      <header>
        <button class="btn small back" type="button" onClick={onBack}>
          <span aria-hidden="true">←</span> Chats
        </button>
        <div class="who">
          <h2 id="chat-title">{g.name || 'New group'}</h2>
          <div class="presence" data-testid="group-members-line">
            {['You', ...g.people.filter((p) => p.userId !== s.me?.userId).map((p) => p.username)].join(', ')}
          </div>
        </div>
        <button
          class={`badge ${status}`}
          type="button"
          data-testid="group-encryption-status"
          data-status={status}
          onClick={() => setInfo(true)}
          aria-label={`Encryption: ${groupStatusLabel(status)}. Open group info`}
        >
          <span aria-hidden="true" class="dot">
            ●{' '}
          </span>
          {BADGE[status]}
        </button>
        <Disappearing conv={`g:${groupId}`} seconds={g.timer?.seconds ?? 0} disabled={!active} />
        <button class="btn small" type="button" onClick={() => setInfo(true)}>
          Group info
        </button>
      </header>
      {s.connection !== 'online' && (
        <div class="banner offline" role="status">
          <p>
            {s.connection === 'connecting' ? 'Reconnecting…' : 'You are offline.'} Messages wait and go out when the
            connection is back.
          </p>
        </div>
      )}
      {!active && (
        <div class="banner bad" role="alert" data-testid="group-ended">
          <p>
            {g.state === 'removed' ? 'You were removed from this group.' : 'You left this group.'} This device holds no
            keys for it any more: it cannot read what is sent from now on, and cannot send.
          </p>
        </div>
      )}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1) */}
      <div class="log" ref={log} role="log" aria-label={`Messages in ${g.name || 'the group'}`} tabIndex={0}>
        {messages.length === 0 && <p class="empty">No messages yet. Everything here is end-to-end encrypted.</p>}
        <MessageScopeContext.Provider value={scope}>
          {messages.map((m) => (
            <GroupBubble key={m.id} m={m} now={now} author={name(m.sender)} showWire={s.showWire} />
          ))}
        </MessageScopeContext.Provider>
      </div>
      <div class="typing" aria-live="polite" data-testid="typing">
        {typing.length === 0 ? '' : `${typing.join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…`}
      </div>
      {replying && (
        <ReplyBar m={replying} name={scope.nameOf(replying.sender ?? me)} onCancel={() => setReplying(null)} />
      )}
      <form class="composer" onSubmit={send}>
        <div class="field">
          <label class="sr-only" for="composer">
            Message
          </label>
          <textarea
            id="composer"
            ref={box}
            rows={1}
            disabled={!active}
            placeholder={active ? `Message ${g.name}` : 'You are no longer in this group'}
            maxLength={MAX_TEXT_CHARS}
            value={draft}
            onInput={(e) => {
              const t = e.currentTarget.value;
              setDraft(t);
              growComposer(e.currentTarget);
              groups.typing(groupId, t.length > 0);
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

function GroupBubble({ m, now, author, showWire }: { m: ChatMessage; now: number; author: string; showWire: boolean }) {
  if (m.dir === 'event')
    return (
      <p class="event" data-testid="timeline-notice">
        {m.text}
        <time dateTime={new Date(m.sentAt).toISOString()}> · {formatTime(m.sentAt, now)}</time>
      </p>
    );
  const t = TICK[m.tick];
  const body = m.wire ? (m.wire.kind === 'sent' ? m.wire.frame.envelopes[0]?.body : m.wire.frame.body) : undefined;
  return (
    <div class={`msg ${m.dir}`} data-id={m.id} data-tick={m.tick} data-testid="message">
      {m.dir === 'in' ? (
        <span class="sender" data-testid="sender">
          {author}
        </span>
      ) : (
        <span class="sr-only">You:</span>
      )}
      {m.undecryptable ? (
        <div class="bubble undecryptable" data-testid="undecryptable">
          Could not decrypt this message.
        </div>
      ) : (
        <div class={`bubble${m.deleted ? ' gone' : ''}`} dir="auto">
          <MessageBody m={m} />
        </div>
      )}
      <MessageMenu m={m} />
      <Reactions m={m} />
      <div class="meta">
        <MetaMarks m={m} />
        <time dateTime={new Date(m.sentAt).toISOString()}>{formatTime(m.sentAt, now)}</time>
        {m.dir === 'out' && (
          <span class="tick" data-tick={m.tick} title={m.error ?? t.label}>
            <span aria-hidden="true">{t.mark}</span>
            <span class="sr-only">{m.error ? `${t.label}: ${m.error}` : t.label}</span>
          </span>
        )}
      </div>
      {m.error && <span class="send-error">Not sent: {m.error}</span>}
      {showWire && (
        <pre class="wire" data-testid="wire">
          {body
            ? `One MLS ciphertext for the whole group (${b64Bytes(body)} bytes), fanned out by the gateway:\n${body}`
            : 'Not sent yet: still on this device.'}
        </pre>
      )}
    </div>
  );
}

export type { GroupRecord };

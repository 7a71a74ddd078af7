import { createContext } from 'preact';
import { useContext, useState } from 'preact/hooks';
import { type ChatMessage, MAX_TEXT_CHARS, QUICK_REACTIONS, reactionSummary, timerLabel } from '../engine/index.js';
import { FileView } from './Attachment.js';
import { useActions } from './hooks.js';
import { usePopover } from './popover.js';
import { RichText } from './RichText.js';

/** What the bubbles of one conversation share: its key, who we are, names, and the reply hook. */
export interface MessageScope {
  /** The conversation's key (a peer's user id or `g:<groupId>`). */
  conv: string;
  me: string;
  nameOf(userId: string): string;
  onReply(m: ChatMessage): void;
  /** False when this device cannot send here (removed from a group, cannot encrypt). */
  canSend: boolean;
}
export const MessageScopeContext = createContext<MessageScope | null>(null);

const scrollTo = (id: string) => {
  const el = document.querySelector<HTMLElement>(`[data-testid="message"][data-id="${CSS.escape(id)}"]`);
  if (!el) return;
  el.scrollIntoView({ block: 'center' });
  el.classList.add('flash');
  setTimeout(() => el.classList.remove('flash'), 1200);
};

/** The inside of a bubble: "Forwarded", the quote, then the text and file, or "This message was deleted". */
export function MessageBody({ m }: { m: ChatMessage }) {
  const scope = useContext(MessageScopeContext);
  if (m.deleted)
    return (
      <span class="deleted" data-testid="deleted">
        This message was deleted
      </span>
    );
  return (
    <>
      {m.forwarded && (
        <span class="forwarded" data-testid="forwarded">
          Forwarded
        </span>
      )}
      {m.reply && (
        <button
          type="button"
          class="quote"
          data-testid="quote"
          onClick={() => scrollTo(m.reply!.id)}
          aria-label={`Reply to ${scope?.nameOf(m.reply.from) ?? 'a message'}: ${m.reply.text}. Go to the message`}
        >
          <span class="quote-who">{scope?.nameOf(m.reply.from) ?? ''}</span>
          <span class="quote-text">{m.reply.text}</span>
        </button>
      )}
      {m.file && <FileView file={m.file} />}
      {m.text !== '' && (
        <span class="text">
          <RichText text={m.text} />
        </span>
      )}
    </>
  );
}

/** "edited" and the disappearing timer, beside the time. */
export function MetaMarks({ m }: { m: ChatMessage }) {
  return (
    <>
      {m.editedAt !== undefined && !m.deleted && (
        <span class="edited" data-testid="edited">
          edited
        </span>
      )}
      {m.ttl && (
        <span class="ttl" title={`Disappears ${timerLabel(m.ttl)} after it is read`} data-testid="ttl">
          <span aria-hidden="true">⏱</span>
          <span class="sr-only">Disappearing message</span>
        </span>
      )}
    </>
  );
}

/** Counts under the bubble; who reacted on hover (title) and for screen readers; ours toggles. */
export function Reactions({ m }: { m: ChatMessage }) {
  const scope = useContext(MessageScopeContext);
  const a = useActions();
  const list = reactionSummary(m.reactions);
  if (!scope || list.length === 0 || m.deleted) return null;
  const mine = m.reactions?.[scope.me]?.emoji ?? null;
  return (
    <div class="reactions" data-testid="reactions">
      {list.map((r) => {
        const who = r.users.map((u) => (u === scope.me ? 'You' : scope.nameOf(u))).join(', ');
        return (
          <button
            key={r.emoji}
            type="button"
            class={`reaction${r.emoji === mine ? ' mine' : ''}`}
            title={who}
            aria-label={`${r.emoji} ${r.count}: ${who}${r.emoji === mine ? '. Remove your reaction' : ''}`}
            aria-pressed={r.emoji === mine}
            disabled={!scope.canSend}
            onClick={() => void a.messages.react(scope.conv, m.id, r.emoji === mine ? null : r.emoji)}
          >
            <span aria-hidden="true">
              {r.emoji} {r.count}
            </span>
          </button>
        );
      })}
    </div>
  );
}

type Panel = null | 'menu' | 'react' | 'edit' | 'forward';

/**
 * The "Message actions" button of one bubble (also opened by a right click or a long press):
 * Reply, React, Edit, Delete for everyone, Delete for me, Forward. Escape closes it and returns focus.
 */
export function MessageMenu({ m }: { m: ChatMessage }) {
  const scope = useContext(MessageScopeContext);
  const a = useActions();
  const { state: panel, set: setPanel, opener, box, close } = usePopover<Panel>(null, 'button, textarea, [tabindex]');
  if (!scope || m.deleted || m.undecryptable || m.dir === 'event') return null;
  const mine = m.dir === 'out';
  const act = (work: () => Promise<void>) => {
    close();
    void work();
  };
  const { conv } = scope;
  return (
    <div class="msg-actions">
      <button
        ref={opener}
        type="button"
        class="more"
        data-testid="message-actions"
        aria-label="Message actions"
        aria-haspopup="menu"
        aria-expanded={panel !== null}
        onClick={() => setPanel(panel === null ? 'menu' : null)}
      >
        <span aria-hidden="true">⋯</span>
      </button>
      {panel === 'menu' && (
        <div class="menu" role="menu" aria-label="Message actions" ref={box}>
          {scope.canSend && (
            <>
              <Item label="Reply" onClick={() => act(async () => scope.onReply(m))} />
              <Item label="React" onClick={() => setPanel('react')} />
              {mine && m.text !== '' && <Item label="Edit" onClick={() => setPanel('edit')} />}
              {mine && (
                <Item label="Delete for everyone" onClick={() => act(() => a.messages.deleteForEveryone(conv, m.id))} />
              )}
            </>
          )}
          <Item label="Delete for me" onClick={() => act(() => a.messages.deleteForMe(conv, m.id))} />
          <Item label="Forward" onClick={() => setPanel('forward')} />
        </div>
      )}
      {panel === 'react' && (
        <div class="menu picker" role="menu" aria-label="React" ref={box}>
          {QUICK_REACTIONS.map((e) => (
            <button
              key={e}
              type="button"
              role="menuitem"
              aria-label={`React with ${e}`}
              onClick={() => act(() => a.messages.react(conv, m.id, e))}
            >
              {e}
            </button>
          ))}
        </div>
      )}
      {panel === 'edit' && (
        <div class="menu" ref={box}>
          <EditForm m={m} onDone={close} onSave={(text) => act(() => a.messages.edit(conv, m.id, text))} />
        </div>
      )}
      {panel === 'forward' && (
        <div class="menu forward" role="menu" aria-label="Forward to" ref={box}>
          {a.messages
            .targets()
            .filter((t) => t.conv !== conv)
            .map((t) => (
              <Item key={t.conv} label={t.name} onClick={() => act(() => a.messages.forward(conv, m.id, t.conv))} />
            ))}
          <Item label="Cancel" onClick={close} />
        </div>
      )}
    </div>
  );
}

function Item({ label, onClick }: { label: string; onClick: () => void }) {
  return (
    <button type="button" role="menuitem" onClick={onClick}>
      {label}
    </button>
  );
}

function EditForm({ m, onSave, onDone }: { m: ChatMessage; onSave: (t: string) => void; onDone: () => void }) {
  const [text, setText] = useState(m.text);
  const ok = text.trim().length > 0 && text.length <= MAX_TEXT_CHARS && text !== m.text;
  return (
    <form
      class="edit-form"
      onSubmit={(e) => {
        e.preventDefault();
        if (ok) onSave(text);
      }}
    >
      <label for={`edit-${m.id}`}>Edit message</label>
      <textarea id={`edit-${m.id}`} value={text} rows={2} onInput={(e) => setText(e.currentTarget.value)} />
      <div class="row">
        <button class="btn small primary" type="submit" disabled={!ok}>
          Save
        </button>
        <button class="btn small" type="button" onClick={onDone}>
          Cancel
        </button>
      </div>
    </form>
  );
}

/** Above the composer while replying: whom and what, with a way out. */
export function ReplyBar({ m, name, onCancel }: { m: ChatMessage; name: string; onCancel: () => void }) {
  return (
    <div class="reply-bar" data-testid="reply-bar">
      <div class="quote">
        <span class="quote-who">Replying to {name}</span>
        <span class="quote-text">{m.text || (m.file ? `File: ${m.file.name}` : '')}</span>
      </div>
      <button class="btn small" type="button" onClick={onCancel} aria-label="Cancel reply">
        <span aria-hidden="true">✕</span>
      </button>
    </div>
  );
}

import { useEffect, useRef, useState } from 'preact/hooks';
import { type ChatMessage, notificationText, titleWithUnread, unreadTotal } from '../engine/index.js';
import { useGroupsView } from './Groups.js';
import { useAppState } from './hooks.js';

/**
 * Desktop notifications and the unread count in the tab's title (docs/ARCHITECTURE.md,
 * "Notifications"). Preferences are kept in localStorage like the theme: two flags, no content.
 * Permission is asked only when the user turns notifications on in Settings, never on load.
 */
const NOTIFY_KEY = 'hush.notify';
const PREVIEW_KEY = 'hush.previews';

function flag(key: string): boolean {
  try {
    return localStorage.getItem(key) === 'on';
  } catch {
    return false;
  }
}
function setFlag(key: string, on: boolean): void {
  try {
    localStorage.setItem(key, on ? 'on' : 'off');
  } catch {
    // private mode: applies to this page only
  }
}

const hasApi = () => typeof Notification === 'function';

export function NotificationSettings() {
  const [on, setOn] = useState(() => flag(NOTIFY_KEY) && hasApi() && Notification.permission === 'granted');
  const [previews, setPreviews] = useState(() => flag(PREVIEW_KEY));
  const [denied, setDenied] = useState(() => hasApi() && Notification.permission === 'denied');
  const toggle = async (want: boolean) => {
    if (want && hasApi() && Notification.permission !== 'granted') {
      const p = await Notification.requestPermission();
      setDenied(p === 'denied');
      if (p !== 'granted') return;
    }
    setFlag(NOTIFY_KEY, want);
    setOn(want);
  };
  return (
    <section aria-labelledby="set-notify">
      <h3 id="set-notify">Notifications</h3>
      {!hasApi() ? (
        <p class="hint">This browser cannot show notifications.</p>
      ) : (
        <>
          <label class="check">
            <input type="checkbox" checked={on} onChange={(e) => void toggle(e.currentTarget.checked)} />
            Desktop notifications
          </label>
          <label class="check">
            <input
              type="checkbox"
              checked={previews}
              disabled={!on}
              onChange={(e) => {
                setFlag(PREVIEW_KEY, e.currentTarget.checked);
                setPreviews(e.currentTarget.checked);
              }}
            />
            Show message previews
          </label>
          <p class="hint">
            {denied
              ? 'Notifications are blocked for this site in your browser’s settings.'
              : 'Shown only while Hush is in the background. Without previews a notification says only “New message”.'}
          </p>
        </>
      )}
    </section>
  );
}

/** The title's unread count follows within this long. */
const TITLE_MS = 300;

/**
 * Keeps "(3) Hush" in the title and shows a notification for each message that arrives while the
 * page is hidden. Messages already on this device when the page opened never notify.
 */
export function useNotifications(onOpen: (peer: string) => void): void {
  const s = useAppState();
  const gv = useGroupsView();
  const latest = useRef({ s, gv });
  latest.current = { s, gv };
  const seen = useRef<Set<string> | null>(null);
  const titleTimer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  useEffect(() => {
    // At most every TITLE_MS and only when it changes: each title write is a round trip to the
    // browser's own process, and with the chat open the count flips with every message of a burst.
    if (titleTimer.current !== undefined) return;
    titleTimer.current = setTimeout(() => {
      titleTimer.current = undefined;
      const { s: now, gv: groups } = latest.current;
      const title = titleWithUnread(unreadTotal(now.conversations) + unreadTotal(groups.groups));
      if (document.title !== title) document.title = title;
    }, TITLE_MS);
  }, [s.conversations, gv.groups]);
  useEffect(() => () => clearTimeout(titleTimer.current), []);
  useEffect(() => {
    if (s.phase !== 'ready') {
      seen.current = null;
      return;
    }
    const fresh = newIncoming([s.messages, gv.messages], seen);
    if (fresh.length === 0 || document.visibilityState !== 'hidden') return;
    if (!flag(NOTIFY_KEY) || !hasApi() || Notification.permission !== 'granted') return;
    for (const m of fresh) {
      const conv = s.conversations.find((c) => c.peer === m.conv);
      const group = m.conv.startsWith('g:') ? gv.groups.find((g) => `g:${g.id}` === m.conv) : undefined;
      const from = group ? group.name || 'Group' : conv?.displayName || conv?.username || 'Hush';
      const t = notificationText(from, m.text, flag(PREVIEW_KEY));
      // The tag replaces an older notification of the same chat instead of stacking them.
      const n = new Notification(t.title, { body: t.body, tag: `hush-${m.conv}` });
      n.onclick = () => {
        window.focus();
        onOpen(m.conv);
        n.close();
      };
    }
  }, [s.messages, gv.messages, s.phase]);
}

/** Incoming messages not seen by this hook before; the first call only records what is there. */
function newIncoming(maps: Record<string, ChatMessage[]>[], seen: { current: Set<string> | null }) {
  const first = seen.current === null;
  const set = seen.current ?? new Set<string>();
  seen.current = set;
  const fresh = [];
  for (const list of maps.flatMap((m) => Object.values(m)))
    for (const m of list) {
      // Reactions, edits and deletes are not new messages (core/message-ops.ts).
      if (m.dir !== 'in' || m.op || set.has(m.id)) continue;
      set.add(m.id);
      if (!first && m.tick !== 'read' && !m.undecryptable) fresh.push(m);
    }
  return fresh;
}

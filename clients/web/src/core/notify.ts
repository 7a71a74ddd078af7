/**
 * What a desktop notification and the tab title say (ui/Notify.tsx shows them). Pure, so the
 * privacy rule is unit-tested: without "Show message previews" nothing of the message or its
 * sender leaves the page for the operating system's notification centre.
 */
import type { Conversation } from './model.js';

export const APP_TITLE = 'Hush';
/** A notification body is a glance, not the message: the OS truncates anyway. */
export const PREVIEW_CHARS = 120;

export function unreadTotal(convs: readonly Pick<Conversation, 'unread'>[]): number {
  let n = 0;
  for (const c of convs) n += Math.max(0, c.unread);
  return n;
}

/** "(3) Hush", or "Hush" with nothing unread (the count other messengers put in the tab). */
export function titleWithUnread(n: number): string {
  return n > 0 ? `(${n > 99 ? '99+' : n}) ${APP_TITLE}` : APP_TITLE;
}

/**
 * The notification's title and body. With previews off it is "Hush" / "New message": the
 * operating system may log or sync notifications, so the sender's name stays out as well.
 */
export function notificationText(sender: string, text: string, previews: boolean): { title: string; body: string } {
  if (!previews) return { title: APP_TITLE, body: 'New message' };
  const t = text.trim();
  const body = t.length === 0 ? 'Sent a file' : t.length > PREVIEW_CHARS ? `${t.slice(0, PREVIEW_CHARS - 1)}…` : t;
  return { title: sender, body };
}

import { describe, expect, it } from 'vitest';
import { notificationText, titleWithUnread, unreadTotal } from './notify.js';

describe('notification text and title', () => {
  it('puts the unread total in the title, capped at 99+', () => {
    expect(titleWithUnread(unreadTotal([{ unread: 2 }, { unread: 1 }, { unread: 0 }]))).toBe('(3) Hush');
    expect(titleWithUnread(0)).toBe('Hush');
    expect(titleWithUnread(250)).toBe('(99+) Hush');
  });

  it('says only "New message" without previews: neither the text nor the sender', () => {
    const t = notificationText('bob', 'the secret plan', false);
    expect(t).toEqual({ title: 'Hush', body: 'New message' });
  });

  it('shows sender and a shortened text with previews on', () => {
    expect(notificationText('bob', 'hi', true)).toEqual({ title: 'bob', body: 'hi' });
    const long = notificationText('bob', 'x'.repeat(500), true);
    expect(long.body.length).toBe(120);
    expect(long.body.endsWith('…')).toBe(true);
    expect(notificationText('bob', '', true).body).toBe('Sent a file');
  });
});

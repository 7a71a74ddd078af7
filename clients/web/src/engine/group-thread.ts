import type { GroupContent } from '../core/groups.js';
import { textExtras } from '../core/message-ops.js';
import type { ChatMessage } from '../core/model.js';
import { type GroupState, groupConv } from './group-state.js';
import type { Thread } from './message-ops.js';

/** A group as a Thread (engine/message-ops.ts); our controls go out through `queue`. */
export function groupThread(g: GroupState, groupId: string, queue: (m: ChatMessage) => Promise<void>): Thread {
  return {
    conv: groupConv(groupId),
    messages: () => g.messages(groupId),
    put: (m) => g.putMessage(groupId, m),
    remove: (id) => g.removeMessage(groupId, id),
    timer: () => g.rec(groupId)?.timer,
    saveTimer: async (timer) => {
      const rec = g.rec(groupId);
      if (rec) await g.saveGroup({ ...rec, timer });
    },
    savePreview: async (lastText) => {
      const rec = g.rec(groupId);
      if (rec && rec.lastText !== lastText) await g.saveGroup({ ...rec, lastText });
    },
    username: (userId) => g.username(userId),
    nextOrder: () => g.nextOrder(),
    send: queue,
  };
}

/** What one of our queued group messages says inside MLS: a text (with its extras) or a control. */
export function groupContentOf(m: ChatMessage): GroupContent {
  if (m.op) return { v: 1, id: m.id, sentAt: m.sentAt, ...m.op };
  return {
    v: 1,
    t: 'text',
    id: m.id,
    text: m.text,
    sentAt: m.sentAt,
    ...(m.file ? { file: m.file } : {}),
    ...textExtras(m),
  };
}

/** Devices that fetch a file sent to the group: every leaf but this one (the blob's download count). */
export function groupRecipients(g: GroupState, groupId: string): number {
  const rec = g.rec(groupId);
  const leaves = rec ? rec.people.reduce((n, p) => n + p.devices, 0) : 1;
  return Math.max(1, leaves - 1);
}

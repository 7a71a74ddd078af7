import { type Content, voiceLabel } from '../core/content.js';
import { type ReplyRef, textExtras } from '../core/message-ops.js';
import type { ChatMessage } from '../core/model.js';

/** A reply's quote and a forward's flag, given by the view's action. */
export interface SendExtras {
  reply?: ReplyRef;
  forwarded?: boolean;
}

export function textContent(m: ChatMessage): Content {
  if (m.op) return { v: 1, id: m.id, to: m.conv, sentAt: m.sentAt, ...m.op };
  const c: Content = { v: 1, t: 'text', id: m.id, to: m.conv, text: m.text, sentAt: m.sentAt, ...textExtras(m) };
  return m.file ? { ...c, file: m.file } : c;
}

/** What the conversation list shows for a message: its text, or the attached file's name. */
export function previewText(m: Pick<ChatMessage, 'text' | 'file'>): string {
  if (m.file?.voiceMs !== undefined) return voiceLabel(m.file.voiceMs);
  return m.text || (m.file ? `File: ${m.file.name}` : '');
}

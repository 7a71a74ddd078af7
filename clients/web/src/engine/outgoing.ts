import { type Content, type FileRef, newMessageId, voiceLabel } from '../core/content.js';
import { type ReplyRef, textExtras } from '../core/message-ops.js';
import type { ChatMessage } from '../core/model.js';

/** A reply's quote and a forward's flag, given by the view's action. */
export interface SendExtras {
  reply?: ReplyRef;
  forwarded?: boolean;
}

/**
 * A message we write, as stored (pending) before it is encrypted, in a 1:1 chat or a group: with
 * its file, quote and "Forwarded" mark, and — when the conversation has disappearing messages on —
 * its timer, which for our own copy counts from now (libs/crypto/PROTOCOL.md §13.4).
 */
export function outgoingMessage(
  conv: string,
  text: string,
  now: number,
  n: number,
  extras: SendExtras & { file?: FileRef },
  timerSeconds: number | undefined,
): ChatMessage {
  return {
    id: newMessageId(),
    conv,
    dir: 'out',
    text,
    sentAt: now,
    ts: null,
    tick: 'pending',
    wire: null,
    n,
    ...(extras.file ? { file: extras.file } : {}),
    ...(extras.reply ? { reply: extras.reply } : {}),
    ...(extras.forwarded ? { forwarded: true as const } : {}),
    ...(timerSeconds ? { ttl: timerSeconds, expiresAt: now + timerSeconds * 1000 } : {}),
  };
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

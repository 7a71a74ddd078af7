import type { Content } from './content.js';

/**
 * Where a decrypted message goes. Messages from the peer belong to the conversation with the
 * sender; copies of our own messages sent from our other devices ("sync") belong to the
 * conversation with their recipient (`to`). Receipts and typing from our own devices mean nothing
 * to us (they are the other device talking to the peer) and are dropped.
 */
export type Route =
  | { kind: 'text'; peer: string; fromMe: boolean; content: Extract<Content, { t: 'text' }> }
  | { kind: 'receipt'; peer: string; receipt: 'delivered' | 'read'; ids: string[] }
  | { kind: 'typing'; peer: string; on: boolean }
  | { kind: 'ignore' };

export function routeContent(myUserId: string, fromUser: string, content: Content): Route {
  const fromMe = fromUser === myUserId;
  switch (content.t) {
    case 'text':
      return { kind: 'text', peer: fromMe ? content.to : fromUser, fromMe, content };
    case 'receipt':
      return fromMe ? { kind: 'ignore' } : { kind: 'receipt', peer: fromUser, receipt: content.kind, ids: content.ids };
    case 'typing':
      return fromMe ? { kind: 'ignore' } : { kind: 'typing', peer: fromUser, on: content.on };
  }
}

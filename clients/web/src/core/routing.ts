import type { Content, OpContent } from './content.js';

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
  /** A reaction, edit, delete or timer in the conversation with `peer` (ours from another device too). */
  | { kind: 'op'; peer: string; fromMe: boolean; content: OpContent }
  /** Our other device read these messages of `peer` (read state sync). */
  | { kind: 'read-elsewhere'; peer: string; ids: string[] }
  /** `user`'s device list changed: fetch it again (from our own account: one of ours was linked). */
  | { kind: 'devices'; user: string; fromMe: boolean }
  /** A contact's profile (core/profile.ts); our own devices' copies are not used yet. */
  | { kind: 'profile'; user: string; content: Extract<Content, { t: 'profile' }> }
  | { kind: 'ignore' };

export function routeContent(myUserId: string, fromUser: string, content: Content): Route {
  const fromMe = fromUser === myUserId;
  switch (content.t) {
    case 'text':
      return { kind: 'text', peer: fromMe ? content.to : fromUser, fromMe, content };
    case 'receipt':
      if (fromMe)
        return content.kind === 'read' && content.to
          ? { kind: 'read-elsewhere', peer: content.to, ids: content.ids }
          : { kind: 'ignore' };
      return { kind: 'receipt', peer: fromUser, receipt: content.kind, ids: content.ids };
    case 'typing':
      return fromMe ? { kind: 'ignore' } : { kind: 'typing', peer: fromUser, on: content.on };
    case 'devices':
      return { kind: 'devices', user: fromUser, fromMe };
    case 'profile':
      return fromMe ? { kind: 'ignore' } : { kind: 'profile', user: fromUser, content };
    default:
      return { kind: 'op', peer: fromMe ? content.to : fromUser, fromMe, content };
  }
}

/**
 * Trust policy for identity keys: what the client does when a contact's identity key is new or
 * different from the one it knew. It fails closed: a change is never accepted silently (as Signal
 * and WhatsApp show "safety number changed"), and for a contact the user verified nothing at all
 * is sent until the user has looked at the new safety number and chosen. Pure, so every rule is
 * a unit test; the crypto adapter only reports what it saw and the engine acts on the decision.
 */
import type { Conversation } from './model.js';

/** How a bundle's or message's identity key compares with the one we trust for that account. */
export type IdentityStatus = 'new' | 'known' | 'verified' | 'changed';

/** Where a changed key was seen: a key bundle from the directory, or a session start in a message. */
export type ChangeSource = 'bundle' | 'message';

export type IdentityDecision =
  /** Trust the new key (unverified) in the protocol store. */
  | 'accept'
  /** Keep trusting the old key: the new one waits for the user's choice (a verified contact's bundle). */
  | 'hold'
  /** Never: a device that claims our own account under another identity. */
  | 'refuse';

/**
 * What holds sending to a contact after a change:
 * - `user`: the contact was verified; nothing is sent (queued messages, receipts, typing
 *   included) until the user accepts the new safety number or verifies it again;
 * - `keys`: sending waits until the new key's bundle verifies (every device key, prekey and the
 *   device list signed by that identity);
 * - null: nothing holds.
 */
export type SendHold = 'user' | 'keys' | null;

export type SendGate = 'ok' | 'cannot-encrypt' | 'awaiting-keys' | 'awaiting-user';

export function decideIdentityChange(change: {
  own: boolean;
  wasVerified: boolean;
  source: ChangeSource;
}): IdentityDecision {
  // Only linking, which signs with our identity, may add a device to our own account.
  if (change.own) return 'refuse';
  // A message under the new key is decrypted so the user can read it (sending stays held below).
  if (change.source === 'message') return 'accept';
  return change.wasVerified ? 'hold' : 'accept';
}

/** Verified: the key the user compared is the current one, or a change of it still awaits their choice. */
export function wasVerified(c: Conversation): boolean {
  return (c.verifiedKey !== null && c.verifiedKey === c.identityKey) || c.sendHold === 'user';
}

/**
 * Records the identity key seen for a peer. The first key is trusted on first use; a different
 * one is a change: noted (keyChange, for the banner and the timeline) and sending held as above.
 * A change seen in a bundle that verified under the new key holds nothing more for an unverified
 * contact: the bundle is the proof that sending needs.
 */
export function observeIdentity(c: Conversation, key: string, now: number, source: ChangeSource): Conversation {
  if (c.identityKey === key) return c.cannotEncrypt === null ? c : { ...c, cannotEncrypt: null };
  if (c.identityKey === null) return { ...c, identityKey: key, cannotEncrypt: null };
  const verified = wasVerified(c);
  return {
    ...c,
    identityKey: key,
    cannotEncrypt: null,
    keyChange: { at: now, wasVerified: verified },
    sendHold: verified ? 'user' : source === 'bundle' ? null : 'keys',
  };
}

/** A bundle signed by this identity key verified: a hold on keys for that key is lifted. */
export function keysVerified(c: Conversation, key: string): Conversation {
  return c.sendHold === 'keys' && c.identityKey === key ? { ...c, sendHold: null } : c;
}

/** The user looked at the new safety number and accepted it: still unverified (yellow), keys next. */
export function acceptChange(c: Conversation): Conversation {
  if (c.sendHold !== 'user') return c;
  return { ...c, keyChange: null, sendHold: 'keys' };
}

/** The user compared the safety number and it matches: verified (green), keys next if a change was held. */
export function markVerified(c: Conversation): Conversation {
  if (c.identityKey === null) return c;
  return { ...c, verifiedKey: c.identityKey, keyChange: null, sendHold: c.sendHold === 'user' ? 'keys' : c.sendHold };
}

/** Whether anything may be sent to this contact now, and if not, what it waits for. */
export function sendGate(c: Conversation): SendGate {
  if (c.cannotEncrypt !== null || c.identityKey === null) return 'cannot-encrypt';
  if (c.sendHold === 'user') return 'awaiting-user';
  if (c.sendHold === 'keys') return 'awaiting-keys';
  return 'ok';
}

/** The timeline notice for a change (Signal: "Your safety number with Bob has changed"). */
export function changeNotice(username: string): string {
  return `${username}’s safety number changed`;
}

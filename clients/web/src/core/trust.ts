/**
 * Trust policy for identity keys: what the client does when a contact's identity key is new or
 * different from the one it knew. Pure, so the rules are unit-tested; the crypto adapter only
 * reports what it saw and the engine acts on the decision.
 */

/** How a bundle's or message's identity key compares with the one we trust for that account. */
export type IdentityStatus = 'new' | 'known' | 'verified' | 'changed';

export type IdentityDecision =
  /** Trust the new key (unverified) so that messages can be decrypted and sent again. */
  | 'accept'
  /** Never: a device that claims our own account under another identity. */
  | 'refuse';

/**
 * A changed identity key. A device claiming our own account with another identity is refused (only
 * linking, which signs with our identity, can add one). A contact's new key is trusted on first
 * sight of the change, and the conversation shows the change (observeIdentity in model.ts).
 */
export function decideIdentityChange(change: { own: boolean }): IdentityDecision {
  return change.own ? 'refuse' : 'accept';
}

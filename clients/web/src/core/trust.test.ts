import { describe, expect, it } from 'vitest';
import { type Conversation, encryptionStatus, newConversation } from './model.js';
import {
  acceptChange,
  changeNotice,
  decideIdentityChange,
  keysVerified,
  markVerified,
  observeIdentity,
  sendGate,
} from './trust.js';

const known = (): Conversation => observeIdentity(newConversation('bob0000001', 'bob', 0), 'K1', 1, 'bundle');
const verified = (): Conversation => markVerified(known());

describe('trust policy: deciding about a changed identity key', () => {
  it('refuses a device that claims our own account under another identity, whatever the source', () => {
    for (const source of ['bundle', 'message'] as const)
      expect(decideIdentityChange({ own: true, wasVerified: true, source })).toBe('refuse');
  });
  it('accepts an unverified contact’s new key from a bundle that verified under it', () => {
    expect(decideIdentityChange({ own: false, wasVerified: false, source: 'bundle' })).toBe('accept');
  });
  it('holds a verified contact’s new key from the directory until the user chooses', () => {
    expect(decideIdentityChange({ own: false, wasVerified: true, source: 'bundle' })).toBe('hold');
  });
  it('decrypts a message under a new key so it can be read (sending is held separately)', () => {
    expect(decideIdentityChange({ own: false, wasVerified: true, source: 'message' })).toBe('accept');
  });
});

describe('trust policy: what a change does to the conversation', () => {
  it('trusts the first key on first use, without a notice', () => {
    const c = known();
    expect([c.identityKey, c.keyChange, sendGate(c)]).toEqual(['K1', null, 'ok']);
  });

  it('never takes a change silently: an unverified contact gets a notice and stays yellow', () => {
    const fromBundle = observeIdentity(known(), 'K2', 5, 'bundle');
    expect(fromBundle.keyChange).toEqual({ at: 5, wasVerified: false });
    expect(encryptionStatus(fromBundle)).toBe('yellow');
    // The bundle that showed the change verified under the new key: sending may go on.
    expect(sendGate(fromBundle)).toBe('ok');
  });

  it('holds sending to an unverified contact whose new key came in a message until its bundle verifies', () => {
    const c = observeIdentity(known(), 'K2', 5, 'message');
    expect(sendGate(c)).toBe('awaiting-keys');
    expect(sendGate(keysVerified(c, 'K3'))).toBe('awaiting-keys');
    expect(sendGate(keysVerified(c, 'K2'))).toBe('ok');
  });

  it('stops everything to a verified contact whose key changed until the user accepts or verifies again', () => {
    for (const source of ['bundle', 'message'] as const) {
      const c = observeIdentity(verified(), 'K2', 5, source);
      expect(encryptionStatus(c)).toBe('yellow');
      expect(c.keyChange).toEqual({ at: 5, wasVerified: true });
      expect(sendGate(c)).toBe('awaiting-user');
      // A valid bundle alone does not lift it: only the user does.
      expect(sendGate(keysVerified(c, 'K2'))).toBe('awaiting-user');
      // Another change while waiting still counts as a change of a verified contact.
      expect(sendGate(observeIdentity(c, 'K3', 6, 'bundle'))).toBe('awaiting-user');

      const accepted = acceptChange(c);
      expect([encryptionStatus(accepted), accepted.keyChange, sendGate(accepted)]).toEqual([
        'yellow',
        null,
        'awaiting-keys',
      ]);
      expect(sendGate(keysVerified(accepted, 'K2'))).toBe('ok');

      const reverified = markVerified(c);
      expect([encryptionStatus(reverified), sendGate(reverified)]).toEqual(['green', 'awaiting-keys']);
    }
  });

  it('keeps red meaning "cannot encrypt" whatever the trust state', () => {
    const c = { ...observeIdentity(verified(), 'K2', 5, 'bundle'), cannotEncrypt: 'bad signature' };
    expect(encryptionStatus(c)).toBe('red');
    expect(sendGate(c)).toBe('cannot-encrypt');
  });

  it('words the timeline notice as Signal does', () => {
    expect(changeNotice('bob')).toBe('bob’s safety number changed');
  });
});

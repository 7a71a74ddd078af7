import { describe, expect, it } from 'vitest';
import { decideIdentityChange } from './trust.js';

describe('trust policy', () => {
  it('refuses a device that claims our own account under another identity', () => {
    expect(decideIdentityChange({ own: true })).toBe('refuse');
  });
  it('accepts a contact’s changed identity so the conversation can go on (and shows the change)', () => {
    expect(decideIdentityChange({ own: false })).toBe('accept');
  });
});

import { describe, expect, it } from 'vitest';
import { decodeContent, encodeContent } from './content.js';
import { AVATAR_COLOURS, avatarColour, cleanName, initials, isNewer, MAX_NAME_CHARS, shownName } from './profile.js';

const REF = {
  id: 'A'.repeat(22),
  key: `${'a'.repeat(43)}=`,
  digest: `${'b'.repeat(43)}=`,
  size: 1000,
  name: 'avatar.jpg',
  mime: 'image/jpeg',
};

describe('profile rules', () => {
  it('cleans names: no controls or bidi overrides, collapsed spaces, capped', () => {
    expect(cleanName('  Ada \n  Lovelace ')).toBe('Ada Lovelace');
    expect(cleanName('evil\u202Egnp.exe')).toBe('evilgnp.exe');
    expect(cleanName('x'.repeat(100)).length).toBe(MAX_NAME_CHARS);
  });

  it('makes initials from the first and last word, or "?"', () => {
    expect(initials('Ada Lovelace')).toBe('AL');
    expect(initials('grace')).toBe('G');
    expect(initials('jean-luc_picard')).toBe('JP');
    expect(initials('élodie durand')).toBe('ÉD');
    expect(initials('   ')).toBe('?');
  });

  it('derives a stable colour from the user id', () => {
    expect(avatarColour('abcdefghij')).toBe(avatarColour('abcdefghij'));
    expect(AVATAR_COLOURS).toContain(avatarColour('zzzzzzzzzz'));
    const seen = new Set(Array.from({ length: 200 }, (_, i) => avatarColour(`user${i}xxxxxx`)));
    expect(seen.size).toBe(AVATAR_COLOURS.length);
  });

  it('shows the display name when there is one, and keeps only newer profiles', () => {
    expect(shownName({ username: 'ada', displayName: 'Ada L.' })).toBe('Ada L.');
    expect(shownName({ username: 'ada' })).toBe('ada');
    expect(isNewer(null, { at: 1 })).toBe(true);
    expect(isNewer({ at: 5 }, { at: 5 })).toBe(false);
    expect(isNewer({ at: 5 }, { at: 4 })).toBe(false);
  });
});

describe('profile content kind', () => {
  it('round-trips a name and an avatar reference', () => {
    const c = { v: 1, t: 'profile', name: 'Ada Lovelace', avatar: REF, at: 1700 } as const;
    expect(decodeContent(encodeContent(c))).toEqual(c);
    const bare = { v: 1, t: 'profile', name: '', at: 1 } as const;
    expect(decodeContent(encodeContent(bare))).toEqual(bare);
  });

  it('refuses a bad name, a non-image avatar, an oversized one or a bad time', () => {
    const enc = (x: unknown) => new TextEncoder().encode(JSON.stringify(x));
    const base = { v: 1, t: 'profile', name: 'a', at: 1 };
    expect(() => decodeContent(enc({ ...base, name: 'x'.repeat(65) }))).toThrow(/name/);
    expect(() => decodeContent(enc({ ...base, name: 'a\u202Eb' }))).toThrow(/name/);
    expect(() => decodeContent(enc({ ...base, name: 5 }))).toThrow(/name/);
    expect(() => decodeContent(enc({ ...base, avatar: { ...REF, mime: 'image/svg+xml' } }))).toThrow(/avatar/);
    expect(() => decodeContent(enc({ ...base, avatar: { ...REF, size: 10_000_000 } }))).toThrow(/avatar/);
    expect(() => decodeContent(enc({ ...base, at: 'now' }))).toThrow(/time/);
  });
});

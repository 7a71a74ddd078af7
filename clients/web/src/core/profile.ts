/**
 * Profiles (docs/PROTOCOL-WIRE.md §12): a display name and an optional avatar, shared end to
 * end with contacts only, as a content kind of its own. The avatar is an encrypted attachment
 * (core/content.ts FileRef) the profile message points to. Pure rules here: name cleaning, the
 * initials and colour shown when there is no avatar, and which profile wins.
 */
import type { FileRef } from './content.js';

/** Long enough for "Maria José Fernández-López", short enough for a list row. */
export const MAX_NAME_CHARS = 64;
/** The avatar's longer side after resizing in a canvas (ui/Profile.tsx); also bounds its bytes. */
export const AVATAR_PX = 256;
/** A resized 256 px JPEG is far below this; a bigger avatar in a profile message is refused. */
export const MAX_AVATAR_BYTES = 512 * 1024;

export interface Profile {
  /** Empty: no display name, the username is shown. */
  name: string;
  avatar: FileRef | null;
  /** When it was set (the author's clock): a later one replaces an earlier one, never the reverse. */
  at: number;
}

/**
 * Control characters and bidirectional overrides removed (a name must not reorder the text
 * around it, "Trojan Source" style), whitespace collapsed, length capped.
 */
export function cleanName(raw: string): string {
  return raw
    .normalize('NFC')
    .replace(/[\p{Cc}\p{Cf}]/gu, '')
    .replace(/\s+/gu, ' ')
    .trim()
    .slice(0, MAX_NAME_CHARS);
}

/** Up to two letters: the first of the first and of the last word ("Ada Lovelace" → "AL"). */
export function initials(name: string): string {
  const words = cleanName(name)
    .split(/[\s_.-]+/u)
    .filter((w) => /[\p{L}\p{N}]/u.test(w));
  if (words.length === 0) return '?';
  const first = (w: string) => [...w.replace(/^[^\p{L}\p{N}]+/u, '')][0] ?? '';
  const a = first(words[0]!);
  const b = words.length > 1 ? first(words.at(-1)!) : '';
  return (a + b).toLocaleUpperCase();
}

/**
 * The avatar colour for someone without a picture: derived from the user id (stable across
 * renames and devices, the same on both sides), one of twelve hues all dark enough for white
 * initials at WCAG AA (4.5:1).
 */
export const AVATAR_COLOURS = [
  '#b3261e',
  '#a1401d',
  '#7b5800',
  '#4d6b00',
  '#1e6b34',
  '#00696b',
  '#00639b',
  '#3b5ba9',
  '#5b4cb8',
  '#7a3fa6',
  '#98307a',
  '#a0304f',
] as const;

export function avatarColour(userId: string): string {
  // FNV-1a over the id: a cheap, well-spread hash; nothing secret depends on it.
  let h = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    h ^= userId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return AVATAR_COLOURS[h % AVATAR_COLOURS.length]!;
}

/** The name to show for a contact: their display name when they shared one, else the username. */
export function shownName(c: { username: string; displayName?: string }): string {
  return c.displayName || c.username;
}

/** True when `next` should replace what we hold (newer; equal times keep the first seen). */
export function isNewer(current: { at: number } | null | undefined, next: { at: number }): boolean {
  return !current || next.at > current.at;
}

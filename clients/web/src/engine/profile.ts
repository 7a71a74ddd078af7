import type { FileRef, ProfileContent } from '../core/content.js';
import type { Conversation } from '../core/model.js';
import { cleanName, isNewer, MAX_AVATAR_BYTES } from '../core/profile.js';
import { describe } from '../core/send-policy.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { Signals } from './signals.js';

/** This account's profile as kept in the vault: the avatar as its (already resized) bytes. */
export interface OwnProfile {
  name: string;
  /** A JPEG, PNG or WebP of at most AVATAR_PX a side (ui/Profile.tsx resizes it in a canvas). */
  avatar: Uint8Array | null;
  avatarMime: string | null;
  at: number;
}

/**
 * Profiles (docs/PROTOCOL-WIRE.md §12): ours is kept in the vault and sent end to end, as a
 * `profile` content message, to every contact when it changes and to a contact after our first
 * message to them; contacts' profiles are kept on their conversation. The avatar travels as an
 * encrypted attachment uploaded for each contact it is sent to (a fresh key each time, so the
 * server cannot link one contact's copy to another's); the gateway deletes it once fetched.
 */
export class Profiles {
  private seenPhase: string | null = null;

  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    private readonly signals: Signals,
    /** Fetches a received avatar at once (engine/attachments.ts). */
    private readonly files: { received(ref: FileRef): void },
  ) {
    ctx.store.subscribe(() => {
      const phase = ctx.state.phase;
      if (phase === this.seenPhase) return;
      this.seenPhase = phase;
      if (phase === 'ready') ctx.background(() => this.load());
    });
  }

  private async load(): Promise<void> {
    const p = (await this.ctx.history.getProfile()) ?? null;
    this.ctx.store.update({ profile: p });
  }

  /** Saves a new profile (avatar: new bytes, null to remove, undefined to keep) and sends it to every contact. */
  async set(name: string, avatar?: { bytes: Uint8Array; mime: string } | null): Promise<void> {
    const cur = this.ctx.state.profile;
    if (avatar && avatar.bytes.length > MAX_AVATAR_BYTES) {
      this.ctx.store.update({ notice: 'That picture is too large even after resizing. Pick another one.' });
      return;
    }
    const next: OwnProfile = {
      name: cleanName(name),
      avatar: avatar === undefined ? (cur?.avatar ?? null) : (avatar?.bytes ?? null),
      avatarMime: avatar === undefined ? (cur?.avatarMime ?? null) : (avatar?.mime ?? null),
      // Strictly increasing, even if the clock stepped back: contacts keep only newer profiles.
      at: Math.max(this.ctx.now(), (cur?.at ?? 0) + 1),
    };
    await this.ctx.history.putProfile(next);
    this.ctx.store.update({ profile: next });
    for (const c of this.ctx.state.conversations) this.ctx.background(() => this.sendTo(c.peer));
  }

  /** After a message to `peer`: they get our profile unless they already have this one. */
  afterSend(peer: string): void {
    const p = this.ctx.state.profile;
    const c = this.history.conv(peer);
    if (p && c && c.profileSent !== p.at) this.ctx.background(() => this.sendTo(peer));
  }

  private async sendTo(peer: string): Promise<void> {
    const p = this.ctx.state.profile;
    const api = this.ctx.api;
    if (!p || !api || this.history.conv(peer)?.profileSent === p.at) return;
    const content: ProfileContent = { v: 1, t: 'profile', name: p.name, at: p.at };
    if (p.avatar && p.avatarMime) {
      try {
        const sealed = await this.ctx.crypto.sealAttachment(p.avatar);
        const devices = (await this.ctx.crypto.knownDevices(peer))?.length ?? 1;
        const id = await api.uploadAttachment(sealed.blob, Math.max(1, devices));
        const { key, digest, size } = sealed;
        content.avatar = { id, key, digest, size, name: 'avatar', mime: p.avatarMime };
      } catch (e) {
        // Sent again on the next change or message; the name alone would hide the failure.
        console.warn('hush: avatar upload failed', describe(e));
        return;
      }
    }
    if (!(await this.signals.sendControl(peer, content))) return;
    const c = this.history.conv(peer);
    if (c) await this.history.saveConv({ ...c, profileSent: p.at });
  }

  /** A contact's profile arrived: kept if it is newer than the one we hold; the avatar is fetched now. */
  async received(from: string, content: ProfileContent): Promise<void> {
    const c = this.history.conv(from);
    // Only contacts: a profile never opens a conversation by itself.
    if (!c || !isNewer(c.profileAt === undefined ? null : { at: c.profileAt }, content)) return;
    const next: Conversation = {
      ...c,
      displayName: content.name,
      avatar: content.avatar ?? null,
      profileAt: content.at,
    };
    await this.history.saveConv(next);
    if (content.avatar) this.files.received(content.avatar);
  }
}

import { type Conversation, clearVerified } from '../core/model.js';
import { acceptChange, markVerified } from '../core/trust.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { SafetyInfo } from './types.js';

/**
 * Safety numbers: showing ours, comparing a scanned or pasted code, the verified mark, and the
 * user's choice after a verified contact's key changed (accept it, or verify again).
 */
export class Verification {
  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
    /** A hold was lifted: what waited may go (after the new keys verify). */
    private readonly released: () => Promise<void>,
  ) {}

  async safety(peer: string): Promise<SafetyInfo | null> {
    const c = this.history.conv(peer);
    const me = this.ctx.state.me;
    if (!c?.identityKey || !me) return null;
    return this.ctx.crypto.safety(me.userId, peer, c.identityKey);
  }

  async verifyPayload(peer: string, payload: string): Promise<boolean> {
    const c = this.history.conv(peer);
    const me = this.ctx.state.me;
    if (!c?.identityKey || !me) return false;
    let ok = false;
    try {
      ok = await this.ctx.crypto.checkPayload(me.userId, peer, c.identityKey, payload);
    } catch {
      ok = false;
    }
    if (ok) await this.markVerified(peer);
    return ok;
  }

  async markVerified(peer: string): Promise<void> {
    await this.decide(peer, markVerified);
  }

  /** The user looked at the new safety number and accepts it (unverified, yellow). */
  async acceptKeyChange(peer: string): Promise<void> {
    await this.decide(peer, acceptChange);
  }

  /** Applies the user's choice; a held key becomes the trusted one in the protocol store first. */
  private async decide(peer: string, rule: (c: Conversation) => Conversation): Promise<void> {
    const c = this.history.conv(peer);
    if (!c?.identityKey) return;
    const held = c.sendHold === 'user';
    const key = c.identityKey;
    if (held) await this.ctx.serial(() => this.ctx.crypto.acceptIdentity(peer, key));
    await this.history.saveConv(rule(this.history.conv(peer)!));
    if (held) this.ctx.background(this.released);
  }

  async unverify(peer: string): Promise<void> {
    const c = this.history.conv(peer);
    if (c) await this.history.saveConv(clearVerified(c));
  }
  /** Hides the notice of an unverified contact's change (a verified contact's needs a choice). */
  async dismissKeyChange(peer: string): Promise<void> {
    const c = this.history.conv(peer);
    if (c && c.sendHold !== 'user') await this.history.saveConv({ ...c, keyChange: null });
  }
}

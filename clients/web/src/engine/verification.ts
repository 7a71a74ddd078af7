import { clearVerified, markVerified } from '../core/model.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { SafetyInfo } from './types.js';

/** Safety numbers: showing ours, comparing a scanned or pasted code, the verified mark. */
export class Verification {
  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
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
    if (ok) await this.history.saveConv(markVerified(c));
    return ok;
  }

  async markVerified(peer: string): Promise<void> {
    const c = this.history.conv(peer);
    if (c) await this.history.saveConv(markVerified(c));
  }
  async unverify(peer: string): Promise<void> {
    const c = this.history.conv(peer);
    if (c) await this.history.saveConv(clearVerified(c));
  }
  async dismissKeyChange(peer: string): Promise<void> {
    const c = this.history.conv(peer);
    if (c) await this.history.saveConv({ ...c, keyChange: null });
  }
}

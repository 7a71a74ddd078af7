import type { SendFrame } from '@hush/protocol';
import { type Content, encodeContent } from '../core/content.js';
import { classifyKeyFetchError, describe, NOT_REGISTERED } from '../core/send-policy.js';
import { decideIdentityChange, keysVerified, sendGate, wasVerified } from '../core/trust.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { DeviceAddress } from './ports.js';

/** Why a frame was not built: `fail` for good (red), `hold` until the trust policy lets it go. */
export type Built = { frame: SendFrame } | { fail: string } | { hold: true };

/**
 * Peers' keys and the frames encrypted to them: fetches and verifies key bundles, applies the
 * trust policy (core/trust.ts) to what they say, and encrypts one content once per recipient
 * device. Everything here runs inside the context's serial queue.
 */
export class PeerKeys {
  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
  ) {}

  /** Fetches and verifies the peer's bundle; updates identity and status. Runs inside serial(). */
  async refreshBundle(peer: string): Promise<void> {
    const api = this.ctx.api;
    const c = this.history.conv(peer);
    if (!api || !c) return;
    const { crypto } = this.ctx;
    try {
      const before = await crypto.knownDevices(peer);
      const bundle = await api.fetchBundle(peer);
      let r = await crypto.acceptBundle(bundle, this.ctx.now());
      const sameIdentity = r.status !== 'changed';
      if (r.status === 'changed') {
        const d = decideIdentityChange({ own: false, wasVerified: wasVerified(c), source: 'bundle' });
        if (d === 'accept') {
          await crypto.acceptIdentity(peer, r.identityKey);
          r = await crypto.acceptBundle(bundle, this.ctx.now());
        } else {
          // Held: the protocol store keeps the old key; the conversation shows the new safety
          // number and waits for the user.
          await this.history.noteIdentity(peer, r.identityKey, 'bundle');
          return;
        }
      }
      await this.history.noteIdentity(peer, r.identityKey, 'bundle');
      let next = keysVerified(this.history.conv(peer)!, r.identityKey);
      // The peer's signed device list grew under the same identity: tell the user (a device
      // authorization alert), as WhatsApp and Signal do.
      if (sameIdentity && before !== null && r.devices.some((d) => !before.includes(d)))
        next = { ...next, deviceNotice: `${next.username} added a device. Messages you send now reach it too.` };
      await this.history.saveConv(next.keysMissing ? { ...next, keysMissing: false } : next);
    } catch (e) {
      const kind = classifyKeyFetchError(e);
      if (kind === 'retry') throw e;
      const missing = kind === 'not-registered';
      await this.history.saveConv({
        ...this.history.conv(peer)!,
        cannotEncrypt: missing ? NOT_REGISTERED : describe(e),
        keysMissing: missing,
      });
    }
  }

  /**
   * Our own account's bundle (checked against our own identity key), so sent copies reach our
   * other devices; a device that joined the list shows a notice. Runs inside serial().
   */
  async refreshOwnDevices(): Promise<void> {
    const api = this.ctx.api;
    const me = this.ctx.state.me;
    if (!api || !me) return;
    const before = await this.ctx.crypto.knownDevices(me.userId);
    const bundle = await api.fetchBundle(me.userId);
    this.ctx.ownBundle = { at: this.ctx.now(), bundle };
    const r = await this.ctx.crypto.acceptBundle(bundle, this.ctx.now());
    if (before !== null && r.devices.some((d) => d !== me.deviceId && !before.includes(d))) {
      this.ctx.store.update({ notice: 'A new device was linked to your account.' });
    }
  }

  /** Encrypts one content once per recipient device in one send frame, or says why it cannot now. */
  async buildFrame(peer: string, id: string, content: Content): Promise<Built> {
    const { crypto } = this.ctx;
    const before = this.history.conv(peer);
    if (!before) return { fail: 'no conversation with this contact' };
    if (sendGate(before) === 'awaiting-user') return { hold: true };
    let devices = await crypto.knownDevices(peer);
    if (devices === null || devices.length === 0 || sendGate(before) === 'awaiting-keys') {
      await this.refreshBundle(peer);
      devices = await crypto.knownDevices(peer);
    }
    const c = this.history.conv(peer)!;
    const gate = sendGate(c);
    if (gate === 'awaiting-user' || gate === 'awaiting-keys') return { hold: true };
    if (gate === 'cannot-encrypt' || !devices || devices.length === 0)
      return { fail: c.cannotEncrypt ?? 'no keys for this contact' };
    const targets: DeviceAddress[] = devices.map((device) => ({ user: peer, device }));
    // Our own other devices get a copy too (sent copies, read state, device changes).
    const me = this.ctx.state.me!;
    if (content.t === 'text' || content.t === 'devices' || (content.t === 'receipt' && content.to)) {
      let mine = await crypto.knownDevices(me.userId);
      if (mine === null) {
        await this.refreshOwnDevices().catch(() => undefined);
        mine = await crypto.knownDevices(me.userId);
      }
      for (const device of mine ?? []) if (device !== me.deviceId) targets.push({ user: me.userId, device });
    }
    const plaintext = encodeContent(content);
    const envelopes = [];
    for (const to of targets) envelopes.push({ to, body: await crypto.encrypt(to, plaintext) });
    return { frame: { type: 'send', id, envelopes } };
  }
}

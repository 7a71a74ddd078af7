import type { SendFrame } from '@hush/protocol';
import { type Content, encodeContent } from '../core/content.js';
import { encryptionStatus, observeIdentity } from '../core/model.js';
import { classifyKeyFetchError, describe } from '../core/send-policy.js';
import { decideIdentityChange } from '../core/trust.js';
import type { EngineContext } from './context.js';
import type { History } from './history.js';
import type { DeviceAddress } from './ports.js';

/**
 * Peers' keys and the frames encrypted to them: fetches and verifies key bundles, applies the
 * trust policy to what they say, and encrypts one content once per recipient device
 * (DESIGN §3.1). Everything here runs inside the context's serial queue.
 */
export class PeerKeys {
  constructor(
    private readonly ctx: EngineContext,
    private readonly history: History,
  ) {}

  /** Fetches and verifies the peer's bundle; updates identity and status. Runs inside serial(). */
  async refreshBundle(peer: string): Promise<void> {
    const api = this.ctx.api;
    if (!api || !this.history.conv(peer)) return;
    const { crypto } = this.ctx;
    try {
      const before = await crypto.knownDevices(peer);
      const bundle = await api.fetchBundle(peer);
      let r = await crypto.acceptBundle(bundle, this.ctx.now());
      const sameIdentity = r.status !== 'changed';
      if (r.status === 'changed' && decideIdentityChange({ own: false }) === 'accept') {
        await crypto.acceptIdentity(peer, r.identityKey);
        r = await crypto.acceptBundle(bundle, this.ctx.now());
      }
      let next = observeIdentity(this.history.conv(peer)!, r.identityKey, this.ctx.now());
      // The peer's signed device list grew under the same identity: tell the user (DESIGN §4,
      // device authorization alerts), as WhatsApp and Signal do.
      if (sameIdentity && before !== null && r.devices.some((d) => !before.includes(d)))
        next = { ...next, deviceNotice: `${next.username} added a device.` };
      await this.history.saveConv(next);
    } catch (e) {
      if (classifyKeyFetchError(e) === 'retry') throw e;
      await this.history.saveConv({ ...this.history.conv(peer)!, cannotEncrypt: describe(e) });
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
    const r = await this.ctx.crypto.acceptBundle(await api.fetchBundle(me.userId), this.ctx.now());
    if (before !== null && r.devices.some((d) => d !== me.deviceId && !before.includes(d))) {
      this.ctx.store.update({ notice: 'A new device was linked to your account.' });
    }
  }

  /** Encrypts one content once per recipient device in one send frame, or returns why it cannot. */
  async buildFrame(peer: string, id: string, content: Content): Promise<SendFrame | string> {
    const { crypto } = this.ctx;
    let devices = await crypto.knownDevices(peer);
    if (devices === null || devices.length === 0) {
      await this.refreshBundle(peer);
      devices = await crypto.knownDevices(peer);
    }
    const c = this.history.conv(peer);
    if (!devices || devices.length === 0 || (c && encryptionStatus(c) === 'red'))
      return c?.cannotEncrypt ?? 'no keys for this contact';
    const targets: DeviceAddress[] = devices.map((device) => ({ user: peer, device }));
    // Our own other devices get a copy too (sent copies, read state, device changes: DESIGN §3.1).
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
    return { type: 'send', id, envelopes };
  }
}

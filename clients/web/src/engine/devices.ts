/**
 * Linking devices (docs/ARCHITECTURE.md, "Linking a device"): the new device's "Link this device"
 * screen, the approving device's "Link a new device" flow, and "Linked devices" with remote
 * sign-out. Everything that crosses the relay is sealed with libs/crypto's provisioning cipher;
 * the server sees a channel id and ciphertext.
 *
 * Messages on the channel (JSON inside the cipher), in order:
 *   old -> new  hello     {from}                                 (inside the opening)
 *   new -> old  device    {deviceId, name}
 *   old -> new  identity  {seed, publicKey, deviceList, total}    after the user pressed Approve
 *   old -> new  history   {conversations, messages}               0..n chunks, `total` messages in all
 *   old -> new  done
 *   new -> old  linked                                            keys published under the identity
 */

import type { Session } from '@hush/protocol';
import {
  chunkHistory,
  type DevicesDeps,
  type DevicesView,
  LINK_HISTORY_MS,
  type LinkState,
  movableMessages,
  openWire,
  parseWire,
  relayMessages,
  seal,
  type Wire,
  wireBytes,
} from './link-wire.js';
import type { LinkCipher, ServerApi } from './ports.js';

export type { DeviceRow, DevicesView, LinkHistory, LinkStage, LinkState } from './link-wire.js';

export class Devices {
  private v: DevicesView = { link: null, devices: null, busy: false, error: null };
  private readonly listeners = new Set<() => void>();
  /** Cancels the running link (either role). */
  private abort: AbortController | null = null;
  private approve: ((ok: boolean) => void) | null = null;

  constructor(private readonly d: DevicesDeps) {}

  get view(): DevicesView {
    return this.v;
  }
  subscribe(l: () => void): () => void {
    this.listeners.add(l);
    return () => this.listeners.delete(l);
  }
  private set(p: Partial<DevicesView>): void {
    this.v = { ...this.v, ...p };
    for (const l of this.listeners) l();
  }
  private setLink(p: Partial<LinkState> | null): void {
    this.set({ link: p === null ? null : ({ ...(this.v.link ?? {}), ...p } as LinkState) });
  }

  /** Stops any link in progress (navigation away, sign-out). */
  cancel(): void {
    this.abort?.abort();
    this.abort = null;
    this.approve?.(false);
    this.approve = null;
    this.setLink(null);
  }

  // ------------------------------------------------------------------ polling the relay

  // ------------------------------------------------------------------ the new device

  /**
   * Shows "Link this device": a fresh ephemeral key and channel, then waits for an existing device.
   * `api` is this pending device's own authenticated API.
   */
  async linkThisDevice(api: ServerApi, session: Session): Promise<void> {
    this.cancel();
    const abort = new AbortController();
    this.abort = abort;
    const start = await this.d.crypto.linkStart(session.userId);
    const { code, channel } = start;
    this.setLink({ role: 'new', stage: 'waiting', code, error: undefined, progress: undefined, compare: undefined });
    let cipher: LinkCipher | null = null;
    try {
      let identity: Extract<Wire, { t: 'identity' }> | null = null;
      let done = 0;
      for await (const bytes of relayMessages(api, channel, 'new', abort.signal, this.d.now)) {
        if (!cipher) {
          const opened = await start.accept(bytes);
          cipher = opened.cipher;
          const hello = parseWire(opened.first);
          if (hello.t !== 'hello') throw new Error('Unexpected first message');
          await api.linkSend(
            channel,
            'old',
            seal(cipher, { t: 'device', deviceId: session.deviceId, name: this.d.deviceName }),
          );
          this.setLink({ stage: 'confirm', compare: cipher.code });
          continue;
        }
        const m = openWire(cipher, bytes);
        if (m.t === 'identity') {
          identity = m;
          this.setLink({ stage: 'transfer', progress: { done: 0, total: m.total } });
        } else if (m.t === 'history' && identity) {
          await this.d.history.importHistory(m.conversations ?? [], m.messages ?? []);
          done += (m.messages ?? []).length;
          this.setLink({ progress: { done, total: identity.total } });
        } else if (m.t === 'done' && identity) {
          const id = identity;
          const keys = await this.d.serial(() =>
            this.d.crypto.adoptIdentity(
              { seed: id.seed, publicKey: id.publicKey },
              session.userId,
              session.deviceId,
              id.deviceList,
              this.d.now(),
              this.d.prekeys,
            ),
          );
          await api.publishKeys(keys);
          await api.linkSend(channel, 'old', seal(cipher, { t: 'linked' }));
          this.setLink({ stage: 'done' });
          this.abort = null;
          await this.d.onLinked(session);
          this.setLink(null);
          return;
        } else {
          throw new Error('Unexpected message on the link channel');
        }
      }
    } catch (e) {
      if (!abort.signal.aborted) this.setLink({ stage: 'failed', error: message(e) });
    } finally {
      cipher?.destroy();
    }
  }

  // ------------------------------------------------------------------ the approving device

  /**
   * "Link a new device": opens the channel named by a scanned or pasted code, learns the new
   * device's name, and waits for the user's Approve before anything secret moves.
   */
  async linkNewDevice(api: ServerApi, me: { userId: string; deviceId: string }, text: string): Promise<void> {
    this.cancel();
    const abort = new AbortController();
    this.abort = abort;
    this.setLink({ role: 'old', stage: 'waiting', error: undefined, progress: undefined, compare: undefined });
    let cipher: LinkCipher | null = null;
    try {
      const hello = wireBytes({ t: 'hello', from: this.d.deviceName } satisfies Wire);
      const code = await this.d.crypto.linkJoin(text, hello, me.userId);
      cipher = code.cipher;
      await api.linkSend(code.channel, 'new', code.opening);
      const it = relayMessages(api, code.channel, 'old', abort.signal, this.d.now);
      const first = await it.next();
      if (first.done) return;
      const dev = openWire(cipher, first.value);
      if (dev.t !== 'device') throw new Error('Unexpected answer from the new device');
      // The device must be a signed-in device of this account that is not us: the server vouches
      // for the sign-in (password), the channel for the code the user compares.
      const signedIn = await api.listDevices();
      if (dev.deviceId === me.deviceId || !signedIn.some((x) => x.deviceId === dev.deviceId)) {
        throw new Error('That device is not signed in to this account.');
      }
      this.setLink({ stage: 'confirm', compare: cipher.code, deviceName: dev.name });
      const ok = await new Promise<boolean>((resolve) => {
        this.approve = resolve;
        abort.signal.addEventListener('abort', () => resolve(false));
      });
      this.approve = null;
      if (!ok) return;

      // Approved: sign the account's next device list with the new device, then move the identity.
      this.setLink({ stage: 'transfer', progress: { done: 0, total: 0 } });
      const current = await this.d.crypto.ownDeviceList(await api.fetchBundle(me.userId));
      const devices = [...new Set([...current.devices, dev.deviceId])];
      const list = await this.d.serial(() =>
        this.d.crypto.signDeviceList(me.userId, current.version + 1, devices, this.d.now()),
      );
      await api.publishDeviceList(list);
      await this.d.serial(() => this.d.crypto.recordOwnDeviceList(list));
      const since = this.d.now() - LINK_HISTORY_MS;
      const history = await this.d.history.exportHistory(since);
      const messages = movableMessages(history.messages, since);
      const identity = await this.d.crypto.exportIdentity();
      await api.linkSend(
        code.channel,
        'new',
        seal(cipher, { t: 'identity', ...identity, deviceList: list, total: messages.length }),
      );
      let done = 0;
      for (const chunk of chunkHistory(history.conversations, messages)) {
        await api.linkSend(code.channel, 'new', seal(cipher, { t: 'history', ...chunk }));
        done += chunk.messages.length;
        this.setLink({ progress: { done, total: messages.length } });
      }
      await api.linkSend(code.channel, 'new', seal(cipher, { t: 'done' }));
      const answer = await it.next();
      if (answer.done) return;
      if (openWire(cipher, answer.value).t !== 'linked') throw new Error('Unexpected answer from the new device');
      this.setLink({ stage: 'done' });
      this.abort = null;
      await this.d.onDeviceListChanged();
      void this.refresh(api, me.userId);
    } catch (e) {
      if (!abort.signal.aborted) this.setLink({ stage: 'failed', error: message(e) });
    } finally {
      cipher?.destroy();
    }
  }

  /** The user compared the codes and pressed "Approve" (or declined). */
  decide(ok: boolean): void {
    this.approve?.(ok);
    if (!ok) this.cancel();
  }

  // ------------------------------------------------------------------ linked devices

  /** Loads "Linked devices": auth's signed-in devices, marked linked when the signed list names them. */
  async refresh(api: ServerApi, userId: string): Promise<void> {
    this.set({ busy: true, error: null });
    try {
      const [infos, bundle] = await Promise.all([api.listDevices(), api.fetchBundle(userId)]);
      const list = await this.d.crypto.ownDeviceList(bundle);
      const linked = new Set(list.devices);
      this.set({ devices: infos.map((i) => ({ ...i, linked: linked.has(i.deviceId) })), busy: false });
    } catch (e) {
      this.set({ busy: false, error: message(e) });
    }
  }

  /**
   * "Sign out device": the account's list is re-signed without it (keydir drops its keys and
   * mailbox, contacts stop encrypting to it), then auth revokes its tokens and closes its socket.
   */
  async signOut(api: ServerApi, me: { userId: string; deviceId: string }, deviceId: string): Promise<void> {
    if (deviceId === me.deviceId) return;
    this.set({ busy: true, error: null });
    try {
      // Tokens first: the device hears "signed out" (close 4403) and wipes itself, rather than
      // first losing its mailbox consumer to the list change (which only looks like a replaced socket).
      await api.signOutDevice(deviceId).catch((e: unknown) => {
        // Already signed out: the list change below is what is left to do.
        if ((e as { code?: string }).code !== 'NOT_FOUND') throw e;
      });
      const current = await this.d.crypto.ownDeviceList(await api.fetchBundle(me.userId));
      if (current.devices.includes(deviceId)) {
        const devices = current.devices.filter((x) => x !== deviceId);
        const list = await this.d.serial(() =>
          this.d.crypto.signDeviceList(me.userId, current.version + 1, devices, this.d.now()),
        );
        await api.publishDeviceList(list);
        await this.d.serial(() => this.d.crypto.recordOwnDeviceList(list));
      }
      // Contacts fetch the shorter list now, so they stop encrypting to the device and refuse
      // anything it still sends (rather than at their next key fetch).
      await this.d.onDeviceListChanged();
      this.set({ busy: false });
      await this.refresh(api, me.userId);
    } catch (e) {
      this.set({ busy: false, error: message(e) });
    }
  }
}

function message(e: unknown): string {
  if (e instanceof Error && e.message) return e.message;
  return 'Linking failed. Start again.';
}

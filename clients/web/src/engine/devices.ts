import {
  createPrimitives,
  decodeLinkCode,
  decodeOpening,
  defaultRandomBytes,
  encodeLinkCode,
  encodeOpening,
  fromBase64,
  newChannelId,
  openProvisioningChannel,
  PROVISIONING_VERSION,
  type ProvisioningCipher,
  toBase64,
} from '@hush/crypto';
import { type DeviceInfo, LINK_CHANNEL_TTL_MS, type Session, type SignedDeviceList } from '@hush/protocol';
import type { ChatMessage, Conversation } from '../core/model.js';
import type { CryptoPort, ServerApi } from './ports.js';

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

/** History moved to a new device: the last 30 days, as WhatsApp's and Signal's transfer offer. */
export const LINK_HISTORY_MS = 30 * 24 * 3600_000;
/** Plaintext per history chunk, well under the relay's per-message limit once sealed and in base64. */
export const LINK_CHUNK_BYTES = 48 * 1024;
/** A relay poll waits this long for the other side before asking again. */
export const LINK_POLL_WAIT_MS = 20_000;

export type LinkStage =
  /** New device: showing its code, waiting for an existing device. Old device: waiting for the new one's answer. */
  | 'waiting'
  /** Both: the comparison code is known; the old device shows "Approve". */
  | 'confirm'
  /** Identity and history are moving. */
  | 'transfer'
  | 'done'
  | 'failed';

export interface LinkState {
  role: 'new' | 'old';
  stage: LinkStage;
  /** New device: the link code (QR code and text). */
  code?: string;
  /** Both, once the channel is up: the digits to compare on both screens. */
  compare?: string;
  /** Old device: the new device's name as it told us over the channel. */
  deviceName?: string;
  progress?: { done: number; total: number };
  error?: string;
}

export interface DeviceRow extends DeviceInfo {
  /** Named in the account's signed device list (false: signed in but never linked). */
  linked: boolean;
}

export interface DevicesView {
  link: LinkState | null;
  devices: DeviceRow[] | null;
  busy: boolean;
  error: string | null;
}

export interface HistoryPort {
  /** Conversations and their messages of the last `sinceMs` (for the new device). */
  exportHistory(sinceMs: number): Promise<{ conversations: Conversation[]; messages: ChatMessage[] }>;
  /** Stores moved conversations and messages (new device, before it starts). */
  importHistory(conversations: Conversation[], messages: ChatMessage[]): Promise<void>;
}

export interface DevicesDeps {
  crypto: CryptoPort;
  history: HistoryPort;
  now: () => number;
  deviceName: string;
  /** One-time prekeys a newly linked device publishes. */
  prekeys: number;
  /** Serialises crypto-store writes with the engine's queue. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /** New device: the identity arrived and the keys are published; start as a normal device. */
  onLinked(session: Session): Promise<void>;
  /** Old device: a device was added to the account's list; tell contacts and our other devices. */
  onDeviceAdded(): Promise<void>;
}

type Wire =
  | { t: 'hello'; from: string }
  | { t: 'device'; deviceId: string; name: string }
  | { t: 'identity'; seed: string; publicKey: string; deviceList: SignedDeviceList; total: number }
  | { t: 'history'; conversations: Conversation[]; messages: ChatMessage[] }
  | { t: 'done' }
  | { t: 'linked' };

const enc = new TextEncoder();
const dec = new TextDecoder();
const seal = (c: ProvisioningCipher, m: Wire) => toBase64(c.seal(enc.encode(JSON.stringify(m))));
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

function openWire(c: ProvisioningCipher, bytes: Uint8Array): Wire {
  const m = JSON.parse(dec.decode(c.open(bytes))) as unknown;
  if (!isObj(m) || typeof m.t !== 'string') throw new Error('Malformed message on the link channel');
  return m as Wire;
}

/** Splits history into chunks of about LINK_CHUNK_BYTES of JSON each. */
export function chunkHistory(
  conversations: Conversation[],
  messages: ChatMessage[],
  limit = LINK_CHUNK_BYTES,
): { conversations: Conversation[]; messages: ChatMessage[] }[] {
  const out: { conversations: Conversation[]; messages: ChatMessage[] }[] = [];
  let cur = { conversations, messages: [] as ChatMessage[] };
  let size = JSON.stringify(conversations).length;
  for (const m of messages) {
    const n = JSON.stringify(m).length;
    if (cur.messages.length > 0 && size + n > limit) {
      out.push(cur);
      cur = { conversations: [], messages: [] };
      size = 0;
    }
    cur.messages.push(m);
    size += n + 1;
  }
  if (cur.messages.length > 0 || cur.conversations.length > 0) out.push(cur);
  return out;
}

/** What a moved message looks like on the new device: no wire record (its frames were someone else's). */
export function movableMessages(messages: ChatMessage[], since: number): ChatMessage[] {
  return messages
    .filter((m) => m.tick !== 'pending' && m.tick !== 'failed' && (m.ts ?? m.sentAt) >= since)
    .map((m) => ({ ...m, wire: null }));
}

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

  private async *messages(api: ServerApi, channel: string, side: 'new' | 'old', signal: AbortSignal) {
    let after = 0;
    let backoff = 500;
    const deadline = this.d.now() + LINK_CHANNEL_TTL_MS;
    while (!signal.aborted) {
      if (this.d.now() > deadline) throw new Error('The link code expired. Start again.');
      let got: Awaited<ReturnType<ServerApi['linkPoll']>>;
      try {
        got = await api.linkPoll(channel, side, after, LINK_POLL_WAIT_MS);
        backoff = 500;
      } catch (e) {
        if (signal.aborted) return;
        // The network or a gateway blinked: the relay keeps the messages, ask again.
        if (e instanceof TypeError || (e as { status?: number }).status === 503) {
          await new Promise((r) => setTimeout(r, backoff));
          backoff = Math.min(backoff * 2, 8_000);
          continue;
        }
        throw e;
      }
      // An empty answer means the relay waited already; a short pause keeps a relay that
      // answers at once (an old gateway, a proxy cutting long polls) from spinning.
      if (got.messages.length === 0) await new Promise((r) => setTimeout(r, 250));
      for (const m of got.messages) {
        after = m.seq;
        if (signal.aborted) return;
        yield fromBase64(m.body);
      }
    }
  }

  // ------------------------------------------------------------------ the new device

  /**
   * Shows "Link this device": a fresh ephemeral key and channel, then waits for an existing device.
   * `api` is this pending device's own authenticated API.
   */
  async linkThisDevice(api: ServerApi, session: Session): Promise<void> {
    this.cancel();
    const abort = new AbortController();
    this.abort = abort;
    const prims = await createPrimitives();
    const kp = await prims.x25519KeyPair(defaultRandomBytes);
    const channel = newChannelId(defaultRandomBytes);
    const code = encodeLinkCode({
      version: PROVISIONING_VERSION,
      userId: session.userId,
      channelId: channel,
      publicKey: kp.publicKey,
    });
    this.setLink({ role: 'new', stage: 'waiting', code, error: undefined, progress: undefined, compare: undefined });
    let cipher: ProvisioningCipher | null = null;
    try {
      let identity: Extract<Wire, { t: 'identity' }> | null = null;
      let done = 0;
      for await (const bytes of this.messages(api, channel, 'new', abort.signal)) {
        if (!cipher) {
          const { oldPublic, sealed } = decodeOpening(bytes);
          cipher = await openProvisioningChannel(prims, kp, oldPublic, 'new', channel, defaultRandomBytes);
          const hello = openWire(cipher, sealed);
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
    let cipher: ProvisioningCipher | null = null;
    try {
      const code = decodeLinkCode(text);
      if (code.userId !== me.userId) {
        throw new Error('This link code belongs to another account. Sign in with this account on the new device.');
      }
      const prims = await createPrimitives();
      const kp = await prims.x25519KeyPair(defaultRandomBytes);
      cipher = await openProvisioningChannel(prims, kp, code.publicKey, 'old', code.channelId, defaultRandomBytes);
      const hello = cipher.seal(enc.encode(JSON.stringify({ t: 'hello', from: this.d.deviceName } satisfies Wire)));
      await api.linkSend(code.channelId, 'new', toBase64(encodeOpening(kp.publicKey, hello)));
      const it = this.messages(api, code.channelId, 'old', abort.signal);
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
      const since = this.d.now() - LINK_HISTORY_MS;
      const history = await this.d.history.exportHistory(since);
      const messages = movableMessages(history.messages, since);
      const identity = await this.d.crypto.exportIdentity();
      await api.linkSend(
        code.channelId,
        'new',
        seal(cipher, { t: 'identity', ...identity, deviceList: list, total: messages.length }),
      );
      let done = 0;
      for (const chunk of chunkHistory(history.conversations, messages)) {
        await api.linkSend(code.channelId, 'new', seal(cipher, { t: 'history', ...chunk }));
        done += chunk.messages.length;
        this.setLink({ progress: { done, total: messages.length } });
      }
      await api.linkSend(code.channelId, 'new', seal(cipher, { t: 'done' }));
      const answer = await it.next();
      if (answer.done) return;
      if (openWire(cipher, answer.value).t !== 'linked') throw new Error('Unexpected answer from the new device');
      this.setLink({ stage: 'done' });
      this.abort = null;
      await this.d.onDeviceAdded();
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
      }
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

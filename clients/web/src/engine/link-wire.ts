/** Device linking: the state the views read, the channel messages and the relay poller (engine/devices.ts uses them). */
import { type DeviceInfo, LINK_CHANNEL_TTL_MS, type Session, type SignedDeviceList } from '@hush/protocol';
import type { ChatMessage, Conversation } from '../core/model.js';
import type { CryptoPort, LinkCipher, ServerApi } from './ports.js';

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

export interface LinkHistory {
  /** Conversations and their messages of the last `sinceMs` (for the new device). */
  exportHistory(sinceMs: number): Promise<{ conversations: Conversation[]; messages: ChatMessage[] }>;
  /** Stores moved conversations and messages (new device, before it starts). */
  importHistory(conversations: Conversation[], messages: ChatMessage[]): Promise<void>;
}

export interface DevicesDeps {
  crypto: CryptoPort;
  history: LinkHistory;
  now: () => number;
  deviceName: string;
  /** One-time prekeys a newly linked device publishes. */
  prekeys: number;
  /** Serialises crypto-store writes with the engine's queue. */
  serial<T>(fn: () => Promise<T>): Promise<T>;
  /** New device: the identity arrived and the keys are published; start as a normal device. */
  onLinked(session: Session): Promise<void>;
  /** Old device: a device was added to or removed from the account's list; tell contacts and our other devices. */
  onDeviceListChanged(): Promise<void>;
}

export type Wire =
  | { t: 'hello'; from: string }
  | { t: 'device'; deviceId: string; name: string }
  | { t: 'identity'; seed: string; publicKey: string; deviceList: SignedDeviceList; total: number }
  | { t: 'history'; conversations: Conversation[]; messages: ChatMessage[] }
  | { t: 'done' }
  | { t: 'linked' };

const enc = new TextEncoder();
const dec = new TextDecoder();
export const wireBytes = (m: Wire) => enc.encode(JSON.stringify(m));
export const seal = (c: LinkCipher, m: Wire) => c.seal(wireBytes(m));
const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null;

/** Parses a decrypted channel message (the other side is one of our devices, still checked). */
export function parseWire(plaintext: Uint8Array): Wire {
  const m = JSON.parse(dec.decode(plaintext)) as unknown;
  if (!isObj(m) || typeof m.t !== 'string') throw new Error('Malformed message on the link channel');
  return m as Wire;
}
export const openWire = (c: LinkCipher, body: string): Wire => parseWire(c.open(body));

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

/**
 * The relay's messages for `side`, in order, until `signal` aborts or the channel expires; a
 * network or gateway blink is retried (the relay keeps messages for LINK_CHANNEL_TTL_MS).
 */
export async function* relayMessages(
  api: ServerApi,
  channel: string,
  side: 'new' | 'old',
  signal: AbortSignal,
  now: () => number,
) {
  let after = 0;
  let backoff = 500;
  const deadline = now() + LINK_CHANNEL_TTL_MS;
  while (!signal.aborted) {
    if (now() > deadline) throw new Error('The link code expired. Start again.');
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
      yield m.body;
    }
  }
}

import type { Address, Caller, PresenceQueryReply, StoredEnvelope } from '@hush/protocol';
import type { GatewayConfig } from '../config.js';
import type { TokenIdentity } from '../tokens.js';
import type { Connection } from './connection.js';

/** One delivery pulled from a device's mailbox (JetStream's JsMsg is one). */
export interface MailboxMessage {
  /** Stream sequence: the `seq` of the deliver frame, echoed by the client's ack. */
  readonly seq: number;
  /** The stored envelope's bytes (JSON written by the gateway: `StoredEnvelope`). */
  readonly data: Uint8Array;
  json<T>(): T;
  ack(): void;
  /** Give it back for redelivery now. */
  nak(): void;
  /** Never deliver it again (it is not ours to deliver). */
  term(): void;
}

/** A device's mailbox as a stream of deliveries (JetStream's ConsumerMessages is one). */
export interface MailboxStream extends AsyncIterable<MailboxMessage> {
  /** Consumer notifications; `consumer_deleted` means a newer connection of the device took over. */
  status(): AsyncIterable<{ type: string }>;
  close(): Promise<unknown>;
}

/**
 * Everything a `Connection` needs from the gateway around it, and nothing more. `Hub` implements it
 * in production; a unit test can implement it in a few lines. The contract of each member:
 */
export interface ConnectionContext {
  readonly config: Pick<GatewayConfig, 'helloTimeoutMs' | 'heartbeatMs' | 'gatewayId' | 'maxPresenceFollows'>;
  /** Every socket, bound or still waiting for hello (so shutdown can close them all). */
  track(c: Connection): void;
  untrack(c: Connection): void;
  /** Verifies an access token and that its device is still signed in; throws HushError. */
  authenticate(token: string): Promise<TokenIdentity>;
  /** Binds the connection to its device (replacing an older one) and announces presence. */
  register(c: Connection): void;
  /** Undoes register and every follow. */
  unregister(c: Connection): void;
  /** Presence changes of `userId` go to this connection from now on. */
  follow(c: Connection, userId: string): void;
  /** A fresh stream of the device's mailbox; unacked envelopes come again, in order. */
  consumeMailbox(userId: string, deviceId: string): Promise<MailboxStream>;
  /** Charges a send frame against the device's message and byte quotas: 0, or seconds to wait. */
  admitSend(deviceKey: string, envelopes: ReadonlyArray<{ to: { user: string }; body: string }>): number;
  /** Takes one presence.sub from the device's bucket: 0, or the seconds to wait. */
  takePresenceToken(deviceKey: string): number;
  /** Counts an error frame sent to a client, by code (for metrics). */
  countError(code: string): void;
  /** Throws GW_UNKNOWN_RECIPIENT unless every address is a current device of its user. */
  checkRecipients(to: Address[]): Promise<void>;
  /** Resolves once JetStream stored the envelope (deduplicated by msgId). */
  publishEnvelope(to: Address, env: StoredEnvelope, msgId: string): Promise<void>;
  /** The caller's view of these users' presence (only users who share it with the caller). */
  queryPresence(caller: Caller, userIds: string[]): Promise<PresenceQueryReply>;
}

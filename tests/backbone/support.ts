/**
 * Helpers for the cross-service tests: real nats-server and redis-server (testkit), the real
 * auth/keydir/presence and gateway processes, and the real client library.
 */
import { randomBytes } from 'node:crypto';
import { type Connection, HushClient, type WebSocketCtor } from '@hush/client';
import type { DeliverFrame, PublishKeysBody, Session } from '@hush/protocol';
import { freePort, type ServiceProcess, type Stack, spawnService, startStack, waitReady } from '@hush/testkit';
import WebSocket from 'ws';

/**
 * Processes start slowly on a loaded CI machine (tsx compiles on the fly), so gateways get a
 * generous readiness deadline; a slow start is not what these tests are about.
 */
const READY_TIMEOUT_MS = 120_000;

/** startStack, with gateways started here under READY_TIMEOUT_MS. */
export async function backbone(gateways: number, env: Record<string, string> = {}, tenants?: string[]): Promise<Stack> {
  // Every test user registers from 127.0.0.1; auth's per-address limit is for real clients. The
  // prekey-claim test fetches one target's bundle 60 times at once (limits: tests/security).
  const stack = await startStack({
    gateways: 0,
    env: { REGISTRATIONS_PER_ADDR: '100000', BUNDLE_FETCHES_PER_TARGET: '1000', ...env },
    tenants,
  });
  try {
    await Promise.all(Array.from({ length: gateways }, () => addGateway(stack)));
  } catch (e) {
    await stack.stop();
    throw e;
  }
  return stack;
}

export async function addGateway(stack: Stack): Promise<ServiceProcess> {
  const port = await freePort();
  const g = spawnService('gateway', { env: { ...stack.env, GATEWAY_ID: `gw_${port}` }, port });
  stack.gateways.push(g);
  await waitReady(g.url!, READY_TIMEOUT_MS, g);
  return g;
}

export const WS = WebSocket as unknown as WebSocketCtor;
const b64 = (n: number) => randomBytes(n).toString('base64');
export const body = (text: string) => Buffer.from(text).toString('base64');

let seq = 0;
/** A username unique to this run (3-32 of a-z 0-9 _ .). */
export const uname = (tag: string) => `${tag}_${Date.now().toString(36)}${(++seq).toString(36)}`.slice(0, 32);
export const msgId = (tag = 'm') => `${tag}${Date.now().toString(36)}_${randomBytes(5).toString('hex')}`;

/**
 * Public keys of the right shapes. keydir checks shapes and lengths only (trust is the client's,
 * see libs/crypto), so random bytes stand in for real keys in these transport tests.
 */
export function fakeKeys(deviceId: string, prekeys = 10, firstKeyId = 1): PublishKeysBody {
  return {
    identityKey: b64(32),
    deviceKey: { publicKey: b64(32), signature: b64(64) },
    signedPrekey: { keyId: 1, publicKey: b64(32), createdAt: Date.now(), signature: b64(64) },
    oneTimePrekeys: Array.from({ length: prekeys }, (_, i) => ({
      keyId: firstKeyId + i,
      publicKey: b64(32),
      signature: b64(64),
    })),
    deviceList: { version: 1, devices: [deviceId], issuedAt: Date.now(), signature: b64(64) },
  };
}

export interface Device {
  client: HushClient;
  session: Session;
  addr: { user: string; device: string };
}

/** Registers a new user on `url` and publishes its device's keys, so others can address it. */
export async function newUser(url: string, tag: string, opts: { fallbackUrls?: string[]; prekeys?: number } = {}) {
  const client = new HushClient({ baseUrl: url, WebSocket: WS, fallbackUrls: opts.fallbackUrls ?? [] });
  const session = await client.register(uname(tag), 'correct horse battery staple', `${tag} device`);
  await client.publishKeys(fakeKeys(session.deviceId, opts.prekeys ?? 10));
  return { client, session, addr: { user: session.userId, device: session.deviceId } } satisfies Device;
}

/** The same account on `url` with its stored session (a second connection path for one device). */
export function sameDevice(d: Device, url: string, fallbackUrls: string[] = []): HushClient {
  return new HushClient({ baseUrl: url, WebSocket: WS, session: d.client.session!, fallbackUrls });
}

/** Collects deliveries, acking each after "storing" it, and deduplicating by message id as clients must. */
export class Inbox {
  readonly ids: string[] = [];
  readonly unique = new Set<string>();
  readonly frames: DeliverFrame[] = [];
  private waiters: (() => void)[] = [];

  attach(conn: Connection, ack = true): this {
    conn.on('deliver', (d) => {
      this.frames.push(d);
      this.ids.push(d.id);
      this.unique.add(d.id);
      if (ack) conn.ack(d.seq);
      for (const w of this.waiters.splice(0)) w();
    });
    return this;
  }

  async waitFor(pred: () => boolean, timeoutMs = 15_000, what = 'deliveries'): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pred()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; have ${this.unique.size} unique`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  waitForIds(ids: Iterable<string>, timeoutMs?: number): Promise<void> {
    const want = [...ids];
    return this.waitFor(() => want.every((i) => this.unique.has(i)), timeoutMs, `${want.length} ids`);
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the close code of the connection's final close. */
export function closedCode(conn: Connection): Promise<number | undefined> {
  return new Promise((r) => {
    if (conn.state === 'closed') r(undefined);
    conn.on('state', (s) => s.state === 'closed' && r(s.code));
  });
}

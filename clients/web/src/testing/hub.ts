/**
 * An in-memory twin of the gateway and key directory for the engine's unit tests: accounts,
 * mailboxes with acks, send dedupe by id, GW_UNKNOWN_RECIPIENT for unknown devices.
 */
import {
  type AcceptedFrame,
  type DeliverFrame,
  HushError,
  natsMsgId,
  type PublishKeysBody,
  randomId,
  type SendFrame,
  type Session,
  type UserBundle,
} from '@hush/protocol';
import type { Link, LinkHandlers, ServerApi } from '../engine/ports.js';
import { FakeClock } from './clock.js';
import { type Address, purge } from './purge.js';

interface Account {
  userId: string;
  username: string;
  password: string;
  identityKey: string | null;
  devices: string[];
}

export class FakeHub {
  /** Devices the auth service refuses (signed out), for the 4409-before-4403 race. */
  readonly revokedDevices = new Set<string>();
  constructor(readonly clock: FakeClock = new FakeClock()) {}
  readonly accounts = new Map<string, Account>();
  readonly mailboxes = new Map<string, DeliverFrame[]>();
  readonly links = new Map<string, FakeLink>();
  readonly dedupe = new Set<string>();
  readonly sent: SendFrame[] = [];
  /** Bundle GETs per user id (a connect should fetch our own once). */
  readonly bundleFetches = new Map<string, number>();
  seq = 0;
  /** One-time prekeys the (single) account has left on the server. */
  prekeys = 100;
  /** Stored attachment blobs, deleted once `recipients` distinct devices fetched them (as the gateway). */
  readonly attachments = new Map<string, { blob: Uint8Array; recipients: number; fetched: Set<string> }>();
  /** The signed prekey id keydir serves for each device. */
  readonly signedPrekeys = new Map<string, number>();
  /** When set, the hub stores frames but "loses" the accepted answer (a connection that drops after publishing). */
  loseAccepts = false;
  /** Provisioning relay: `<userId>/<channel>` -> side -> bodies (index + 1 is the relay sequence). */
  readonly relay = new Map<string, { new: string[]; old: string[] }>();
  /** Signed-in devices (auth's device records) by device id. */
  readonly deviceNames = new Map<string, { userId: string; name: string; createdAt: number }>();

  byId(userId: string) {
    for (const a of this.accounts.values()) if (a.userId === userId) return a;
    return undefined;
  }

  deliverTo(key: string) {
    const link = this.links.get(key);
    if (!link?.online) return;
    for (const f of this.mailboxes.get(key) ?? []) link.push(f);
  }
}

const mkey = (user: string, device: string) => `${user}.${device}`;

export class FakeLink implements Link {
  online = false;
  private delivered = new Set<number>();
  constructor(
    private readonly hub: FakeHub,
    readonly user: string,
    readonly device: string,
    private readonly h: LinkHandlers,
  ) {}
  get key() {
    return mkey(this.user, this.device);
  }
  goOnline() {
    this.online = true;
    this.delivered.clear();
    this.h.onState('online');
    this.hub.deliverTo(this.key);
  }
  goOffline() {
    this.online = false;
    this.h.onState('offline');
  }
  /** The server signed this device out (remote sign-out). */
  revoke() {
    this.online = false;
    this.h.onRevoked();
  }
  /** Closed with 4409 REPLACED (another connection of this device, or a sign-out racing it). */
  replace() {
    this.online = false;
    this.h.onState('offline');
    this.h.onReplaced();
  }
  /** The server closed the socket for good because the session cannot be refreshed. */
  expire() {
    this.online = false;
    this.h.onExpired();
  }
  push(f: DeliverFrame) {
    if (this.delivered.has(f.seq)) return;
    this.delivered.add(f.seq);
    queueMicrotask(() => this.online && this.h.onDeliver(f));
  }
  async send(frame: SendFrame): Promise<AcceptedFrame> {
    if (!this.online) throw new Error('offline');
    const ts = this.hub.clock.now();
    for (const e of frame.envelopes) {
      const acc = this.hub.byId(e.to.user);
      if (!acc?.devices.includes(e.to.device)) throw new HushError('GW_UNKNOWN_RECIPIENT');
    }
    this.hub.sent.push(frame);
    for (const e of frame.envelopes) {
      const dk = natsMsgId(frame.id, e.to, { user: this.user, device: this.device });
      if (this.hub.dedupe.has(dk)) continue;
      this.hub.dedupe.add(dk);
      const k = mkey(e.to.user, e.to.device);
      const f: DeliverFrame = {
        type: 'deliver',
        seq: ++this.hub.seq,
        id: frame.id,
        from: { user: this.user, device: this.device },
        ts,
        body: e.body,
      };
      this.hub.mailboxes.set(k, [...(this.hub.mailboxes.get(k) ?? []), f]);
      this.hub.deliverTo(k);
    }
    if (this.hub.loseAccepts) {
      this.goOffline();
      throw new Error('connection lost');
    }
    return { type: 'accepted', id: frame.id, ts, count: frame.envelopes.length };
  }
  ack(seq: number) {
    const list = this.hub.mailboxes.get(this.key) ?? [];
    this.hub.mailboxes.set(
      this.key,
      list.filter((f) => f.seq !== seq),
    );
  }
  subscribePresence() {}
  close() {
    this.online = false;
    this.hub.links.delete(this.key);
  }
}

export function fakeServer(hub: FakeHub, autoOnline = true) {
  return (initial: Session | null): ServerApi => {
    let session = initial;
    const mkSession = (a: Account, deviceId: string): Session => ({
      userId: a.userId,
      username: a.username,
      deviceId,
      accessToken: 'x'.repeat(20),
      accessExpiresAt: Date.now() + 900_000,
      refreshToken: 'y'.repeat(20),
      refreshExpiresAt: Date.now() + 1e9,
    });
    const me = () => {
      if (!session) throw new HushError('AUTH_TOKEN_MISSING');
      return session;
    };
    return {
      async uploadAttachment(blob, recipients, onProgress) {
        me();
        onProgress?.(blob.length >> 1, blob.length);
        onProgress?.(blob.length, blob.length);
        const id = `att${String(++hub.seq).padStart(19, '0')}`;
        hub.attachments.set(id, { blob, recipients, fetched: new Set() });
        return id;
      },
      purgeMessage: async (id: string, to: Address[]) => purge(hub.mailboxes, me(), id, to),
      async downloadAttachment(id, onProgress) {
        const a = hub.attachments.get(id);
        if (!a) throw new HushError('ATTACH_NOT_FOUND');
        onProgress?.(a.blob.length, a.blob.length);
        a.fetched.add(me().deviceId);
        if (a.fetched.size >= a.recipients) hub.attachments.delete(id);
        return a.blob;
      },
      async register(c) {
        if (hub.accounts.has(c.username)) throw new HushError('AUTH_USERNAME_TAKEN');
        const a: Account = {
          userId: randomId(16),
          username: c.username,
          password: c.password,
          identityKey: null,
          devices: [],
        };
        hub.accounts.set(c.username, a);
        session = mkSession(a, randomId(10));
        hub.deviceNames.set(session.deviceId, { userId: a.userId, name: c.deviceName, createdAt: hub.clock.now() });
        return session;
      },
      async login(c) {
        const a = hub.accounts.get(c.username);
        if (!a || a.password !== c.password) throw new HushError('AUTH_BAD_CREDENTIALS');
        session = mkSession(a, randomId(10));
        hub.deviceNames.set(session.deviceId, { userId: a.userId, name: c.deviceName, createdAt: hub.clock.now() });
        return session;
      },
      async logout() {},
      async lookupUser(u) {
        const a = hub.accounts.get(u);
        if (!a) throw new HushError('USER_NOT_FOUND');
        return { userId: a.userId, username: a.username };
      },
      async profile(id) {
        const a = hub.byId(id);
        if (!a) throw new HushError('USER_NOT_FOUND');
        return { userId: a.userId, username: a.username };
      },
      async publishKeys(b: PublishKeysBody) {
        const a = hub.byId(me().userId)!;
        // Another identity key is refused unless the user chose "Reset identity" (as keydir).
        if (a.identityKey && a.identityKey !== b.identityKey && !b.resetIdentity)
          throw new HushError('KEYS_IDENTITY_MISMATCH');
        if (a.identityKey !== b.identityKey) a.devices = [];
        a.identityKey = b.identityKey;
        if (!a.devices.includes(me().deviceId)) a.devices.push(me().deviceId);
      },
      async uploadPrekeys(b) {
        hub.prekeys += b.oneTimePrekeys.length;
        if (b.signedPrekey) hub.signedPrekeys.set(me().deviceId, b.signedPrekey.keyId);
        return hub.prekeys;
      },
      async prekeyCount() {
        if (hub.revokedDevices.has(me().deviceId)) throw new HushError('AUTH_DEVICE_REVOKED');
        return hub.prekeys;
      },
      async fetchBundle(userId): Promise<UserBundle> {
        hub.bundleFetches.set(userId, (hub.bundleFetches.get(userId) ?? 0) + 1);
        const a = hub.byId(userId);
        if (!a?.identityKey) throw new HushError('KEYS_NOT_FOUND');
        return {
          userId,
          identityKey: a.identityKey,
          deviceList: { version: 1, devices: a.devices, issuedAt: 0, signature: '' },
          devices: a.devices.map((deviceId) => ({
            deviceId,
            deviceKey: { publicKey: '', signature: '' },
            signedPrekey: { keyId: hub.signedPrekeys.get(deviceId) ?? 0, publicKey: '', createdAt: 0, signature: '' },
            oneTimePrekey: null,
          })),
        };
      },
      async addContact() {},
      async presence() {
        return [];
      },
      async listDevices() {
        return [...hub.deviceNames]
          .filter(([, d]) => d.userId === me().userId)
          .map(([deviceId, d]) => ({
            deviceId,
            name: d.name,
            createdAt: d.createdAt,
            lastSeen: d.createdAt,
            current: deviceId === me().deviceId,
          }));
      },
      async signOutDevice(deviceId) {
        const a = hub.byId(me().userId)!;
        if (hub.deviceNames.get(deviceId)?.userId !== a.userId) throw new HushError('NOT_FOUND');
        hub.deviceNames.delete(deviceId);
        a.devices = a.devices.filter((d) => d !== deviceId);
        hub.links.get(mkey(a.userId, deviceId))?.revoke();
      },
      async publishDeviceList(list) {
        const a = hub.byId(me().userId)!;
        a.devices = [...list.devices];
      },
      async linkSend(channel, to, body) {
        const c = hub.relay.get(`${me().userId}/${channel}`) ?? { new: [], old: [] };
        c[to].push(body);
        hub.relay.set(`${me().userId}/${channel}`, c);
      },
      async linkPoll(channel, side, after) {
        const list = hub.relay.get(`${me().userId}/${channel}`)?.[side] ?? [];
        return { messages: list.slice(after).map((body, i) => ({ seq: after + i + 1, body })) };
      },
      connect(h: LinkHandlers) {
        const s = me();
        const link = new FakeLink(hub, s.userId, s.deviceId, h);
        hub.links.set(link.key, link);
        if (autoOnline) queueMicrotask(() => link.goOnline());
        return link;
      },
    };
  };
}

import { createPrimitives } from '@hush/crypto';
import type { PublishKeysBody, UserBundle } from '@hush/protocol';
import { provisioningMethods } from '../adapters/provisioning.js';
import { fromB64, toB64 } from '../core/b64.js';
import type { BundleResult, CryptoPort, DecryptOutcome, DeviceAddress } from '../engine/ports.js';

/*
 * The fake "encryption" is a tagged base64 of the plaintext: the engine's tests check its rules
 * (outbox, receipts, dedupe, status, trust), not cryptography (libs/crypto and the browser tests do).
 */
/**
 * Per-browser fake crypto: knows its own identity, the identity it trusts for each peer (trust on
 * first use, then explicit, as @hush/crypto) and which peer devices it "has sessions" with.
 */
export class FakeCrypto implements CryptoPort {
  identity: string | null = null;
  me: DeviceAddress | null = null;
  readonly sessions = new Map<string, string[]>();
  readonly trusted = new Map<string, string>();
  readonly seen = new Set<string>();
  /** Peer devices a newer signed list dropped ("user/device"). */
  readonly removed = new Set<string>();
  /** Sender devices (and identity) we have a session with. */
  private readonly started = new Set<string>();

  async hasDevice(userId: string, deviceId: string) {
    return this.me?.user === userId && this.me.device === deviceId;
  }
  async createDevice(userId: string, deviceId: string): Promise<PublishKeysBody> {
    this.me = { user: userId, device: deviceId };
    this.identity = toB64(crypto.getRandomValues(new Uint8Array(32)));
    return { identityKey: this.identity } as PublishKeysBody;
  }
  /** The signed prekeys this device made (newest last), as libs/crypto rotates them: weekly. */
  readonly signedPrekeys: { keyId: number; createdAt: number }[] = [];
  async maintainSignedPrekey(now: number) {
    const week = 7 * 24 * 3600 * 1000;
    const newest = this.signedPrekeys.at(-1);
    const rotated = !newest || now >= newest.createdAt + week;
    if (rotated) this.signedPrekeys.push({ keyId: this.signedPrekeys.length + 1, createdAt: now });
    const cur = this.signedPrekeys.at(-1)!;
    return {
      current: { keyId: cur.keyId, publicKey: '', createdAt: cur.createdAt, signature: '' },
      rotated,
      nextCheckAt: cur.createdAt + week,
    };
  }
  /** "Encrypts" a file as its bytes reversed, with a digest the fake checks (tests of the engine's rules). */
  async sealAttachment(bytes: Uint8Array, onProgress?: (done: number, total: number) => void) {
    // Progress per 64 KiB "chunk", as the real one reports it.
    for (let d = 65_536; d < bytes.length + 65_536; d += 65_536) onProgress?.(Math.min(d, bytes.length), bytes.length);
    const blob = bytes.slice().reverse();
    const sum = blob.reduce((a, b) => (a + b) % 65_521, 0);
    return { blob, key: `${'K'.repeat(43)}=`, digest: `${String(sum).padStart(43, '0')}=`, size: bytes.length };
  }
  async openAttachment(
    blob: Uint8Array,
    ref: { key: string; digest: string; size: number },
    onProgress?: (done: number, total: number) => void,
  ) {
    const sum = blob.reduce((a, b) => (a + b) % 65_521, 0);
    if (`${String(sum).padStart(43, '0')}=` !== ref.digest) throw new Error('digest mismatch');
    onProgress?.(ref.size, ref.size);
    return blob.slice().reverse().subarray(0, ref.size);
  }
  generated = 0;
  async generatePrekeys(n: number) {
    this.generated += n;
    return Array.from({ length: n }, (_, i) => ({ keyId: i, publicKey: '', signature: '' }));
  }
  async acceptBundle(b: UserBundle): Promise<BundleResult> {
    const known = this.trusted.get(b.userId);
    if (known !== undefined && known !== b.identityKey)
      return { identityKey: b.identityKey, status: 'changed', devices: b.deviceList.devices };
    this.trusted.set(b.userId, b.identityKey);
    // As libs/crypto's device-list history: a device a newer list dropped is "removed".
    for (const d of this.sessions.get(b.userId) ?? [])
      if (!b.deviceList.devices.includes(d)) this.removed.add(`${b.userId}/${d}`);
    this.sessions.set(b.userId, b.deviceList.devices);
    return { identityKey: b.identityKey, status: known ? 'known' : 'new', devices: b.deviceList.devices };
  }
  async acceptIdentity(userId: string, identityKey: string) {
    this.trusted.set(userId, identityKey);
    this.sessions.delete(userId);
  }
  async knownDevices(userId: string) {
    return this.sessions.get(userId) ?? null;
  }
  batch<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }
  async encrypt(_to: DeviceAddress, pt: Uint8Array) {
    return toB64(new TextEncoder().encode(JSON.stringify({ idk: this.identity, n: Math.random(), pt: toB64(pt) })));
  }
  async decrypt(from: DeviceAddress, body: string): Promise<DecryptOutcome> {
    // Replays are refused, as the Double Ratchet does.
    if (this.seen.has(body)) return { ok: false, reason: 'duplicate' };
    if (this.removed.has(`${from.user}/${from.device}`)) return { ok: false, reason: 'device-removed' };
    if (this.failDecrypts > 0) {
      this.failDecrypts--;
      return { ok: false, reason: 'undecryptable', retryable: true };
    }
    let o: { idk: string; pt: string };
    try {
      o = JSON.parse(new TextDecoder().decode(fromB64(body))) as { idk: string; pt: string };
    } catch {
      return { ok: false, reason: 'undecryptable' };
    }
    const own = from.user === this.me?.user;
    const known = own ? this.identity : this.trusted.get(from.user);
    if (known !== undefined && known !== o.idk)
      return { ok: false, reason: 'identity-changed', identityKey: o.idk, own };
    if (known === undefined) this.trusted.set(from.user, o.idk);
    this.seen.add(body);
    // As the real adapter: the identity key is reported for a session start only.
    const dev = `${from.user}/${from.device}/${o.idk}`;
    const start = !this.started.has(dev);
    this.started.add(dev);
    return { ok: true, plaintext: fromB64(o.pt), identityKey: start ? o.idk : null };
  }
  /** How many next envelopes this device pretends it cannot decrypt (lost or restored state). */
  failDecrypts = 0;
  readonly retryAsks: { to: DeviceAddress; messageId: string; attempt: number }[] = [];
  async retryRequest(to: DeviceAddress, messageId: string, attempt: number) {
    this.retryAsks.push({ to, messageId, attempt });
    return toB64(new TextEncoder().encode(JSON.stringify({ retry: messageId, attempt })));
  }
  async openRetry(from: DeviceAddress, body: string) {
    try {
      const o = JSON.parse(new TextDecoder().decode(fromB64(body))) as { retry?: string; attempt?: number };
      if (typeof o.retry !== 'string') return null;
      // As @hush/crypto: a request is checked against the requester's trusted identity.
      if (from.user !== this.me?.user && !this.trusted.has(from.user)) return { unknownRequester: true as const };
      return { messageId: o.retry, attempt: o.attempt ?? 1 };
    } catch {
      return null;
    }
  }
  async encryptRetry(to: DeviceAddress, pt: Uint8Array) {
    return this.encrypt(to, pt);
  }
  async safety(a: string, b: string, key: string) {
    return { digits: '1'.repeat(60), qrPayload: `${[a, b].sort().join(':')}:${key}:${this.identity}` };
  }
  async checkPayload(a: string, b: string, key: string, payload: string) {
    return payload === `${[a, b].sort().join(':')}:${this.identity}:${key}`;
  }
  async localDevice() {
    return this.me && this.identity ? { userId: this.me.user, deviceId: this.me.device } : null;
  }
  async renewDevice(userId: string, deviceId: string) {
    this.me = { user: userId, device: deviceId };
    this.sessions.clear();
    return { identityKey: this.identity } as PublishKeysBody;
  }
  async exportIdentity() {
    if (!this.identity) throw new Error('no identity');
    return { seed: this.identity, publicKey: this.identity };
  }
  async adoptIdentity(id: { seed: string; publicKey: string }, userId: string, deviceId: string) {
    this.me = { user: userId, device: deviceId };
    this.identity = id.publicKey;
    return { identityKey: this.identity } as PublishKeysBody;
  }
  async ownDeviceList(b: UserBundle) {
    if (b.identityKey !== this.identity) throw new Error('another identity');
    return { version: b.deviceList.version, devices: b.deviceList.devices };
  }
  async signDeviceList(_userId: string, version: number, devices: string[], now: number) {
    return { version, devices, issuedAt: now, signature: '' };
  }
  // The provisioning cipher is the real one: the link flow's messages are what it seals.
  private readonly provisioning = provisioningMethods(createPrimitives());
  linkStart(userId: string) {
    return this.provisioning.linkStart(userId);
  }
  linkJoin(code: string, first: Uint8Array, userId: string) {
    return this.provisioning.linkJoin(code, first, userId);
  }
  readonly ownLists: number[] = [];
  async recordOwnDeviceList(list: { version: number }) {
    this.ownLists.push(list.version);
  }
}

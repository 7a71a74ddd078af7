import {
  BACKUP_AUTH_HEADER,
  type BackupObject,
  type BackupStatus,
  type ClaimedKeyPackages,
  type DeviceInfoList,
  type GroupCommitAccepted,
  type GroupCommitBody,
  type GroupInfo,
  type GroupMessageAccepted,
  HushError,
  type KeyPackageCount,
  type LinkMessages,
  type LinkPosted,
  type LinkSide,
  type PrekeyCount,
  type PresenceQueryResult,
  type PublishKeysBody,
  type Session,
  type SignedDeviceList,
  type UploadKeyPackagesBody,
  type UploadPrekeysBody,
  type UserBundle,
  type UserProfile,
  type WireError,
} from '@hush/protocol';
import { Connection } from './connection.js';
import type { ConnectOptions, HushClientOptions, WebSocketCtor } from './types.js';

/** Bytes moved so far of a total, for a progress bar. */
export type BytesProgress = (done: number, total: number) => void;

/** The gateway's error envelope (or a bare status) as a HushError. */
function errorFrom(status: number, body: string): HushError {
  let err: WireError | undefined;
  try {
    err = (JSON.parse(body) as { error?: WireError }).error;
  } catch {
    err = undefined;
  }
  if (err && typeof err.code === 'string') return HushError.fromWire(err);
  return new HushError(status >= 500 || status === 0 ? 'UPSTREAM_UNAVAILABLE' : 'INTERNAL', `HTTP ${status}`);
}

/** One bytes POST through XMLHttpRequest, reporting upload progress; resolves with status and body. */
function xhrPost(
  XHR: typeof XMLHttpRequest,
  url: string,
  token: string,
  body: Uint8Array,
  onProgress: BytesProgress,
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const x = new XHR();
    x.open('POST', url);
    x.setRequestHeader('authorization', `Bearer ${token}`);
    x.setRequestHeader('content-type', 'application/octet-stream');
    x.upload.onprogress = (e) => onProgress(e.loaded, e.lengthComputable ? e.total : body.length);
    x.onload = () => resolve({ status: x.status, body: x.responseText });
    x.onerror = () => reject(new HushError('UPSTREAM_UNAVAILABLE', 'The gateway cannot be reached'));
    x.send(body as unknown as XMLHttpRequestBodyInit);
  });
}

/** Refresh the access token this long before it expires, so a request never races its expiry. */
const REFRESH_MARGIN_MS = 30_000;

/**
 * The gateway's HTTP API and WebSocket protocol for Node and browsers (global fetch and
 * WebSocket only). Every authenticated call refreshes the access token once on AUTH_TOKEN_EXPIRED;
 * other failures throw HushError with the gateway's stable code.
 */
export class HushClient {
  session: Session | undefined;
  readonly baseUrl: string;
  /** baseUrl then fallbackUrls; `current` is the one that last worked. */
  readonly urls: string[];
  private current = 0;
  private readonly fetchFn: typeof fetch;
  private readonly onSession: ((s: Session | null) => void) | undefined;
  private refreshing: Promise<Session> | undefined;
  readonly WebSocket: WebSocketCtor | undefined;

  constructor(opts: HushClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.urls = [this.baseUrl, ...(opts.fallbackUrls ?? []).map((u) => u.replace(/\/+$/, ''))];
    const f = opts.fetch ?? globalThis.fetch;
    this.fetchFn = f.bind(globalThis);
    this.session = opts.session;
    this.onSession = opts.onSession;
    this.WebSocket = opts.WebSocket ?? (globalThis as { WebSocket?: WebSocketCtor }).WebSocket;
  }

  /** The /ws URL of the gateway in use. */
  get wsUrl(): string {
    return `${this.urls[this.current]!.replace(/^http/, 'ws')}/ws`;
  }

  /** Moves on to the next gateway (after a connection to the current one failed). */
  rotate(): void {
    this.current = (this.current + 1) % this.urls.length;
  }

  private setSession(s: Session | null): void {
    this.session = s ?? undefined;
    this.onSession?.(s);
  }

  private async request<T>(
    method: string,
    path: string,
    body?: unknown,
    token?: string,
    extra?: Record<string, string>,
  ): Promise<T> {
    const headers: Record<string, string> = { ...extra };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    let res: Response | undefined;
    let lastErr: unknown;
    // Network failures (not HTTP errors) move on to the next gateway.
    for (let tries = 0; tries < this.urls.length && !res; tries++) {
      try {
        res = await this.fetchFn(`${this.urls[this.current]}${path}`, {
          method,
          headers,
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
      } catch (e) {
        lastErr = e;
        this.rotate();
      }
    }
    if (!res) throw new HushError('UPSTREAM_UNAVAILABLE', 'The gateway cannot be reached', { cause: lastErr });
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    if (!res.ok) {
      const err = (json as { error?: WireError } | undefined)?.error;
      if (err && typeof err.code === 'string') throw HushError.fromWire(err);
      throw new HushError(res.status >= 500 ? 'UPSTREAM_UNAVAILABLE' : 'INTERNAL', `HTTP ${res.status}`);
    }
    return json as T;
  }

  /** An access token that is valid for at least REFRESH_MARGIN_MS (refreshing it if needed). */
  async accessToken(): Promise<string> {
    const s = this.session;
    if (!s) throw new HushError('AUTH_TOKEN_MISSING', 'Not signed in');
    if (s.accessExpiresAt - REFRESH_MARGIN_MS > Date.now()) return s.accessToken;
    return (await this.refresh()).accessToken;
  }

  private async authed<T>(method: string, path: string, body?: unknown, extra?: Record<string, string>): Promise<T> {
    const token = await this.accessToken();
    try {
      return await this.request<T>(method, path, body, token, extra);
    } catch (e) {
      if (!(e instanceof HushError) || e.code !== 'AUTH_TOKEN_EXPIRED') throw e;
      await this.refresh();
      return this.request<T>(method, path, body, this.session!.accessToken, extra);
    }
  }

  /**
   * Uploads an encrypted attachment blob (libs/crypto attachment.ts); returns its id. With
   * `onProgress` in a browser the upload goes through XMLHttpRequest, the one browser API that
   * reports upload progress (fetch cannot over HTTP/1.1); elsewhere through fetch, without progress.
   */
  async uploadAttachment(blob: Uint8Array, recipients: number, onProgress?: BytesProgress): Promise<string> {
    const path = `/v1/attachments?recipients=${recipients}`;
    const XHR = (globalThis as { XMLHttpRequest?: typeof XMLHttpRequest }).XMLHttpRequest;
    if (onProgress && XHR) {
      const post = (token: string) => xhrPost(XHR, `${this.urls[this.current]}${path}`, token, blob, onProgress);
      let r = await post(await this.accessToken());
      if (r.status === 401) r = await post((await this.refresh()).accessToken);
      if (r.status >= 200 && r.status < 300) return (JSON.parse(r.body) as { id: string }).id;
      throw errorFrom(r.status, r.body);
    }
    const res = await this.raw('POST', path, blob);
    return ((await res.json()) as { id: string }).id;
  }

  /**
   * Deletes the envelopes of our message `id` still waiting in these mailboxes (a disappearing
   * message whose time is up); returns how many went.
   */
  async purgeMessage(id: string, to: { user: string; device: string }[]): Promise<number> {
    return (await this.authed<{ purged: number }>('POST', '/v1/messages/purge', { id, to })).purged;
  }

  /** Downloads an attachment's encrypted blob (still to be checked against its digest). */
  async downloadAttachment(id: string, onProgress?: BytesProgress): Promise<Uint8Array> {
    const res = await this.raw('GET', `/v1/attachments/${encodeURIComponent(id)}`);
    const total = Number(res.headers.get('content-length') ?? 0);
    if (!onProgress || !res.body || !total) return new Uint8Array(await res.arrayBuffer());
    const out = new Uint8Array(total);
    let done = 0;
    const reader = res.body.getReader();
    for (;;) {
      const { done: end, value } = await reader.read();
      if (end) break;
      if (done + value.length > total) throw new HushError('INTERNAL', 'The attachment is longer than announced');
      out.set(value, done);
      done += value.length;
      onProgress(done, total);
    }
    if (done !== total) throw new HushError('UPSTREAM_UNAVAILABLE', 'The attachment download was cut short');
    return out;
  }

  /** A bytes request on the current gateway, with the error envelope turned into a HushError. */
  private async raw(method: string, path: string, body?: Uint8Array): Promise<Response> {
    const send = async (token: string) =>
      this.fetchFn(`${this.urls[this.current]}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(body ? { 'content-type': 'application/octet-stream' } : {}),
        },
        ...(body ? { body: body as BodyInit } : {}),
      }).catch((e: unknown) => {
        throw new HushError('UPSTREAM_UNAVAILABLE', 'The gateway cannot be reached', { cause: e });
      });
    let res = await send(await this.accessToken());
    if (res.status === 401) res = await send((await this.refresh()).accessToken);
    if (res.ok) return res;
    throw errorFrom(res.status, await res.text().catch(() => ''));
  }

  async register(username: string, password: string, deviceName: string): Promise<Session> {
    const s = await this.request<Session>('POST', '/v1/register', { username, password, deviceName });
    this.setSession(s);
    return s;
  }

  async login(username: string, password: string, deviceName: string): Promise<Session> {
    const s = await this.request<Session>('POST', '/v1/login', { username, password, deviceName });
    this.setSession(s);
    return s;
  }

  /** Rotates the refresh token (single flight: concurrent callers share one refresh). */
  refresh(): Promise<Session> {
    if (this.refreshing) return this.refreshing;
    const current = this.session;
    if (!current) return Promise.reject(new HushError('AUTH_TOKEN_MISSING', 'Not signed in'));
    this.refreshing = (async () => {
      try {
        const s = await this.request<Session>('POST', '/v1/refresh', { refreshToken: current.refreshToken });
        this.setSession(s);
        return s;
      } finally {
        this.refreshing = undefined;
      }
    })();
    return this.refreshing;
  }

  async logout(): Promise<void> {
    await this.authed<void>('POST', '/v1/logout');
    this.setSession(null);
  }

  lookupUser(username: string): Promise<UserProfile> {
    return this.authed('GET', `/v1/users/by-name/${encodeURIComponent(username)}`);
  }
  getUser(userId: string): Promise<UserProfile> {
    return this.authed('GET', `/v1/users/${encodeURIComponent(userId)}`);
  }
  publishKeys(body: PublishKeysBody): Promise<void> {
    return this.authed('PUT', '/v1/keys', body);
  }
  uploadPrekeys(body: UploadPrekeysBody): Promise<PrekeyCount> {
    return this.authed('POST', '/v1/keys/prekeys', body);
  }
  prekeyCount(): Promise<PrekeyCount> {
    return this.authed('GET', '/v1/keys/count');
  }
  /** Claims one one-time prekey per device of the user (each is handed out once). */
  fetchBundle(userId: string): Promise<UserBundle> {
    return this.authed('GET', `/v1/keys/${encodeURIComponent(userId)}`);
  }
  publishDeviceList(list: SignedDeviceList): Promise<void> {
    return this.authed('PUT', '/v1/keys/device-list', list);
  }
  addContact(userId: string): Promise<void> {
    return this.authed('PUT', `/v1/contacts/${encodeURIComponent(userId)}`);
  }
  presence(userIds: string[]): Promise<PresenceQueryResult> {
    return this.authed('GET', `/v1/presence?users=${userIds.map(encodeURIComponent).join(',')}`);
  }

  /** The account's signed-in devices with names and times ("Linked devices"). */
  listDevices(): Promise<DeviceInfoList> {
    return this.authed('GET', '/v1/devices');
  }
  /** Signs another device of the account out (its tokens are revoked, its socket closed). */
  signOutDevice(deviceId: string): Promise<void> {
    return this.authed('DELETE', `/v1/devices/${encodeURIComponent(deviceId)}`);
  }
  /** Relays one provisioning message (ciphertext, base64) to the other side of a link channel. */
  linkSend(channel: string, to: LinkSide, body: string): Promise<LinkPosted> {
    return this.authed('POST', `/v1/link/${encodeURIComponent(channel)}`, { to, body });
  }
  /** Messages for `side` after relay sequence `after`; waits up to `waitMs` for the first one. */
  linkPoll(channel: string, side: LinkSide, after: number, waitMs: number): Promise<LinkMessages> {
    return this.authed('GET', `/v1/link/${encodeURIComponent(channel)}?side=${side}&after=${after}&wait=${waitMs}`);
  }

  // ---- MLS groups (docs/PROTOCOL-WIRE.md §7): the bodies are opaque MLS messages, base64 ----

  /** Publishes this device's MLS key packages (one-use, and optionally a new last-resort one). */
  uploadKeyPackages(body: UploadKeyPackagesBody): Promise<KeyPackageCount> {
    return this.authed('PUT', '/v1/keys/key-packages', body);
  }
  keyPackageCount(): Promise<KeyPackageCount> {
    return this.authed('GET', '/v1/keys/key-packages/count');
  }
  /** Claims one key package per device of that user (the caller's own device excluded). */
  claimKeyPackages(userId: string): Promise<ClaimedKeyPackages> {
    return this.authed('POST', `/v1/keys/${encodeURIComponent(userId)}/key-packages`);
  }
  /** Creates a group's routing record with this device as its only member (epoch 0). */
  createGroup(groupId: string): Promise<GroupInfo> {
    return this.authed('PUT', `/v1/groups/${encodeURIComponent(groupId)}`);
  }
  getGroup(groupId: string): Promise<GroupInfo> {
    return this.authed('GET', `/v1/groups/${encodeURIComponent(groupId)}`);
  }
  /** Submits the commit of `body.epoch`; GROUP_EPOCH_MISMATCH when another commit won that epoch. */
  groupCommit(groupId: string, body: GroupCommitBody): Promise<GroupCommitAccepted> {
    return this.authed('POST', `/v1/groups/${encodeURIComponent(groupId)}/commits`, body);
  }
  /** One MLS message, fanned out by the gateway to every other member device. */
  groupMessage(groupId: string, id: string, body: string): Promise<GroupMessageAccepted> {
    return this.authed('POST', `/v1/groups/${encodeURIComponent(groupId)}/messages`, { id, body });
  }
  // --- encrypted backup (docs/PROTOCOL-WIRE.md, "Encrypted backup"); `auth` is the key-derived authenticator ---
  backupStatus(): Promise<BackupStatus> {
    return this.authed('GET', '/v1/backup');
  }
  /** Turns backup on, or replaces the account's backup under a new recovery key. */
  backupCreate(verifier: string): Promise<void> {
    return this.authed('PUT', '/v1/backup', { verifier });
  }
  /** Turns backup off: the server copy is deleted. */
  backupDelete(): Promise<void> {
    return this.authed('DELETE', '/v1/backup');
  }
  backupClaim(auth: string): Promise<void> {
    return this.authed('POST', '/v1/backup/claim', undefined, { [BACKUP_AUTH_HEADER]: auth });
  }
  async backupGet(auth: string, what: 'manifest' | { chunk: string }): Promise<string> {
    const path = what === 'manifest' ? '/v1/backup/manifest' : `/v1/backup/chunks/${encodeURIComponent(what.chunk)}`;
    return (await this.authed<BackupObject>('GET', path, undefined, { [BACKUP_AUTH_HEADER]: auth })).data;
  }
  backupPut(auth: string, what: 'manifest' | { chunk: string }, data: string): Promise<void> {
    const path = what === 'manifest' ? '/v1/backup/manifest' : `/v1/backup/chunks/${encodeURIComponent(what.chunk)}`;
    return this.authed('PUT', path, { data }, { [BACKUP_AUTH_HEADER]: auth });
  }
  backupDeleteChunk(auth: string, chunk: string): Promise<void> {
    return this.authed('DELETE', `/v1/backup/chunks/${encodeURIComponent(chunk)}`, undefined, {
      [BACKUP_AUTH_HEADER]: auth,
    });
  }

  /** Opens /ws (and keeps it open, reconnecting with backoff) until `close()`. */
  connect(opts: ConnectOptions = {}): Connection {
    if (!this.WebSocket) throw new Error('No WebSocket implementation: pass one in HushClientOptions.WebSocket');
    const c = new Connection(this, this.WebSocket, opts);
    c.start();
    return c;
  }
}

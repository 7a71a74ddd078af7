import { type Connection, HushClient } from '@hush/client';
import { CloseCodes, type Credentials, closeAction, type SendFrame, type Session } from '@hush/protocol';
import type { Link, LinkHandlers, ServerApi } from '../engine/ports.js';
import { backupServer } from './backup.js';

/**
 * ServerApi over @hush/client (HTTP API + /ws with reconnect and backoff, same-id resend of
 * unaccepted sends, token refresh). One addition for browsers: the page's offline/online events
 * close the socket at once and reopen it at once, instead of waiting for a heartbeat or a backoff
 * timer, so the offline banner and the outbox flush follow the network promptly.
 */
export function clientServer(
  baseUrl: string,
  initial: Session | null,
  onSession: (s: Session | null) => void,
): ServerApi {
  const client = new HushClient({ baseUrl, ...(initial ? { session: initial } : {}), onSession });
  const creds = (c: Credentials) => [c.username, c.password, c.deviceName] as const;
  return {
    uploadAttachment: (blob, n, onProgress) => client.uploadAttachment(blob, n, onProgress),
    downloadAttachment: (id, onProgress) => client.downloadAttachment(id, onProgress),
    purgeMessage: (id, to) => client.purgeMessage(id, to),
    register: (c) => client.register(...creds(c)),
    login: (c) => client.login(...creds(c)),
    logout: () => client.logout(),
    lookupUser: (u) => client.lookupUser(u),
    profile: (id) => client.getUser(id),
    publishKeys: (b) => client.publishKeys(b),
    uploadPrekeys: async (b) => (await client.uploadPrekeys(b)).remaining,
    prekeyCount: async () => (await client.prekeyCount()).remaining,
    fetchBundle: (id) => client.fetchBundle(id),
    addContact: (id) => client.addContact(id),
    presence: async (ids) => (await client.presence(ids)).users,
    connect: (h) => link(client, h),
    listDevices: async () => (await client.listDevices()).devices,
    signOutDevice: (id) => client.signOutDevice(id),
    publishDeviceList: (l) => client.publishDeviceList(l),
    linkSend: async (ch, to, body) => {
      await client.linkSend(ch, to, body);
    },
    linkPoll: (ch, side, after, waitMs) => client.linkPoll(ch, side, after, waitMs),
    groups: {
      uploadKeyPackages: (b) => client.uploadKeyPackages(b),
      keyPackageCount: () => client.keyPackageCount(),
      claimKeyPackages: (id) => client.claimKeyPackages(id),
      createGroup: (id) => client.createGroup(id),
      getGroup: (id) => client.getGroup(id),
      groupCommit: (id, b) => client.groupCommit(id, b),
      groupMessage: (id, mid, body) => client.groupMessage(id, mid, body),
    },
    backup: backupServer(client),
  };
}

function link(client: HushClient, h: LinkHandlers): Link {
  let conn: Connection | null = null;
  let closed = false;
  const watched = new Set<string>();

  const open = () => {
    const c = client.connect();
    conn = c;
    c.on('deliver', (f) => h.onDeliver(f));
    c.on('presence', (f) => h.onPresence(f));
    c.on('revoked', () => {
      closed = true;
      h.onRevoked();
    });
    c.on('state', ({ state, code }) => {
      if (conn !== c) return;
      if (state === 'open') h.onState('online');
      else if (state === 'connecting' || state === 'offline') h.onState('connecting');
      else if (state === 'closed') {
        h.onState('offline');
        // Closed for good by the server (not by us): a terminal code means the token or device is
        // gone, except REPLACED: another window of this device took over, or the device is being
        // signed out and the "revoked" close is yet to come: the engine asks the server which.
        if (!closed && code === CloseCodes.REPLACED) h.onReplaced();
        else if (!closed && code !== undefined && closeAction(code) === 'stop') {
          closed = true;
          h.onExpired();
        }
      }
    });
    if (watched.size > 0) c.subscribePresence([...watched]);
  };

  const onOffline = () => {
    const c = conn;
    conn = null;
    c?.close(); // pending sends reject; the engine keeps them in its outbox
    h.onState('offline');
  };
  const onOnline = () => {
    if (!closed && !conn) open();
  };
  globalThis.addEventListener?.('offline', onOffline);
  globalThis.addEventListener?.('online', onOnline);
  if (typeof navigator !== 'undefined' && navigator.onLine === false) h.onState('offline');
  else open();

  return {
    send(frame: SendFrame) {
      if (!conn) return Promise.reject(new Error('offline'));
      return conn.send(frame.id, frame.envelopes);
    },
    ack(seq) {
      conn?.ack(seq);
    },
    subscribePresence(users) {
      for (const u of users) watched.add(u);
      conn?.subscribePresence(users);
    },
    close() {
      closed = true;
      globalThis.removeEventListener?.('offline', onOffline);
      globalThis.removeEventListener?.('online', onOnline);
      const c = conn;
      conn = null;
      c?.close();
    },
  };
}

/**
 * NATS subjects and names. Every subject can carry a prefix (config `SUBJECT_PREFIX`, default '')
 * so that tests sharing one broker do not see each other's traffic; build subjects through
 * `subjects(prefix)` only.
 *
 * Dependency direction: gateway -> (auth | keydir | presence) by request/reply; services publish
 * events; nobody calls the gateway.
 */
export const SERVICE_NAMES = { auth: 'auth', keydir: 'keydir', presence: 'presence' } as const;
export const DEFAULT_STREAM = 'MAILBOX';

export function subjects(prefix = '') {
  const p = prefix === '' ? '' : prefix.endsWith('.') ? prefix : `${prefix}.`;
  return {
    prefix: p,
    // --- request/reply endpoints (micro service endpoints; reply is a ServiceReply<T>) ---
    auth: {
      register: `${p}auth.register`,
      login: `${p}auth.login`,
      refresh: `${p}auth.refresh`,
      logout: `${p}auth.logout`,
      jwks: `${p}auth.jwks`,
      lookup: `${p}auth.lookup`, // username -> userId
      profile: `${p}auth.profile`, // userId -> username
      /** CheckRequest -> CheckResult: is this device still signed in (not logged out / revoked)? */
      check: `${p}auth.check`,
      /** DevicesListRequest -> DeviceInfoList: the caller's account's signed-in devices. */
      devices: `${p}auth.devices`,
    },
    keydir: {
      publish: `${p}keydir.publish`,
      prekeys: `${p}keydir.prekeys`, // top-up of one-time prekeys
      count: `${p}keydir.count`,
      bundle: `${p}keydir.bundle`, // claims one one-time prekey per device
      deviceList: `${p}keydir.devicelist`,
      devices: `${p}keydir.devices`, // current device ids of a user (used by the gateway to check recipients)
      keyPackagesUpload: `${p}keydir.kp.upload`, // MLS key packages (one-use + last resort)
      keyPackagesClaim: `${p}keydir.kp.claim`, // claims one MLS key package per device of a user
      keyPackagesCount: `${p}keydir.kp.count`,
    },
    presence: {
      query: `${p}presence.query`,
      contacts: `${p}presence.contacts`, // add a contact (share my presence with them)
    },
    // --- events (core NATS; losing one is harmless or repaired by a lease/TTL) ---
    events: {
      /** DeviceRevokedEvent: every gateway closes that device's sockets. */
      deviceRevoked: `${p}events.device.revoked`,
      /** KeysChangedEvent, subject suffixed with the userId: `events.keys.changed.<userId>`. */
      keysChanged: (userId: string) => `${p}events.keys.changed.${userId}`,
      keysChangedAll: `${p}events.keys.changed.*`,
      /** PresenceConnectEvent / PresenceDisconnectEvent from gateways. */
      presenceConnect: `${p}events.presence.connect`,
      presenceDisconnect: `${p}events.presence.disconnect`,
      /** GatewayLeaseEvent, every LEASE_INTERVAL from each gateway. */
      gatewayLease: `${p}events.presence.lease`,
      /** PresenceChangedEvent, suffixed with the userId whose presence changed. */
      presenceChanged: (userId: string) => `${p}events.presence.changed.${userId}`,
      presenceChangedAll: `${p}events.presence.changed.*`,
    },
    // --- JetStream ---
    /** Provisioning relay (stream `<STREAM_NAME>_LINK`): one subject per account, channel and receiving side. */
    link: (userId: string, channel: string, side: 'new' | 'old') => `${p}link.${userId}.${channel}.${side}`,
    linkAll: `${p}link.*.*.*`,
    mailbox: (userId: string, deviceId: string) => `${p}mbox.${userId}.${deviceId}`,
    mailboxAll: `${p}mbox.*.*`,
    /** Group routing records (stream `<STREAM_NAME>_GROUPS`): one subject per group, commits ordered on it. */
    group: (groupId: string) => `${p}grp.${groupId}`,
    groupAll: `${p}grp.*`,
    /** Attachment fetch records (stream `<STREAM_NAME>_ATTFETCH`): one subject per attachment and device. */
    attachmentFetch: (id: string, deviceId: string) => `${p}attfetch.${id}.${deviceId}`,
    attachmentFetchAll: `${p}attfetch.*.*`,
    /** Durable consumer name for a device's mailbox (one filter subject, nats-server 2.9). */
    consumerName: (userId: string, deviceId: string) => `dev_${userId}_${deviceId}`,
  } as const;
}
export type Subjects = ReturnType<typeof subjects>;

/** A gateway renews its lease this often; presence treats it as dead after LEASE_TTL. */
export const LEASE_INTERVAL_MS = 5_000;
export const LEASE_TTL_MS = 15_000;

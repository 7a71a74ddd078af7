import {
  type ContactsResult,
  decodeJson,
  encodeJson,
  type PresenceChangedEvent,
  type PresenceEntry,
  type PresenceQueryReply,
  SERVICE_NAMES,
  subjects,
} from '@hush/protocol';
import { addJsonEndpoint, safeErr, serviceLog, svcm } from '@hush/service-kit';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { PresenceConfig } from './config.js';
import { ConnectEventSchema, ContactsRequestSchema, LeaseEventSchema, PresenceQueryRequestSchema } from './schemas.js';

export const PRESENCE_VERSION = '0.1.0';
/** A disconnect seen before its connect leaves a tombstone this long, so the late connect is ignored. */
export const TOMBSTONE_TTL_MS = 5 * 60_000;

export interface PresenceDeps {
  nc: NatsConnection;
  redis: Redis;
  log: Logger;
}
export interface PresenceHandle {
  /** Runs one sweep now (the timer runs them every sweepIntervalMs); returns users that went offline. */
  sweep(): Promise<string[]>;
  stop(): Promise<void>;
}

/**
 * Redis layout (every key carries REDIS_PREFIX):
 *   pr:conn:<connId>        hash {userId, deviceId, gatewayId, at}: one open socket
 *   pr:gone:<connId>        tombstone of a closed socket (PX TOMBSTONE_TTL_MS)
 *   pr:gwconns:<gatewayId>  set of connIds held by a gateway
 *   pr:lease:<gatewayId>    the gateway's lease (PX = its TTL); gone means the gateway is dead
 *   pr:gateways             set of gatewayIds that may hold connections
 *   pr:online:<userId>      set of the user's open connIds (online while not empty)
 *   pr:seen:<userId>        Unix ms the user was last seen (last socket closed)
 *   pr:contacts:<userId>    set of users this user shares presence with
 * The sweep script derives conn/online/seen keys from the prefix, so it assumes one Redis (no cluster).
 */
export function redisKeys(prefix: string) {
  return {
    conn: (c: string) => `${prefix}pr:conn:${c}`,
    gone: (c: string) => `${prefix}pr:gone:${c}`,
    gwConns: (g: string) => `${prefix}pr:gwconns:${g}`,
    lease: (g: string) => `${prefix}pr:lease:${g}`,
    gateways: `${prefix}pr:gateways`,
    online: (u: string) => `${prefix}pr:online:${u}`,
    seen: (u: string) => `${prefix}pr:seen:${u}`,
    contacts: (u: string) => `${prefix}pr:contacts:${u}`,
  };
}

// Each transition is one script, so copies handling events concurrently never double-count.
// Returns 1 when the user went online, 0 when nothing changed, -1 when ignored.
const CONNECT_LUA = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'userId', ARGV[1], 'deviceId', ARGV[2], 'gatewayId', ARGV[3], 'at', ARGV[4])
redis.call('SADD', KEYS[3], ARGV[5])
redis.call('SADD', KEYS[5], ARGV[3])
redis.call('SET', KEYS[6], ARGV[4], 'PX', ARGV[6], 'NX')
redis.call('SADD', KEYS[4], ARGV[5])
if redis.call('SCARD', KEYS[4]) == 1 then return 1 end
return 0
`;
// Returns 1 when the user went offline, 0 when nothing changed, -1 for an unknown connection.
const DISCONNECT_LUA = `
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
  return -1
end
redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[3], ARGV[1])
redis.call('SREM', KEYS[4], ARGV[1])
if redis.call('SCARD', KEYS[4]) == 0 then
  redis.call('SET', KEYS[5], ARGV[2])
  return 1
end
return 0
`;
// Closes every connection of a gateway whose lease is gone; a no-op if the lease exists or
// another copy already swept it. Returns the users that went offline.
const SWEEP_LUA = `
if redis.call('EXISTS', KEYS[1]) == 1 then return {} end
local conns = redis.call('SMEMBERS', KEYS[2])
local offline = {}
for _, c in ipairs(conns) do
  local ck = ARGV[2] .. 'pr:conn:' .. c
  local u = redis.call('HGET', ck, 'userId')
  redis.call('DEL', ck)
  if u then
    local ok = ARGV[2] .. 'pr:online:' .. u
    redis.call('SREM', ok, c)
    if redis.call('SCARD', ok) == 0 then
      redis.call('SET', ARGV[2] .. 'pr:seen:' .. u, ARGV[3])
      offline[#offline + 1] = u
    end
  end
end
redis.call('DEL', KEYS[2])
redis.call('SREM', KEYS[3], ARGV[1])
return offline
`;

export async function startPresence(deps: PresenceDeps, config: PresenceConfig): Promise<PresenceHandle> {
  const { nc, redis } = deps;
  const log = serviceLog(deps.log, 'presence');
  const subj = subjects(config.subjectPrefix);
  const keys = redisKeys(config.redisPrefix);

  const changed = (ev: PresenceChangedEvent) => {
    nc.publish(subj.events.presenceChanged(ev.userId), encodeJson(ev));
  };

  const onConnect = async (ev: Static<typeof ConnectEventSchema>) => {
    const r = (await redis.eval(
      CONNECT_LUA,
      6,
      keys.conn(ev.connId),
      keys.gone(ev.connId),
      keys.gwConns(ev.gatewayId),
      keys.online(ev.userId),
      keys.gateways,
      keys.lease(ev.gatewayId),
      ev.userId,
      ev.deviceId,
      ev.gatewayId,
      String(ev.at),
      ev.connId,
      String(Math.min(config.leaseTtlMs, config.maxLeaseTtlMs)),
    )) as number;
    if (r === 1) {
      const seen = await redis.get(keys.seen(ev.userId));
      changed({ userId: ev.userId, online: true, lastSeen: seen ? Number(seen) : null });
    }
  };

  const onDisconnect = async (ev: Static<typeof ConnectEventSchema>) => {
    const at = Math.min(ev.at, Date.now());
    const r = (await redis.eval(
      DISCONNECT_LUA,
      5,
      keys.conn(ev.connId),
      keys.gone(ev.connId),
      keys.gwConns(ev.gatewayId),
      keys.online(ev.userId),
      keys.seen(ev.userId),
      ev.connId,
      String(at),
      String(TOMBSTONE_TTL_MS),
    )) as number;
    if (r === 1) changed({ userId: ev.userId, online: false, lastSeen: at });
  };

  const onLease = async (ev: Static<typeof LeaseEventSchema>) => {
    const ttl = Math.min(ev.ttlMs, config.maxLeaseTtlMs);
    await redis
      .multi()
      .set(keys.lease(ev.gatewayId), String(ev.at), 'PX', ttl)
      .sadd(keys.gateways, ev.gatewayId)
      .exec();
  };

  const sweep = async (): Promise<string[]> => {
    const gateways = await redis.smembers(keys.gateways);
    const offline: string[] = [];
    for (const g of gateways) {
      if (await redis.exists(keys.lease(g))) continue;
      const now = Date.now();
      const users = (await redis.eval(
        SWEEP_LUA,
        3,
        keys.lease(g),
        keys.gwConns(g),
        keys.gateways,
        g,
        config.redisPrefix,
        String(now),
      )) as string[];
      if (users.length > 0) log.info({ gatewayId: g, users: users.length }, 'gateway lease expired; devices offline');
      for (const u of users) {
        changed({ userId: u, online: false, lastSeen: now });
        offline.push(u);
      }
    }
    return offline;
  };

  // One copy handles each gateway event (queue group); the handlers are idempotent anyway.
  const subscribe = <S extends TSchema>(subject: string, schema: S, fn: (ev: Static<S>) => Promise<void>) => {
    const check = TypeCompiler.Compile(schema);
    return nc.subscribe(subject, {
      queue: SERVICE_NAMES.presence,
      callback: (err, msg) => {
        if (err) return;
        let ev: unknown;
        try {
          ev = decodeJson<unknown>(msg.data);
        } catch {
          ev = undefined;
        }
        if (!check.Check(ev)) {
          log.warn({ subject }, 'malformed presence event ignored');
          return;
        }
        fn(ev).catch((e: unknown) => log.error({ err: safeErr(e), subject }, 'presence event failed'));
      },
    });
  };
  const subs: Subscription[] = [
    subscribe(subj.events.presenceConnect, ConnectEventSchema, onConnect),
    subscribe(subj.events.presenceDisconnect, ConnectEventSchema, onDisconnect),
    subscribe(subj.events.gatewayLease, LeaseEventSchema, onLease),
  ];

  const svc = await svcm(nc).add({
    name: SERVICE_NAMES.presence,
    version: PRESENCE_VERSION,
    description: 'Online / last seen from gateway events and per-gateway leases',
  });

  addJsonEndpoint(svc, log, {
    name: 'query',
    subject: subj.presence.query,
    schema: PresenceQueryRequestSchema,
    // Presence is shared only with contacts (docs/ARCHITECTURE.md, decisions 9 and 22): for a user who has not added the
    // caller, the entry says offline and never seen rather than failing the whole query.
    // `shared` names the users the caller may follow live (the gateway forwards their events only).
    handler: async ({ caller, userIds }): Promise<PresenceQueryReply> => {
      const p = redis.pipeline();
      for (const u of userIds) p.scard(keys.online(u)).get(keys.seen(u)).sismember(keys.contacts(u), caller.userId);
      const res = (await p.exec()) ?? [];
      const shared: string[] = [];
      const users: PresenceEntry[] = userIds.map((userId, i) => {
        const online = Number(res[3 * i]?.[1] ?? 0) > 0;
        const seen = res[3 * i + 1]?.[1] as string | null | undefined;
        const visible = userId === caller.userId || Number(res[3 * i + 2]?.[1] ?? 0) === 1;
        if (!visible) return { userId, online: false, lastSeen: null };
        shared.push(userId);
        return { userId, online, lastSeen: seen ? Number(seen) : null };
      });
      return { users, shared };
    },
  });

  addJsonEndpoint(svc, log, {
    name: 'contacts',
    subject: subj.presence.contacts,
    schema: ContactsRequestSchema,
    handler: async ({ caller, contactUserId }): Promise<ContactsResult> => {
      await redis.sadd(keys.contacts(caller.userId), contactUserId);
      return { contactUserId };
    },
  });

  let sweeping = false;
  const timer = setInterval(() => {
    if (sweeping) return;
    sweeping = true;
    sweep()
      .catch((err: unknown) => log.error({ err: safeErr(err) }, 'sweep failed'))
      .finally(() => {
        sweeping = false;
      });
  }, config.sweepIntervalMs);
  timer.unref();

  log.info({ subjectPrefix: config.subjectPrefix, sweepIntervalMs: config.sweepIntervalMs }, 'presence started');
  return {
    sweep,
    stop: async () => {
      clearInterval(timer);
      for (const s of subs) s.unsubscribe();
      await svc.stop();
    },
  };
}

/**
 * The gateway tests' stand-in for the presence service (not shipped): the same NATS contract as
 * services/presence, kept in memory, so gateway tests need no Redis. What it must do the same way
 * as the real service is pinned by tests/contracts/presence.test.ts, which runs one suite against
 * both; a stand-in that answers "everyone online" once hid a gateway bug, which is why it exists.
 */
import {
  type Caller,
  type ContactsRequest,
  decodeJson,
  encodeJson,
  okReply,
  type PresenceConnectEvent,
  type PresenceEntry,
  type PresenceQueryReply,
  type PresenceQueryRequest,
  type Subjects,
} from '@hush/protocol';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';

export interface StandInPresence {
  /** While false the stand-in does not answer (to test "presence is down"). */
  answering: boolean;
  stop(): void;
}

function setOf(map: Map<string, Set<string>>, key: string): Set<string> {
  let set = map.get(key);
  if (!set) {
    set = new Set();
    map.set(key, set);
  }
  return set;
}

export function standInPresence(nc: NatsConnection, s: Subjects, now: () => number = Date.now): StandInPresence {
  /** connId -> userId of open sockets, and each user's open connIds. */
  const conns = new Map<string, string>();
  const online = new Map<string, Set<string>>();
  const seen = new Map<string, number>();
  /** user -> users it shares its presence with. */
  const contacts = new Map<string, Set<string>>();
  const state = { answering: true };

  const on = <T>(subject: string, fn: (body: T) => unknown): Subscription =>
    nc.subscribe(subject, {
      callback: (_e, m) => {
        if (!state.answering) return;
        const reply = fn(decodeJson<T>(m.data));
        if (reply !== undefined && m.reply) m.respond(encodeJson(okReply(reply)));
      },
    });

  const entry = (caller: Caller, userId: string): PresenceEntry & { visible: boolean } => {
    const visible = userId === caller.userId || (contacts.get(userId)?.has(caller.userId) ?? false);
    if (!visible) return { userId, online: false, lastSeen: null, visible };
    return { userId, online: (online.get(userId)?.size ?? 0) > 0, lastSeen: seen.get(userId) ?? null, visible };
  };

  const subs = [
    on<PresenceConnectEvent>(s.events.presenceConnect, (ev) => {
      conns.set(ev.connId, ev.userId);
      setOf(online, ev.userId).add(ev.connId);
      return undefined;
    }),
    on<PresenceConnectEvent>(s.events.presenceDisconnect, (ev) => {
      const userId = conns.get(ev.connId);
      if (!userId) return undefined;
      conns.delete(ev.connId);
      const set = online.get(userId);
      set?.delete(ev.connId);
      if (set?.size === 0) {
        online.delete(userId);
        seen.set(userId, now());
      }
      return undefined;
    }),
    on<ContactsRequest>(s.presence.contacts, ({ caller, contactUserId }) => {
      setOf(contacts, caller.userId).add(contactUserId);
      return { contactUserId };
    }),
    on<PresenceQueryRequest>(s.presence.query, ({ caller, userIds }): PresenceQueryReply => {
      const entries = userIds.map((u) => entry(caller, u));
      return {
        users: entries.map(({ visible: _v, ...e }) => e),
        shared: entries.filter((e) => e.visible).map((e) => e.userId),
      };
    }),
  ];

  return Object.assign(state, {
    stop: () => {
      for (const sub of subs) sub.unsubscribe();
    },
  });
}

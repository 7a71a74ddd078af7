import { type PresenceHandle, loadConfig as presenceConfig, startPresence } from '@hush/presence';
import {
  type PresenceConnectEvent,
  type PresenceQueryReply,
  randomId,
  type ServiceReply,
  type Subjects,
  subjects,
} from '@hush/protocol';
import { eventually, type TestEnv, testEnv } from '@hush/service-kit/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { standInPresence } from '../../services/gateway/src/stand-in-presence.js';

/**
 * One suite, two implementations of presence's NATS contract: the real service (Redis) and the
 * gateway tests' in-memory stand-in. What the gateway relies on — presence is shared with contacts
 * only, `shared` names whom the caller may follow, connects and disconnects move online/lastSeen —
 * must hold for both, so the stand-in cannot hide a gateway bug by answering more than the service.
 */
interface Impl {
  name: string;
  start(env: TestEnv, s: Subjects): Promise<() => Promise<void>>;
}

const implementations: Impl[] = [
  {
    name: 'the presence service',
    start: async (env, s) => {
      const cfg = { ...presenceConfig({}), subjectPrefix: s.prefix, redisPrefix: env.redisPrefix };
      const handle: PresenceHandle = await startPresence(
        { nc: env.nc, redis: env.redis, log: pino({ level: 'silent' }) },
        cfg,
      );
      return () => handle.stop();
    },
  },
  {
    name: "the gateway tests' stand-in",
    start: async (env, s) => {
      const stand = standInPresence(env.nc, s);
      return async () => stand.stop();
    },
  },
];

for (const impl of implementations) {
  describe(`presence contract: ${impl.name}`, () => {
    let env: TestEnv;
    let s: Subjects;
    let stop: () => Promise<void>;

    beforeAll(async () => {
      env = await testEnv('contract');
      s = subjects(env.prefix);
      stop = await impl.start(env, s);
    });
    afterAll(async () => {
      await stop?.();
      await env?.cleanup();
    });

    const user = () => ({ userId: randomId(20), deviceId: randomId(12) });
    const call = async <T>(subject: string, body: unknown): Promise<T> => {
      const r: ServiceReply<T> = await env.call<T>(subject, body);
      if (!r.ok) throw new Error(`${subject}: ${r.error.code}`);
      return r.result;
    };
    const query = (caller: { userId: string; deviceId: string }, userIds: string[]) =>
      call<PresenceQueryReply>(s.presence.query, { caller, userIds });
    const event = (u: { userId: string; deviceId: string }, connId: string): PresenceConnectEvent => ({
      gatewayId: 'gwcontract',
      userId: u.userId,
      deviceId: u.deviceId,
      connId,
      at: Date.now(),
    });
    const publish = async (subject: string, ev: PresenceConnectEvent) => {
      env.nc.publish(subject, new TextEncoder().encode(JSON.stringify(ev)));
      await env.nc.flush();
    };
    const onlineAs = async (caller: { userId: string; deviceId: string }, userId: string) =>
      (await query(caller, [userId])).users[0]!.online;

    it('hides a connected user who did not share presence with the caller, and does not name it in shared', async () => {
      const [alice, bob] = [user(), user()];
      await publish(s.events.presenceConnect, event(bob, randomId(16)));
      await eventually(async () => onlineAs(bob, bob.userId)); // bob sees himself online
      expect(await query(alice, [bob.userId])).toEqual({
        users: [{ userId: bob.userId, online: false, lastSeen: null }],
        shared: [],
      });
    });

    it('shows a user who shared presence with the caller, and names it in shared', async () => {
      const [alice, bob] = [user(), user()];
      await call(s.presence.contacts, { caller: bob, contactUserId: alice.userId });
      await publish(s.events.presenceConnect, event(bob, randomId(16)));
      await eventually(async () => onlineAs(alice, bob.userId));
      expect(await query(alice, [bob.userId])).toEqual({
        users: [{ userId: bob.userId, online: true, lastSeen: null }],
        shared: [bob.userId],
      });
    });

    it('marks the user offline with a last-seen time when its last socket closes', async () => {
      const [alice, bob] = [user(), user()];
      await call(s.presence.contacts, { caller: bob, contactUserId: alice.userId });
      const [c1, c2] = [randomId(16), randomId(16)];
      await publish(s.events.presenceConnect, event(bob, c1));
      await publish(s.events.presenceConnect, event(bob, c2));
      await eventually(async () => onlineAs(alice, bob.userId));
      await publish(s.events.presenceDisconnect, event(bob, c1));
      expect(await onlineAs(alice, bob.userId)).toBe(true); // one socket is still open
      await publish(s.events.presenceDisconnect, event(bob, c2));
      await eventually(async () => !(await onlineAs(alice, bob.userId)));
      const [entry] = (await query(alice, [bob.userId])).users;
      expect(entry!.lastSeen).toEqual(expect.any(Number));
    });

    it('lets a caller see itself, and answers users never seen as offline', async () => {
      const [alice, nobody] = [user(), user()];
      expect(await query(alice, [alice.userId, nobody.userId])).toEqual({
        users: [
          { userId: alice.userId, online: false, lastSeen: null },
          { userId: nobody.userId, online: false, lastSeen: null },
        ],
        shared: [alice.userId],
      });
    });
  });
}

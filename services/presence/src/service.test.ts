import {
  type ContactsResult,
  encodeJson,
  type GatewayLeaseEvent,
  type PresenceChangedEvent,
  type PresenceConnectEvent,
  type PresenceQueryResult,
  randomId,
  type ServiceReply,
  subjects,
} from '@hush/protocol';
import { svcm } from '@hush/service-kit';
import { collect, eventually, type TestEnv, testEnv } from '@hush/service-kit/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type PresenceConfig } from './config.js';
import { type PresenceHandle, startPresence } from './service.js';

let env: TestEnv;
let presence: PresenceHandle;
let cfg: PresenceConfig;
let s: ReturnType<typeof subjects>;
const log = pino({ level: 'silent' });

const err = <T>(r: ServiceReply<T>) => (r.ok ? undefined : r.error);
const ok = <T>(r: ServiceReply<T>): T => {
  if (!r.ok) throw new Error(`expected ok, got ${r.error.code}: ${r.error.message}`);
  return r.result;
};
const caller = (userId = randomId(20)) => ({ userId, deviceId: randomId(12) });

function conn(gatewayId: string, userId = randomId(20)): PresenceConnectEvent {
  return { gatewayId, userId, deviceId: randomId(12), connId: randomId(16), at: Date.now() };
}
const emit = async (subject: string, ev: unknown) => {
  env.nc.publish(subject, typeof ev === 'string' ? new TextEncoder().encode(ev) : encodeJson(ev));
  await env.nc.flush();
};
const lease = (gatewayId: string, ttlMs: number) =>
  emit(s.events.gatewayLease, { gatewayId, at: Date.now(), ttlMs } satisfies GatewayLeaseEvent);
const query = async (asUser: string, userIds: string[]) =>
  ok(await env.call<PresenceQueryResult>(s.presence.query, { caller: caller(asUser), userIds })).users;
const selfView = async (userId: string) => (await query(userId, [userId]))[0]!;

beforeAll(async () => {
  env = await testEnv('presence');
  s = subjects(env.prefix);
  // Short leases and sweeps keep the lease tests quick; the defaults are 15 s and 5 s.
  cfg = { ...loadConfig({}), subjectPrefix: env.prefix, redisPrefix: env.redisPrefix, sweepIntervalMs: 100 };
  presence = await startPresence({ nc: env.nc, redis: env.redis, log }, cfg);
});

afterAll(async () => {
  await presence?.stop();
  await env?.cleanup();
});

describe('presence from gateway events', () => {
  it('marks a user online on connect and offline with a last-seen time when the last socket closes', async () => {
    const gw = randomId(8);
    await lease(gw, 10_000);
    const a = conn(gw);
    const b = { ...conn(gw, a.userId) };
    const events = collect<PresenceChangedEvent>(env.nc, s.events.presenceChanged(a.userId));
    await emit(s.events.presenceConnect, a);
    await emit(s.events.presenceConnect, b);
    await eventually(async () => (await selfView(a.userId)).online);
    await emit(s.events.presenceDisconnect, a);
    await new Promise((r) => setTimeout(r, 150));
    expect((await selfView(a.userId)).online).toBe(true);
    const before = Date.now();
    await emit(s.events.presenceDisconnect, { ...b, at: before });
    await eventually(async () => !(await selfView(a.userId)).online);
    expect((await selfView(a.userId)).lastSeen).toBe(before);
    await eventually(() => events.items.length >= 2);
    await new Promise((r) => setTimeout(r, 100));
    // Only transitions are announced: one online, one offline, for two devices.
    expect(events.items).toEqual([
      { userId: a.userId, online: true, lastSeen: null },
      { userId: a.userId, online: false, lastSeen: before },
    ]);
    events.stop();
  });

  it('ignores a connect that arrives after its own disconnect', async () => {
    const gw = randomId(8);
    await lease(gw, 10_000);
    const a = conn(gw);
    await emit(s.events.presenceDisconnect, a);
    await new Promise((r) => setTimeout(r, 50));
    await emit(s.events.presenceConnect, a);
    await new Promise((r) => setTimeout(r, 150));
    expect((await selfView(a.userId)).online).toBe(false);
  });

  it('takes the devices of a gateway whose lease expired offline by themselves', async () => {
    const dead = randomId(8);
    const alive = randomId(8);
    await lease(dead, 300);
    await lease(alive, 300);
    const onDead = conn(dead);
    const onAlive = conn(alive);
    const events = collect<PresenceChangedEvent>(env.nc, s.events.presenceChanged(onDead.userId));
    await emit(s.events.presenceConnect, onDead);
    await emit(s.events.presenceConnect, onAlive);
    await eventually(async () => (await selfView(onDead.userId)).online && (await selfView(onAlive.userId)).online);
    // The live gateway keeps renewing; the dead one (killed, say, by SIGKILL) says nothing more.
    const renew = setInterval(() => void lease(alive, 300), 100);
    try {
      await eventually(async () => !(await selfView(onDead.userId)).online, 5_000);
      await new Promise((r) => setTimeout(r, 500));
      expect((await selfView(onAlive.userId)).online).toBe(true);
    } finally {
      clearInterval(renew);
    }
    await eventually(() => events.items.some((e) => !e.online));
    expect(events.items.at(-1)).toMatchObject({ userId: onDead.userId, online: false });
    expect((await selfView(onDead.userId)).lastSeen).toBeGreaterThan(0);
    events.stop();
  });

  it('announces a swept user offline once, however many copies sweep at the same time', async () => {
    const second = await startPresence({ nc: env.nc, redis: env.redis, log }, cfg);
    try {
      const gw = randomId(8);
      await lease(gw, 200);
      const a = conn(gw);
      const events = collect<PresenceChangedEvent>(env.nc, s.events.presenceChanged(a.userId));
      await emit(s.events.presenceConnect, a);
      await eventually(async () => (await selfView(a.userId)).online);
      await new Promise((r) => setTimeout(r, 300));
      const [x, y] = await Promise.all([presence.sweep(), second.sweep()]);
      await eventually(async () => !(await selfView(a.userId)).online);
      await new Promise((r) => setTimeout(r, 200));
      expect(events.items.filter((e) => !e.online)).toHaveLength(1);
      expect([...x, ...y].filter((u) => u === a.userId).length).toBeLessThanOrEqual(1);
      events.stop();
    } finally {
      await second.stop();
    }
  });

  it('ignores malformed events and keeps working', async () => {
    await emit(s.events.presenceConnect, 'not json');
    await emit(s.events.presenceConnect, { gatewayId: 'x y z', userId: 'BAD' });
    await emit(s.events.gatewayLease, { gatewayId: 'g', ttlMs: -1 });
    const gw = randomId(8);
    await lease(gw, 10_000);
    const a = conn(gw);
    await emit(s.events.presenceConnect, a);
    await eventually(async () => (await selfView(a.userId)).online);
  });
});

describe('presence is shared only with contacts', () => {
  it('hides online and last seen from a user who is not a contact, and shows them once added', async () => {
    const gw = randomId(8);
    await lease(gw, 10_000);
    const alice = conn(gw);
    const bob = caller();
    await emit(s.events.presenceConnect, alice);
    await eventually(async () => (await selfView(alice.userId)).online);
    expect(await query(bob.userId, [alice.userId])).toEqual([{ userId: alice.userId, online: false, lastSeen: null }]);
    // Alice shares her presence with Bob (the gateway does this when they start a conversation).
    const r = await env.call<ContactsResult>(s.presence.contacts, {
      caller: { userId: alice.userId, deviceId: alice.deviceId },
      contactUserId: bob.userId,
    });
    expect(ok(r)).toEqual({ contactUserId: bob.userId });
    expect(await query(bob.userId, [alice.userId])).toEqual([{ userId: alice.userId, online: true, lastSeen: null }]);
    // Sharing is one-way: Bob has not shared with Alice.
    expect(await query(alice.userId, [bob.userId])).toEqual([{ userId: bob.userId, online: false, lastSeen: null }]);
  });

  it('answers a malformed or oversized query with VALIDATION_FAILED and keeps serving', async () => {
    expect(err(await env.call(s.presence.query, 'nope'))?.code).toBe('VALIDATION_FAILED');
    expect(err(await env.call(s.presence.query, { caller: caller(), userIds: ['NOT-AN-ID'] }))?.code).toBe(
      'VALIDATION_FAILED',
    );
    const tooMany = Array.from({ length: 101 }, () => randomId(20));
    expect(err(await env.call(s.presence.query, { caller: caller(), userIds: tooMany }))?.code).toBe(
      'VALIDATION_FAILED',
    );
    expect(await query(randomId(20), [])).toEqual([]);
  });
});

describe('presence as a NATS micro service', () => {
  it('answers $SRV.PING and $SRV.INFO under the name "presence"', async () => {
    const infos = [];
    for await (const i of await svcm(env.nc).client().info('presence')) infos.push(i);
    const ours = infos.find((i) => i.endpoints.some((e) => e.subject === s.presence.query));
    expect(ours?.name).toBe('presence');
    expect(ours?.endpoints.map((e) => e.subject).sort()).toEqual(Object.values(s.presence).sort());
    const pings = [];
    for await (const p of await svcm(env.nc).client().ping('presence')) pings.push(p);
    expect(pings.some((p) => p.id === ours?.id)).toBe(true);
  });
});

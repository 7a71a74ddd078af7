import { subjects } from '@hush/protocol';
import {
  type NatsCluster,
  type RunningServer,
  type Stack,
  startNatsCluster,
  startRedis,
  startStack,
} from '@hush/testkit';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, expect } from 'vitest';
import { type LoadDevice, registerDevices } from '../load/devices.js';
import { bodyPool, partnerOf } from '../load/phase.js';
import { LatencyRecorder, messageIdFactory } from '../load/stats.js';
import { FaultClient } from './fault-client.js';

/**
 * The fault suite's system: a three-node NATS cluster with JetStream on loopback ports,
 * the mailbox stream with 3 replicas, a private Redis with AOF (the production setting, docs/RELIABILITY.md), auth/keydir/presence and two gateways, all as real processes.
 */
export interface FaultStack {
  cluster: NatsCluster;
  redis: RunningServer;
  stack: Stack;
  nc: NatsConnection;
  jsm: JetStreamManager;
  streamName: string;
  consumerName(a: { user: string; device: string }): string;
  stop(): Promise<void>;
}

export const FAULT_ENV: Record<string, string> = {
  STREAM_REPLICAS: '3',
  // All test devices share one loopback address and send in bursts (see tests/load/loadtest.ts).
  SEND_RATE: '100000',
  SEND_BURST: '100000',
  REGISTRATIONS_PER_ADDR: '1000000',
  LOGIN_FAILURES_PER_ADDR: '1000000',
  LOG_LEVEL: 'warn',
};

export async function startFaultStack(): Promise<FaultStack> {
  const cluster = await startNatsCluster(3);
  const redis = await startRedis({ isolated: true, appendonly: true });
  // The services take one NATS URL (a comma-separated list is not split by their config); they
  // learn the other nodes from the cluster's INFO and fail over to them.
  const n0 = cluster.nodes[0]!;
  const nats: RunningServer = {
    url: n0.url,
    port: n0.port,
    owned: false,
    kill: () => n0.kill(),
    restart: () => n0.restart(),
    stop: async () => {},
  };
  let stack: Stack;
  try {
    stack = await startStack({ gateways: 2, nats, redis, env: FAULT_ENV });
  } catch (e) {
    await redis.stop();
    await cluster.stop();
    throw e;
  }
  const nc = await connect({ servers: cluster.urls, maxReconnectAttempts: -1 });
  const jsm = await jetstreamManager(nc);
  const s = subjects(stack.env.SUBJECT_PREFIX ?? '');
  return {
    cluster,
    redis,
    stack,
    nc,
    jsm,
    streamName: stack.env.STREAM_NAME!,
    consumerName: (a) => s.consumerName(a.user, a.device),
    stop: async () => {
      await nc.close().catch(() => undefined);
      await stack.stop();
      await redis.stop();
      await cluster.stop();
    },
  };
}

/**
 * A test file's fault stack: started before its tests, stopped with every client after them.
 * `fs()` is the stack; `clients(n, tag)` connects n clients that are stopped at the end.
 */
export function useFaultStack(): {
  fs: () => FaultStack;
  clients: (n: number, tag: string) => Promise<FaultClient[]>;
} {
  let stack: FaultStack | undefined;
  const live: FaultClient[] = [];
  beforeAll(async () => {
    stack = await startFaultStack();
  }, 90_000);
  afterAll(async () => {
    await Promise.all(live.map((c) => c.stop()));
    await stack?.stop();
  }, 60_000);
  const fs = () => {
    if (!stack) throw new Error('the fault stack did not start');
    return stack;
  };
  return {
    fs,
    clients: async (n, tag) => {
      const cs = await connectClients(fs(), n, tag);
      live.push(...cs);
      return cs;
    },
  };
}

/** Registers devices (before any fault) and connects one client each; device i prefers gateway i % 2. */
export async function connectClients(fs: FaultStack, n: number, tag: string): Promise<FaultClient[]> {
  const urls = fs.stack.gatewayUrls;
  const devices: LoadDevice[] = await registerDevices(urls, n, tag);
  const clients = devices.map((d) => new FaultClient(d, [urls[d.gateway]!, ...urls.filter((_, i) => i !== d.gateway)]));
  await Promise.all(clients.map((c) => c.start()));
  return clients;
}

export interface Traffic {
  /** Every message sent: id -> sender and recipient index, send time (performance.now()). */
  sent: Map<string, { from: number; to: number; at: number }>;
  stop(): void;
}

/** Traffic in pairs at `rate` messages/s in total, until stopped (or `maxMessages`). */
export function startTraffic(
  clients: FaultClient[],
  rate: number,
  tag: string,
  bodyBytes = 200,
  maxMessages = 20_000,
): Traffic {
  const nextId = messageIdFactory(tag);
  const bodies = bodyPool(bodyBytes);
  const sent: Traffic['sent'] = new Map();
  const t0 = performance.now();
  let k = 0;
  const timer = setInterval(() => {
    const due = Math.min(maxMessages, Math.floor((rate * (performance.now() - t0)) / 1000));
    while (sent.size < due) {
      const from = k++ % clients.length;
      const to = partnerOf(from, clients.length);
      const id = nextId();
      sent.set(id, { from, to, at: performance.now() });
      clients[from]!.send(clients[to]!.address, id, bodies[k % bodies.length]!);
    }
  }, 10);
  return { sent, stop: () => clearInterval(timer) };
}

export interface Outcome {
  sent: number;
  accepted: number;
  /** Accepted by the gateway and never received by the recipient. Must be 0. */
  lost: string[];
  /** Sent, never accepted (still retrying) or refused. */
  unaccepted: number;
  failed: number;
  received: number;
  wireDuplicates: number;
  reconnects: number;
  retries: number;
}

/** An outcome's figures as the `[faults]` lines print them. */
export function outcomeFields(o: Outcome): Record<string, unknown> {
  return {
    sent: o.sent,
    accepted: o.accepted,
    received: o.received,
    lost: o.lost,
    unaccepted: o.unaccepted,
    failed: o.failed,
    wireDuplicates: o.wireDuplicates,
    resends: o.retries,
    reconnects: o.reconnects,
  };
}

export function outcome(clients: FaultClient[], sent: Traffic['sent']): Outcome {
  let accepted = 0;
  const lost: string[] = [];
  for (const [id, m] of sent) {
    if (!clients[m.from]!.accepted.has(id)) continue;
    accepted++;
    if (!clients[m.to]!.received.has(id)) lost.push(id);
  }
  const sum = (f: (c: FaultClient) => number) => clients.reduce((t, c) => t + f(c), 0);
  return {
    sent: sent.size,
    accepted,
    lost,
    unaccepted: sum((c) => c.pendingCount),
    failed: sum((c) => c.failed.size),
    received: sum((c) => c.received.size),
    wireDuplicates: sum((c) => c.wireDuplicates),
    reconnects: sum((c) => c.reconnects),
    retries: sum((c) => c.retries),
  };
}

/** Waits (bounded) until every sent message is accepted and received, or the deadline passes. */
export async function settle(clients: FaultClient[], sent: Traffic['sent'], timeoutMs: number): Promise<Outcome> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const o = outcome(clients, sent);
    if ((o.lost.length === 0 && o.unaccepted === 0 && o.accepted === o.sent) || Date.now() > deadline) return o;
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** p99 of send -> first receive for the messages of one traffic run (ms). */
export function trafficP99(clients: FaultClient[], sent: Traffic['sent']): number {
  const r = new LatencyRecorder();
  for (const [id, m] of sent) {
    const at = clients[m.to]!.received.get(id);
    if (at !== undefined) r.add(at - m.at);
  }
  return r.percentile(99);
}

/**
 * Every message was accepted and reached its recipient once as the user sees it (the client
 * dedupes by id), and never another device. Loss is asserted by the caller, with its diagnosis.
 */
export function expectEachOnce(clients: FaultClient[], sent: Traffic['sent'], o: Outcome): void {
  expect(o.failed).toBe(0);
  expect(o.accepted).toBe(o.sent);
  expect(o.received).toBe(o.sent);
  for (const [i, c] of clients.entries()) {
    for (const id of c.received.keys()) expect(sent.get(id)?.to).toBe(i);
  }
}

export async function stopAll(cs: FaultClient[]): Promise<void> {
  await Promise.all(cs.map((c) => c.stop()));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Prints a figure line the way docs/RELIABILITY.md quotes them. */
export function report(test: string, o: Record<string, unknown>): void {
  console.log(
    `[faults] ${test}: ${Object.entries(o)
      .map(([k, v]) => `${k}=${Array.isArray(v) ? v.length : v}`)
      .join(' ')}`,
  );
}

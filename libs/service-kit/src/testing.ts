import { decodeJson, encodeJson, type ServiceReply } from '@hush/protocol';
import { type RunningServer, startNats, startRedis, uniquePrefix } from '@hush/testkit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';

/**
 * Real NATS (JetStream) and Redis for a test file: the shared servers when NATS_URL / REDIS_URL
 * are set, else private ones on free ports (see @hush/testkit). Everything this file touches is
 * under a unique subject prefix and Redis key prefix, removed by cleanup().
 */
export interface TestEnv {
  nc: NatsConnection;
  redis: Redis;
  prefix: string;
  redisPrefix: string;
  call<T>(subject: string, body: unknown): Promise<ServiceReply<T>>;
  cleanup(): Promise<void>;
}

export async function testEnv(tag: string): Promise<TestEnv> {
  const servers: RunningServer[] = [];
  const nats = await startNats({ jetstream: true });
  servers.push(nats);
  const redisServer = await startRedis();
  servers.push(redisServer);
  const nc = await connect({ servers: nats.url, name: `test-${tag}` });
  const redis = new Redis(redisServer.url);
  const prefix = uniquePrefix(tag);
  const redisPrefix = `${prefix}:`;
  return {
    nc,
    redis,
    prefix,
    redisPrefix,
    call: async <T>(subject: string, body: unknown) => {
      const data = typeof body === 'string' ? new TextEncoder().encode(body) : encodeJson(body);
      const m = await nc.request(subject, data, { timeout: 10_000 });
      return decodeJson<ServiceReply<T>>(m.data);
    },
    cleanup: async () => {
      let cursor = '0';
      do {
        const [next, found] = await redis.scan(cursor, 'MATCH', `${redisPrefix}*`, 'COUNT', 500);
        cursor = next;
        if (found.length) await redis.del(...found);
      } while (cursor !== '0');
      await nc.drain();
      await redis.quit();
      for (const s of servers.reverse()) await s.stop();
    },
  };
}

/** Collects the JSON messages published on a subject. */
export function collect<T>(nc: NatsConnection, subject: string): { items: T[]; stop(): void } {
  const items: T[] = [];
  const sub = nc.subscribe(subject, {
    callback: (_e, m) => {
      items.push(decodeJson<T>(m.data));
    },
  });
  return { items, stop: () => sub.unsubscribe() };
}

/** Polls until the predicate holds (events arrive asynchronously); throws after the deadline. */
export async function eventually(pred: () => boolean | Promise<boolean>, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

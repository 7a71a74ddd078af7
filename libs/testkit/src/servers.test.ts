import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startNats, startRedis } from './servers.js';

describe('testkit servers', () => {
  it('starts a private nats-server with JetStream that survives a kill and restart', async () => {
    const nats = await startNats({ isolated: true });
    try {
      const nc = await connect({ servers: nats.url });
      const info = nc.info;
      expect(info?.jetstream).toBe(true);
      await nc.close();
      await nats.restart();
      const nc2 = await connect({ servers: nats.url });
      expect(nc2.isClosed()).toBe(false);
      await nc2.close();
    } finally {
      await nats.stop();
    }
  });

  it('starts a private redis-server that keeps AOF data across a restart', async () => {
    const redis = await startRedis({ isolated: true, appendonly: true });
    try {
      const r = new Redis(redis.url);
      await r.set('k', 'v');
      r.disconnect();
      await redis.restart();
      const r2 = new Redis(redis.url);
      expect(await r2.get('k')).toBe('v');
      r2.disconnect();
    } finally {
      await redis.stop();
    }
  });
});

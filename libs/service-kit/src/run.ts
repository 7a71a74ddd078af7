import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { type Logger, pino } from 'pino';
import { safeErr } from './endpoint.js';

export interface ServiceDeps {
  nc: NatsConnection;
  redis: Redis;
  log: Logger;
}

export interface BaseConfig {
  natsUrl: string;
  redisUrl: string;
  logLevel: string;
}

/**
 * The whole of a service's main.ts: read config, connect NATS (reconnecting forever; NATS_URL
 * may list several servers, comma-separated) and Redis, start, and drain on SIGINT/SIGTERM.
 */
export async function runService<C extends BaseConfig>(
  name: string,
  config: C,
  start: (deps: ServiceDeps, config: C) => Promise<{ stop(): Promise<void> }>,
): Promise<void> {
  const log = pino({ level: config.logLevel });
  const servers = config.natsUrl.split(',').map((s) => s.trim());
  const nc = await connect({ servers, name: `hush-${name}`, maxReconnectAttempts: -1 });
  const redis = new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
  // ioredis reconnects by itself; log the errors instead of letting them surface as unhandled events.
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'));
  const svc = await start({ nc, redis, log }, config);
  log.info({ nats: servers }, `${name} ready`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    try {
      await svc.stop();
      await nc.drain();
      await redis.quit();
    } catch (err) {
      log.error({ err: safeErr(err) }, 'shutdown error');
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { safeErr } from './endpoint.js';
import { startKeydir } from './service.js';

// Thin entry point: read env, connect, start, drain on SIGINT/SIGTERM.
const config = loadConfig();
const log = pino({ level: config.logLevel });
const nc = await connect({ servers: config.natsUrl, name: 'hush-keydir', maxReconnectAttempts: -1 });
const redis = new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
// ioredis reconnects by itself; log the errors instead of letting them surface as unhandled events.
redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'));
const keydir = await startKeydir({ nc, redis, log }, config);
log.info({ nats: config.natsUrl }, 'keydir ready');

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'keydir stopping');
  try {
    await keydir.stop();
    await nc.drain();
    await redis.quit();
  } catch (err) {
    log.error({ err: safeErr(err) }, 'shutdown error');
  }
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

import { connect } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { safeErr } from './endpoint.js';
import { startAuth } from './service.js';

// Thin entry point: read env, connect, start, drain on SIGINT/SIGTERM.
const config = loadConfig();
const log = pino({ level: config.logLevel });
const nc = await connect({ servers: config.natsUrl, name: 'hush-auth', maxReconnectAttempts: -1 });
const redis = new Redis(config.redisUrl, { lazyConnect: false, maxRetriesPerRequest: 3 });
// ioredis reconnects by itself; log the errors instead of letting them surface as unhandled events.
redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'));
const auth = await startAuth({ nc, redis, log }, config);
log.info({ nats: config.natsUrl }, 'auth ready');

let stopping = false;
const shutdown = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'auth stopping');
  try {
    await auth.stop();
    await nc.drain();
    await redis.quit();
  } catch (err) {
    log.error({ err: safeErr(err) }, 'shutdown error');
  }
  process.exit(0);
};
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));

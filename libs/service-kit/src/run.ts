import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { ServiceBaseConfig } from './config.js';
import { safeErr } from './endpoint.js';
import { createLogger } from './logger.js';
import { initMetrics, serveMetrics } from './metrics.js';
import { type NatsRole, natsAuthOptions } from './nats-auth.js';

export interface ServiceDeps {
  nc: NatsConnection;
  redis: Redis;
  log: Logger;
}

export type BaseConfig = Pick<
  ServiceBaseConfig,
  | 'natsUrl'
  | 'redisUrl'
  | 'logLevel'
  | 'natsNkeyFile'
  | 'natsNkeyDir'
  | 'natsTlsCaFile'
  | 'redisUsername'
  | 'redisPassword'
> &
  Partial<Pick<ServiceBaseConfig, 'metricsPort' | 'metricsHost'>> & { logFormat?: string };

/** ioredis options from the config: the password file wins over credentials in the URL. */
export function redisOptions(c: Pick<BaseConfig, 'redisUsername' | 'redisPassword'>): {
  username?: string;
  password?: string;
} {
  const o: { username?: string; password?: string } = {};
  if (c.redisUsername) o.username = c.redisUsername;
  if (c.redisPassword) o.password = c.redisPassword;
  return o;
}

/**
 * The whole of a service's main.ts: read config, connect NATS as the service's own role
 * (reconnecting forever; NATS_URL may list several servers, comma-separated) and Redis, serve
 * /metrics, start, and drain on SIGINT/SIGTERM.
 */
export async function runService<C extends BaseConfig>(
  name: NatsRole,
  config: C,
  start: (deps: ServiceDeps, config: C) => Promise<{ stop(): Promise<void> }>,
): Promise<void> {
  const log = createLogger({ level: config.logLevel, base: { svc: name }, format: config.logFormat ?? 'auto' });
  initMetrics(name);
  const servers = config.natsUrl.split(',').map((s) => s.trim());
  const nc = await connect({
    servers,
    name: `hush-${name}`,
    maxReconnectAttempts: -1,
    // Keep trying when NATS is not up yet (a pod starting before the broker, a loaded machine).
    waitOnFirstConnect: true,
    ...natsAuthOptions(name, {
      nkeyFile: config.natsNkeyFile,
      nkeyDir: config.natsNkeyDir,
      tlsCaFile: config.natsTlsCaFile,
    }),
  }).catch((e: unknown) => {
    log.fatal({ err: safeErr(e), nats: servers }, 'cannot connect to NATS (check NATS_URL and NATS_NKEY_FILE)');
    process.exit(1);
  });
  // Permission violations are reported asynchronously; log them loudly, they mean a bug or misconfig.
  void (async () => {
    for await (const st of nc.status()) {
      if (st.type === 'error') log.error({ err: String((st as { error?: unknown }).error) }, 'NATS error');
    }
  })();
  const redis = new Redis(config.redisUrl, {
    lazyConnect: false,
    maxRetriesPerRequest: 3,
    ...redisOptions(config),
  });
  // ioredis reconnects by itself; log the errors instead of letting them surface as unhandled events.
  redis.on('error', (err: Error) => log.warn({ err: err.message }, 'redis error'));
  const svc = await start({ nc, redis, log }, config);
  // Listening only once started: an answering /healthz on the metrics port means "serving".
  const metrics = await serveMetrics(config.metricsPort ?? 0, config.metricsHost ?? '0.0.0.0', log);
  log.info({ nats: servers, metricsPort: config.metricsPort }, `${name} ready`);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, `${name} stopping`);
    try {
      await svc.stop();
      await nc.drain();
      await redis.quit();
      metrics?.close();
    } catch (err) {
      log.error({ err: safeErr(err) }, 'shutdown error');
    }
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

import { DEFAULT_STREAM } from '@hush/protocol';

export interface KeydirConfig {
  natsUrl: string;
  redisUrl: string;
  subjectPrefix: string;
  redisPrefix: string;
  logLevel: string;
  /** JetStream stream holding the mailboxes (purged for devices removed from an account). */
  streamName: string;
  /** Bundle fetches allowed per calling device within bundleWindowMs (each one burns prekeys). */
  bundleFetchesPerWindow: number;
  bundleWindowMs: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

export function loadConfig(env: Env = process.env): KeydirConfig {
  return {
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    subjectPrefix: env.SUBJECT_PREFIX ?? '',
    redisPrefix: env.REDIS_PREFIX ?? 'hush:',
    logLevel: env.LOG_LEVEL || 'info',
    streamName: env.STREAM_NAME || DEFAULT_STREAM,
    bundleFetchesPerWindow: int(env, 'BUNDLE_FETCHES_PER_WINDOW', 120),
    bundleWindowMs: int(env, 'BUNDLE_WINDOW_MS', 60_000, 1000),
  };
}

export type Env = Record<string, string | undefined>;

/** What every NATS service reads from the environment, with safe local defaults. */
export interface ServiceBaseConfig {
  natsUrl: string;
  redisUrl: string;
  /** Prefix of every NATS subject (isolates tests and tenants sharing one broker). */
  subjectPrefix: string;
  /** Prefix of every Redis key. */
  redisPrefix: string;
  logLevel: string;
}

export function baseConfig(env: Env): ServiceBaseConfig {
  return {
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    subjectPrefix: env.SUBJECT_PREFIX ?? '',
    redisPrefix: env.REDIS_PREFIX ?? 'hush:',
    logLevel: env.LOG_LEVEL || 'info',
  };
}

/** An integer variable, or its default; anything else stops the service with a clear message. */
export function intEnv(env: Env, name: string, def: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

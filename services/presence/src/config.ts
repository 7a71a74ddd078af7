import { LEASE_TTL_MS } from '@hush/protocol';

/**
 * A killed gateway's devices must go offline within 30 s (issue 2). They do within
 * min(lease TTL, maxLeaseTtlMs) + sweepIntervalMs: 15 s + 5 s by default.
 */
export const OFFLINE_BOUND_MS = 30_000;

export interface PresenceConfig {
  natsUrl: string;
  redisUrl: string;
  subjectPrefix: string;
  redisPrefix: string;
  logLevel: string;
  /** Lease assumed for a gateway seen in a connect event before its first lease event. */
  leaseTtlMs: number;
  /** Longest lease a gateway may ask for (keeps the offline bound). */
  maxLeaseTtlMs: number;
  /** How often each copy looks for gateways whose lease expired. */
  sweepIntervalMs: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

export function loadConfig(env: Env = process.env): PresenceConfig {
  const cfg: PresenceConfig = {
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    subjectPrefix: env.SUBJECT_PREFIX ?? '',
    redisPrefix: env.REDIS_PREFIX ?? 'hush:',
    logLevel: env.LOG_LEVEL || 'info',
    leaseTtlMs: int(env, 'LEASE_TTL_MS', LEASE_TTL_MS, 100),
    maxLeaseTtlMs: int(env, 'MAX_LEASE_TTL_MS', 20_000, 100),
    sweepIntervalMs: int(env, 'SWEEP_INTERVAL_MS', 5_000, 20),
  };
  if (Math.min(cfg.leaseTtlMs, cfg.maxLeaseTtlMs) + cfg.sweepIntervalMs > OFFLINE_BOUND_MS) {
    throw new Error(`lease TTL + sweep interval must stay under ${OFFLINE_BOUND_MS} ms`);
  }
  return cfg;
}

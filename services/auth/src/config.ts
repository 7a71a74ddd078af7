import { ACCESS_TTL_MS, JWT_AUDIENCE, JWT_ISSUER, REFRESH_TTL_MS } from '@hush/protocol';

/** The issue caps access tokens at 15 minutes; a longer ACCESS_TTL_MS is clamped to this. */
export const MAX_ACCESS_TTL_MS = 15 * 60_000;

export interface AuthConfig {
  natsUrl: string;
  redisUrl: string;
  /** Prefix for every NATS subject (tests share one broker). */
  subjectPrefix: string;
  /** Prefix for every Redis key. */
  redisPrefix: string;
  logLevel: string;
  /** Argon2id cost. Defaults are the OWASP minimum (m=19 MiB, t=2, p=1); tests lower them. */
  argon2MemoryKib: number;
  argon2Iterations: number;
  argon2Parallelism: number;
  jwtIssuer: string;
  jwtAudience: string;
  accessTtlMs: number;
  refreshTtlMs: number;
  /** Failed logins allowed per username, and per client address, within rateWindowMs. */
  loginFailuresPerUser: number;
  loginFailuresPerAddr: number;
  /** Registrations allowed per client address within rateWindowMs. */
  registrationsPerAddr: number;
  rateWindowMs: number;
  /** How often each copy re-reads the shared signing key (picks up a rotation). */
  keyReloadMs: number;
}

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, def: number, min = 1): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min) throw new Error(`${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

export function loadConfig(env: Env = process.env): AuthConfig {
  return {
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    redisUrl: env.REDIS_URL || 'redis://127.0.0.1:6379',
    subjectPrefix: env.SUBJECT_PREFIX ?? '',
    redisPrefix: env.REDIS_PREFIX ?? 'hush:',
    logLevel: env.LOG_LEVEL || 'info',
    argon2MemoryKib: int(env, 'ARGON2_MEMORY_KIB', 19_456, 8),
    argon2Iterations: int(env, 'ARGON2_ITERATIONS', 2),
    argon2Parallelism: int(env, 'ARGON2_PARALLELISM', 1),
    jwtIssuer: env.JWT_ISSUER || JWT_ISSUER,
    jwtAudience: env.JWT_AUDIENCE || JWT_AUDIENCE,
    accessTtlMs: Math.min(int(env, 'ACCESS_TTL_MS', ACCESS_TTL_MS, 1000), MAX_ACCESS_TTL_MS),
    refreshTtlMs: int(env, 'REFRESH_TTL_MS', REFRESH_TTL_MS, 1000),
    loginFailuresPerUser: int(env, 'LOGIN_FAILURES_PER_USER', 10),
    loginFailuresPerAddr: int(env, 'LOGIN_FAILURES_PER_ADDR', 50),
    registrationsPerAddr: int(env, 'REGISTRATIONS_PER_ADDR', 20),
    rateWindowMs: int(env, 'AUTH_RATE_WINDOW_MS', 15 * 60_000, 1000),
    keyReloadMs: int(env, 'SIGNING_KEY_RELOAD_MS', 60_000, 100),
  };
}

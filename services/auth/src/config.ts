import { ACCESS_TTL_MS, JWT_AUDIENCE, JWT_ISSUER, REFRESH_TTL_MS } from '@hush/protocol';
import { baseConfig, type Env, intEnv, type ServiceBaseConfig } from '@hush/service-kit';

/** The issue caps access tokens at 15 minutes; a longer ACCESS_TTL_MS is clamped to this. */
export const MAX_ACCESS_TTL_MS = 15 * 60_000;

export interface AuthConfig extends ServiceBaseConfig {
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
  /**
   * Failed logins allowed within rateWindowMs: per username from one client address; per username
   * from all addresses (not applied to addresses that signed in to the account before, so nobody
   * can lock a user out); per client address across usernames.
   */
  loginFailuresPerUserAddr: number;
  loginFailuresPerUser: number;
  loginFailuresPerAddr: number;
  /** Active devices per account (each sign-in adds one, with its own prekey claim allowance). */
  maxDevicesPerAccount: number;
  /** Username lookups per calling account, and per client address, within rateWindowMs. */
  lookupsPerUser: number;
  lookupsPerAddr: number;
  /** Registrations allowed per client address within rateWindowMs. */
  registrationsPerAddr: number;
  rateWindowMs: number;
  /** How often each copy re-reads the shared signing key (picks up a rotation). */
  keyReloadMs: number;
}

export function loadConfig(env: Env = process.env): AuthConfig {
  return {
    ...baseConfig(env),
    argon2MemoryKib: intEnv(env, 'ARGON2_MEMORY_KIB', 19_456, 8),
    argon2Iterations: intEnv(env, 'ARGON2_ITERATIONS', 2),
    argon2Parallelism: intEnv(env, 'ARGON2_PARALLELISM', 1),
    jwtIssuer: env.JWT_ISSUER || JWT_ISSUER,
    jwtAudience: env.JWT_AUDIENCE || JWT_AUDIENCE,
    accessTtlMs: Math.min(intEnv(env, 'ACCESS_TTL_MS', ACCESS_TTL_MS, 1000), MAX_ACCESS_TTL_MS),
    refreshTtlMs: intEnv(env, 'REFRESH_TTL_MS', REFRESH_TTL_MS, 1000),
    loginFailuresPerUserAddr: intEnv(env, 'LOGIN_FAILURES_PER_USER_ADDR', 10),
    loginFailuresPerUser: intEnv(env, 'LOGIN_FAILURES_PER_USER', 100),
    loginFailuresPerAddr: intEnv(env, 'LOGIN_FAILURES_PER_ADDR', 50),
    registrationsPerAddr: intEnv(env, 'REGISTRATIONS_PER_ADDR', 20),
    // Signal allows five linked devices besides the phone; ten leaves room for browsers.
    maxDevicesPerAccount: intEnv(env, 'MAX_DEVICES_PER_ACCOUNT', 10),
    lookupsPerUser: intEnv(env, 'LOOKUPS_PER_USER', 100),
    lookupsPerAddr: intEnv(env, 'LOOKUPS_PER_ADDR', 300),
    rateWindowMs: intEnv(env, 'AUTH_RATE_WINDOW_MS', 15 * 60_000, 1000),
    keyReloadMs: intEnv(env, 'SIGNING_KEY_RELOAD_MS', 60_000, 100),
  };
}

import { ACCESS_TTL_MS, JWT_AUDIENCE, JWT_ISSUER, MAX_ACCESS_TTL_MS, REFRESH_TTL_MS } from '@hush/protocol';
import { type Env, EnvVar, loadServiceEnv, type ServiceBaseConfig, serviceSchema } from '@hush/service-kit';

/** A longer ACCESS_TTL_MS is clamped to the protocol's cap. */
export { MAX_ACCESS_TTL_MS };

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
  /** Secret under which the signing keys are stored encrypted in Redis ('' = stored as is). */
  signingKeySecret: string;
}

/** Every variable auth reads, with its default and meaning (validated at start). */
export const AuthEnv = serviceSchema({
  ARGON2_MEMORY_KIB: EnvVar.int(19_456, 'Argon2id memory in KiB (OWASP minimum)', { minimum: 8 }),
  ARGON2_ITERATIONS: EnvVar.int(2, 'Argon2id iterations'),
  ARGON2_PARALLELISM: EnvVar.int(1, 'Argon2id lanes'),
  JWT_ISSUER: EnvVar.string(JWT_ISSUER, 'iss of access tokens'),
  JWT_AUDIENCE: EnvVar.string(JWT_AUDIENCE, 'aud of access tokens'),
  ACCESS_TTL_MS: EnvVar.duration(ACCESS_TTL_MS, 'access-token lifetime (capped at 15 min)', 1000),
  REFRESH_TTL_MS: EnvVar.duration(REFRESH_TTL_MS, 'refresh-token lifetime', 1000),
  LOGIN_FAILURES_PER_USER_ADDR: EnvVar.int(10, 'failed logins per username and client address per window'),
  LOGIN_FAILURES_PER_USER: EnvVar.int(100, 'failed logins per username per window (from all addresses)'),
  LOGIN_FAILURES_PER_ADDR: EnvVar.int(50, 'failed logins per client address per window'),
  REGISTRATIONS_PER_ADDR: EnvVar.int(20, 'registrations per client address per window'),
  // Signal allows five linked devices besides the phone; ten leaves room for browsers.
  MAX_DEVICES_PER_ACCOUNT: EnvVar.int(10, 'devices one account may have'),
  LOOKUPS_PER_USER: EnvVar.int(100, 'username lookups per account per window'),
  LOOKUPS_PER_ADDR: EnvVar.int(300, 'username lookups per client address per window'),
  AUTH_RATE_WINDOW_MS: EnvVar.duration(15 * 60_000, 'window of the login/registration limits', 1000),
  SIGNING_KEY_RELOAD_MS: EnvVar.duration(60_000, 'how soon other auth copies pick up a rotated key', 100),
  SIGNING_KEY_SECRET_FILE: EnvVar.file('file with a secret that seals the signing keys kept in Redis'),
});

export function loadConfig(env: Env = process.env): AuthConfig {
  const { vars: v, base } = loadServiceEnv(AuthEnv, env);
  return {
    ...base,
    argon2MemoryKib: v.ARGON2_MEMORY_KIB,
    argon2Iterations: v.ARGON2_ITERATIONS,
    argon2Parallelism: v.ARGON2_PARALLELISM,
    jwtIssuer: v.JWT_ISSUER,
    jwtAudience: v.JWT_AUDIENCE,
    accessTtlMs: Math.min(v.ACCESS_TTL_MS, MAX_ACCESS_TTL_MS),
    refreshTtlMs: v.REFRESH_TTL_MS,
    loginFailuresPerUserAddr: v.LOGIN_FAILURES_PER_USER_ADDR,
    loginFailuresPerUser: v.LOGIN_FAILURES_PER_USER,
    loginFailuresPerAddr: v.LOGIN_FAILURES_PER_ADDR,
    registrationsPerAddr: v.REGISTRATIONS_PER_ADDR,
    maxDevicesPerAccount: v.MAX_DEVICES_PER_ACCOUNT,
    lookupsPerUser: v.LOOKUPS_PER_USER,
    lookupsPerAddr: v.LOOKUPS_PER_ADDR,
    rateWindowMs: v.AUTH_RATE_WINDOW_MS,
    keyReloadMs: v.SIGNING_KEY_RELOAD_MS,
    signingKeySecret: v.SIGNING_KEY_SECRET_FILE,
  };
}

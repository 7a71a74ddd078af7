import type { Static, TObject, TProperties } from '@sinclair/typebox';
import { Type } from '@sinclair/typebox';
import { BaseEnv, type Env, type ParseOptions, parseEnv, RedisEnv } from './env-schema.js';

export type { Env } from './env-schema.js';

/** What every NATS service reads from the environment, with safe local defaults. */
export interface ServiceBaseConfig {
  natsUrl: string;
  /** This process's nkey seed file ('' = connect anonymously, refused by a secured server). */
  natsNkeyFile: string;
  natsNkeyDir: string;
  natsTlsCaFile: string;
  redisUrl: string;
  redisUsername: string;
  /** Read from REDIS_PASSWORD_FILE; '' when the URL carries the password or there is none. */
  redisPassword: string;
  /** Prefix of every NATS subject (isolates tests and tenants sharing one broker). */
  subjectPrefix: string;
  /** Prefix of every Redis key. */
  redisPrefix: string;
  logLevel: string;
  logFormat: string;
  /** Port of the Prometheus endpoint; 0 turns it off. */
  metricsPort: number;
  metricsHost: string;
}

/** The schema of a NATS + Redis service: the shared variables plus its own. */
export function serviceSchema<P extends TProperties>(own: P) {
  return Type.Object({ ...BaseEnv, ...RedisEnv, ...own });
}

type BaseStatic = Static<TObject<typeof BaseEnv & typeof RedisEnv>>;

/**
 * Parses `env` through a service schema (see env-schema.ts) and returns the parsed variables and
 * the shared part already mapped to ServiceBaseConfig.
 */
export function loadServiceEnv<P extends TProperties>(
  schema: TObject<P>,
  env: Env,
  o: ParseOptions = {},
): { vars: Static<TObject<P>>; base: ServiceBaseConfig } {
  const vars = parseEnv(schema, env, o);
  const v = vars as unknown as BaseStatic;
  return {
    vars,
    base: {
      natsUrl: v.NATS_URL,
      natsNkeyFile: v.NATS_NKEY_FILE,
      natsNkeyDir: v.NATS_NKEY_DIR,
      natsTlsCaFile: v.NATS_TLS_CA_FILE,
      redisUrl: v.REDIS_URL,
      redisUsername: v.REDIS_USERNAME,
      redisPassword: v.REDIS_PASSWORD_FILE,
      subjectPrefix: v.SUBJECT_PREFIX,
      redisPrefix: v.REDIS_PREFIX,
      logLevel: v.LOG_LEVEL,
      logFormat: v.LOG_FORMAT,
      metricsPort: v.METRICS_PORT,
      metricsHost: v.METRICS_HOST,
    },
  };
}

/** The shared part alone (tests and tools that need no service-specific variables). */
export function baseConfig(env: Env): ServiceBaseConfig {
  return loadServiceEnv(serviceSchema({}), env, { warn: () => {} }).base;
}

export { baseConfig, type Env, loadServiceEnv, type ServiceBaseConfig, serviceSchema } from './config.js';
export {
  addJsonEndpoint,
  type EndpointOptions,
  FIXED_WINDOW_LUA,
  MAX_REQUEST_BYTES,
  safeErr,
  svcm,
} from './endpoint.js';
export {
  BaseEnv,
  ConfigError,
  EnvVar,
  type ParseOptions,
  parseDuration,
  parseEnv,
  RedisEnv,
  unknownVariables,
} from './env-schema.js';
export { createLogger, REQUEST_ID_HEADER, serviceLog } from './logger.js';
export { initMetrics, LATENCY_BUCKETS, rateLimited, registry, rpcHandled, serveMetrics } from './metrics.js';
export {
  inboxPrefix,
  NATS_ROLES,
  type NatsAuditRole,
  type NatsAuthConfig,
  type NatsRole,
  natsAuthOptions,
  type Permissions,
  renderNatsAuthorization,
  rolePermissions,
} from './nats-auth.js';
export { type BaseConfig, redisOptions, runService, type ServiceDeps } from './run.js';
export {
  ensureSecrets,
  type GenerateOptions,
  REDIS_USER,
  redisUrlWithAuth,
  renderRedisAcl,
  type SecretsLayout,
  secretsLayout,
} from './secrets.js';

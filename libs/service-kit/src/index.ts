export { baseConfig, type Env, intEnv, type ServiceBaseConfig } from './config.js';
export {
  addJsonEndpoint,
  type EndpointOptions,
  FIXED_WINDOW_LUA,
  MAX_REQUEST_BYTES,
  safeErr,
  svcm,
} from './endpoint.js';
export { type BaseConfig, runService, type ServiceDeps } from './run.js';

export { type AuthConfig, AuthEnv, loadConfig, MAX_ACCESS_TTL_MS } from './config.js';
export {
  AUTH_VERSION,
  type AuthDeps,
  type AuthHandle,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  redisKeys,
  startAuth,
} from './service.js';

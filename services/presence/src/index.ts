export { loadConfig, OFFLINE_BOUND_MS, type PresenceConfig, PresenceEnv } from './config.js';
export { PRESENCE_VERSION, type PresenceDeps, type PresenceHandle, redisKeys, startPresence } from './service.js';

export { type KeydirConfig, KeydirEnv, loadConfig } from './config.js';
export { KEYDIR_VERSION, type KeydirDeps, type KeydirHandle, redisKeys, startKeydir } from './service.js';
export { PUBLIC_KEY_BYTES, SIGNATURE_BYTES } from './validate.js';

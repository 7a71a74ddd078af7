export { buildApp, createLogger, type GatewayApp, type GatewayDeps } from './app.js';
export { type GatewayConfig, GatewayEnv, loadConfig, parseDuration, testConfig } from './config.js';
export { type JwksSource, type TokenIdentity, TokenVerifier } from './tokens.js';

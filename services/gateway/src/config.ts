import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  DEFAULT_STREAM,
  HELLO_TIMEOUT_MS,
  JWT_AUDIENCE,
  JWT_ISSUER,
  LEASE_INTERVAL_MS,
  LEASE_TTL_MS,
} from '@hush/protocol';
import { HEARTBEAT_INTERVAL_MS, HTTP_REQUEST_TIMEOUT_MS } from './constants.js';

/** Typed gateway configuration; `loadConfig(process.env)` fills it with safe local defaults. */
export interface GatewayConfig {
  natsUrl: string;
  subjectPrefix: string;
  streamName: string;
  streamReplicas: number;
  gatewayId: string;
  /** Folder with the built web client; a placeholder page is served when it has no index.html. */
  webRoot: string;
  /** Origins allowed by CORS; empty = same-origin only. */
  corsOrigins: string[];
  /** Per-device token bucket for send frames: refill rate (messages/s) and burst size. */
  sendRate: number;
  sendBurst: number;
  mailboxMaxAgeMs: number;
  logLevel: string;
  port: number;
  host: string;
  helloTimeoutMs: number;
  heartbeatMs: number;
  leaseIntervalMs: number;
  leaseTtlMs: number;
  /** Expected `iss` and `aud` of access tokens (must match auth's JWT_ISSUER / JWT_AUDIENCE). */
  jwtIssuer: string;
  jwtAudience: string;
  /** Trust X-Forwarded-For (behind a reverse proxy) so clientAddr is the real client. */
  trustProxy: boolean;
  /** A whole HTTP request (headers and body) must arrive within this; slower ones get 408. */
  httpRequestTimeoutMs: number;
  /** Serve the web client's `*.map` files (development only: they publish the sources). */
  serveSourceMaps: boolean;
}

const DAY_MS = 24 * 3600_000;

function int(env: NodeJS.ProcessEnv, name: string, dflt: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return dflt;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) throw new Error(`${name} must be a non-negative number, got "${raw}"`);
  return n;
}

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3600_000, d: DAY_MS };

/** "30d", "12h", "90s", "500ms" or a bare number of milliseconds. */
export function parseDuration(raw: string | undefined, dflt: number, name = 'duration'): number {
  if (raw === undefined || raw.trim() === '') return dflt;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(raw.trim());
  if (!m) throw new Error(`${name} must look like 30d, 12h, 90s or a number of ms, got "${raw}"`);
  return Math.round(Number(m[1]) * (UNITS[m[2] ?? 'ms'] ?? 1));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): GatewayConfig {
  return {
    natsUrl: env.NATS_URL || 'nats://127.0.0.1:4222',
    subjectPrefix: env.SUBJECT_PREFIX ?? '',
    streamName: env.STREAM_NAME || DEFAULT_STREAM,
    streamReplicas: int(env, 'STREAM_REPLICAS', 1),
    // A per-start suffix: a gateway restarted under the same GATEWAY_ID (a Kubernetes pod name)
    // must not renew the dead process's presence lease, or its sockets would never be swept.
    gatewayId: `${env.GATEWAY_ID || 'gw'}_${randomBytes(4).toString('hex')}`,
    webRoot: env.WEB_ROOT || join(process.cwd(), 'clients', 'web', 'dist'),
    corsOrigins: (env.CORS_ORIGINS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    sendRate: int(env, 'SEND_RATE', 100),
    sendBurst: int(env, 'SEND_BURST', 200),
    mailboxMaxAgeMs: parseDuration(env.MAILBOX_MAX_AGE, 30 * DAY_MS, 'MAILBOX_MAX_AGE'),
    logLevel: env.LOG_LEVEL || 'info',
    port: int(env, 'PORT', 8080),
    host: env.HOST || '0.0.0.0',
    helloTimeoutMs: int(env, 'HELLO_TIMEOUT_MS', HELLO_TIMEOUT_MS),
    heartbeatMs: int(env, 'HEARTBEAT_MS', HEARTBEAT_INTERVAL_MS),
    leaseIntervalMs: int(env, 'LEASE_INTERVAL_MS', LEASE_INTERVAL_MS),
    leaseTtlMs: int(env, 'LEASE_TTL_MS', LEASE_TTL_MS),
    jwtIssuer: env.JWT_ISSUER || JWT_ISSUER,
    jwtAudience: env.JWT_AUDIENCE || JWT_AUDIENCE,
    trustProxy: env.TRUST_PROXY === '1' || env.TRUST_PROXY === 'true',
    httpRequestTimeoutMs: int(env, 'HTTP_REQUEST_TIMEOUT_MS', HTTP_REQUEST_TIMEOUT_MS),
    serveSourceMaps: env.SERVE_SOURCE_MAPS === '1' || env.SERVE_SOURCE_MAPS === 'true',
  };
}

/** Defaults for tests and embedders: everything from loadConfig({}) overridden by `over`. */
export function testConfig(over: Partial<GatewayConfig> = {}): GatewayConfig {
  return { ...loadConfig({}), ...over };
}

import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_STREAM,
  HELLO_TIMEOUT_MS,
  JWT_AUDIENCE,
  JWT_ISSUER,
  LEASE_INTERVAL_MS,
  LEASE_TTL_MS,
} from '@hush/protocol';
import { BaseEnv, ConfigError, type Env, EnvVar, parseEnv, parseDuration as parseMs } from '@hush/service-kit';
import { Type } from '@sinclair/typebox';
import { HEARTBEAT_INTERVAL_MS, HTTP_REQUEST_TIMEOUT_MS, MAX_PRESENCE_FOLLOWS } from './constants.js';

/** Typed gateway configuration; `loadConfig(process.env)` fills it with safe local defaults. */
export interface GatewayConfig {
  natsUrl: string;
  /** The gateway's nkey seed file and the NATS CA ('' = none). */
  natsNkeyFile: string;
  natsNkeyDir: string;
  natsTlsCaFile: string;
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
  /** Per-device byte budget for send frames: refill (bytes/s) and bucket size (bytes). */
  sendBytesRate: number;
  sendBytesBurst: number;
  mailboxMaxAgeMs: number;
  /** Bounds of the mailbox stream: total bytes, and envelopes kept per device mailbox. */
  mailboxMaxBytes: number;
  attachmentsMaxBytes: number;
  mailboxMaxPerDevice: number;
  logLevel: string;
  logFormat: string;
  port: number;
  host: string;
  /** Port of the Prometheus endpoint (0 = off); never the public port. */
  metricsPort: number;
  metricsHost: string;
  helloTimeoutMs: number;
  heartbeatMs: number;
  leaseIntervalMs: number;
  leaseTtlMs: number;
  /** Expected `iss` and `aud` of access tokens (must match auth's JWT_ISSUER / JWT_AUDIENCE). */
  jwtIssuer: string;
  jwtAudience: string;
  /**
   * Which proxies to believe about the client address and scheme: false (none), a hop count, or
   * addresses/CIDRs (Fastify `trustProxy`). Never "trust everything".
   */
  trustProxy: false | number | string[];
  /** PEM certificate and key when the gateway terminates TLS itself. */
  tls?: { cert: string; key: string };
  /** A whole HTTP request (headers and body) must arrive within this; slower ones get 408. */
  httpRequestTimeoutMs: number;
  /** Serve the web client's `*.map` files (development only: they publish the sources). */
  serveSourceMaps: boolean;
  /** Users whose presence one socket may follow (presence.sub beyond it: GW_TOO_MANY_SUBSCRIPTIONS). */
  maxPresenceFollows: number;
}

const DAY_MS = 24 * 3600_000;

/** Every variable the gateway reads, with its default and meaning (validated at start). */
export const GatewayEnv = Type.Object({
  ...BaseEnv,
  STREAM_NAME: EnvVar.string(DEFAULT_STREAM, 'JetStream stream of the mailboxes'),
  STREAM_REPLICAS: EnvVar.int(1, 'stream replicas (3 in a NATS cluster)', { maximum: 5 }),
  MAILBOX_MAX_AGE: EnvVar.duration(30 * DAY_MS, 'how long an undelivered envelope is kept'),
  MAILBOX_MAX_BYTES: EnvVar.int(10 * 1024 ** 3, 'total bytes of the mailbox stream (oldest dropped beyond)'),
  ATTACHMENTS_MAX_BYTES: EnvVar.int(
    20 * 1024 ** 3,
    'total bytes of stored encrypted attachments (uploads refused beyond)',
  ),
  MAILBOX_MAX_PER_DEVICE: EnvVar.int(10_000, 'envelopes kept per device mailbox (oldest dropped beyond)'),
  PORT: EnvVar.int(8080, 'HTTP(S) listen port', { maximum: 65535 }),
  HOST: EnvVar.string('0.0.0.0', 'listen address'),
  WEB_ROOT: EnvVar.string(join(process.cwd(), 'clients', 'web', 'dist'), 'the built web client'),
  CORS_ORIGINS: EnvVar.list('allowed cross-origin origins (default same origin only)'),
  SEND_RATE: EnvVar.int(100, 'send frames per second per device'),
  SEND_BURST: EnvVar.int(200, 'send-frame burst per device'),
  SEND_BYTES_RATE: EnvVar.int(1024 * 1024, 'bytes per second a device may send (quota refill)'),
  SEND_BYTES_BURST: EnvVar.int(16 * 1024 * 1024, 'byte quota bucket per device'),
  GATEWAY_ID: EnvVar.string('gw', 'name used for presence leases (a random suffix is added)'),
  HELLO_TIMEOUT_MS: EnvVar.duration(HELLO_TIMEOUT_MS, 'time a socket has to send hello'),
  HEARTBEAT_MS: EnvVar.duration(HEARTBEAT_INTERVAL_MS, 'socket ping interval'),
  LEASE_INTERVAL_MS: EnvVar.duration(LEASE_INTERVAL_MS, 'presence lease renewal interval'),
  LEASE_TTL_MS: EnvVar.duration(LEASE_TTL_MS, 'presence lease lifetime'),
  JWT_ISSUER: EnvVar.string(JWT_ISSUER, 'expected iss of access tokens'),
  JWT_AUDIENCE: EnvVar.string(JWT_AUDIENCE, 'expected aud of access tokens'),
  TRUST_PROXY: EnvVar.optional('proxies to trust: a hop count (1) or addresses/CIDRs, comma-separated'),
  TLS_CERT: EnvVar.optional('PEM certificate file: the gateway serves HTTPS itself'),
  TLS_KEY: EnvVar.optional('PEM private key file for TLS_CERT'),
  HTTP_REQUEST_TIMEOUT_MS: EnvVar.duration(HTTP_REQUEST_TIMEOUT_MS, 'a whole HTTP request must arrive within this'),
  SERVE_SOURCE_MAPS: EnvVar.bool(false, "serve the web client's source maps (development only)"),
  MAX_PRESENCE_FOLLOWS: EnvVar.int(MAX_PRESENCE_FOLLOWS, 'users one socket may follow with presence.sub'),
});

/** TRUST_PROXY: '' = trust nobody; `2` = two hops; `10.0.0.0/8,127.0.0.1` = those addresses. */
export function parseTrustProxy(raw: string): false | number | string[] {
  const v = raw.trim();
  if (v === '' || v === '0' || v === 'false') return false;
  if (/^\d+$/.test(v)) return Number(v);
  if (v === 'true' || v === '*')
    throw new ConfigError([
      'TRUST_PROXY=true would let any client forge its address: give a hop count (1) or the proxy addresses',
    ]);
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadConfig(env: Env = process.env): GatewayConfig {
  const v = parseEnv(GatewayEnv, env);
  if (Boolean(v.TLS_CERT) !== Boolean(v.TLS_KEY)) throw new ConfigError(['TLS_CERT and TLS_KEY go together']);
  const cfg: GatewayConfig = {
    natsUrl: v.NATS_URL,
    natsNkeyFile: v.NATS_NKEY_FILE,
    natsNkeyDir: v.NATS_NKEY_DIR,
    natsTlsCaFile: v.NATS_TLS_CA_FILE,
    subjectPrefix: v.SUBJECT_PREFIX,
    streamName: v.STREAM_NAME,
    streamReplicas: v.STREAM_REPLICAS,
    // A per-start suffix: a gateway restarted under the same GATEWAY_ID (a Kubernetes pod name)
    // must not renew the dead process's presence lease, or its sockets would never be swept.
    gatewayId: `${v.GATEWAY_ID}_${randomBytes(4).toString('hex')}`,
    webRoot: v.WEB_ROOT,
    corsOrigins: v.CORS_ORIGINS,
    sendRate: v.SEND_RATE,
    sendBurst: v.SEND_BURST,
    sendBytesRate: v.SEND_BYTES_RATE,
    sendBytesBurst: v.SEND_BYTES_BURST,
    mailboxMaxAgeMs: v.MAILBOX_MAX_AGE,
    mailboxMaxBytes: v.MAILBOX_MAX_BYTES,
    attachmentsMaxBytes: v.ATTACHMENTS_MAX_BYTES,
    mailboxMaxPerDevice: v.MAILBOX_MAX_PER_DEVICE,
    logLevel: v.LOG_LEVEL,
    logFormat: v.LOG_FORMAT,
    port: v.PORT,
    host: v.HOST,
    metricsPort: v.METRICS_PORT,
    metricsHost: v.METRICS_HOST,
    helloTimeoutMs: v.HELLO_TIMEOUT_MS,
    heartbeatMs: v.HEARTBEAT_MS,
    leaseIntervalMs: v.LEASE_INTERVAL_MS,
    leaseTtlMs: v.LEASE_TTL_MS,
    jwtIssuer: v.JWT_ISSUER,
    jwtAudience: v.JWT_AUDIENCE,
    trustProxy: parseTrustProxy(v.TRUST_PROXY),
    httpRequestTimeoutMs: v.HTTP_REQUEST_TIMEOUT_MS,
    serveSourceMaps: v.SERVE_SOURCE_MAPS,
    maxPresenceFollows: v.MAX_PRESENCE_FOLLOWS,
  };
  if (v.TLS_CERT) cfg.tls = { cert: readFileSync(v.TLS_CERT, 'utf8'), key: readFileSync(v.TLS_KEY, 'utf8') };
  return cfg;
}

/** "30d", "12h", "90s", "500ms" or a bare number of milliseconds. */
export function parseDuration(raw: string | undefined, dflt: number, name = 'duration'): number {
  if (raw === undefined || raw.trim() === '') return dflt;
  const ms = parseMs(raw);
  if (ms === undefined) throw new Error(`${name} must look like 30d, 12h, 90s or a number of ms, got "${raw}"`);
  return ms;
}

/** Defaults for tests and embedders: everything from loadConfig({}) overridden by `over`. */
export function testConfig(over: Partial<GatewayConfig> = {}): GatewayConfig {
  return { ...loadConfig({}), ...over };
}

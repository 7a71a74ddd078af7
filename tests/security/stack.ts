/**
 * The security tests' stack: real nats-server (JetStream) and redis-server (testkit), the real
 * auth, keydir and presence services and the real gateway, all in this process so a test can
 * start a second gateway, read the gateway's log lines and count what it answered. Nothing here
 * is a stand-in: every request crosses NATS to the service that answers it in production.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type AuthConfig, type AuthHandle, loadConfig as authConfig, startAuth } from '@hush/auth';
import { buildApp, createLogger, type GatewayApp, type GatewayConfig, testConfig } from '@hush/gateway';
import { type KeydirConfig, type KeydirHandle, loadConfig as keydirConfig, startKeydir } from '@hush/keydir';
import { type PresenceConfig, type PresenceHandle, loadConfig as presenceConfig, startPresence } from '@hush/presence';
import type { PublishKeysBody, Session } from '@hush/protocol';
import { type TestEnv, testEnv } from '@hush/service-kit/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { WsProbe } from '../../services/gateway/src/test-support.js';

export interface SecurityStackOptions {
  auth?: Partial<AuthConfig>;
  keydir?: Partial<KeydirConfig>;
  presence?: Partial<PresenceConfig>;
  gateway?: Partial<GatewayConfig>;
  /** Level of the gateways' captured log (default debug). */
  gatewayLogLevel?: string;
}

export interface Gateway {
  app: GatewayApp;
  url: string;
  wsUrl: string;
  /** Every JSON log line the gateway wrote (level debug and up). */
  logs: string[];
}

export interface SecurityStack {
  env: TestEnv;
  gw: Gateway;
  /** Starts one more gateway on the same backbone (e.g. one that missed earlier events). */
  addGateway(over?: Partial<GatewayConfig>): Promise<Gateway>;
  stop(): Promise<void>;
}

const quiet = pino({ level: 'silent' });

/** A web root holding a page, a script and the script's source map. */
export function webRootWithSourceMap(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hush-web-'));
  writeFileSync(join(dir, 'index.html'), '<!doctype html><title>Hush</title><script src="/app.js"></script>');
  writeFileSync(join(dir, 'app.js'), 'console.log(1);\n//# sourceMappingURL=app.js.map\n');
  writeFileSync(join(dir, 'app.js.map'), '{"version":3,"sources":["src/secret-source.ts"],"mappings":""}');
  return dir;
}

export async function securityStack(tag: string, opts: SecurityStackOptions = {}): Promise<SecurityStack> {
  const env = await testEnv(tag);
  const base = { subjectPrefix: env.prefix, redisPrefix: env.redisPrefix, logLevel: 'silent' };
  const handles: { stop(): Promise<void> }[] = [];
  const auth: AuthHandle = await startAuth(
    { nc: env.nc, redis: env.redis, log: quiet },
    // Argon2id at its cheapest so tests can register many users; the cost is not under test.
    { ...authConfig({}), ...base, argon2MemoryKib: 1024, argon2Iterations: 1, ...opts.auth },
  );
  handles.push(auth);
  const keydir: KeydirHandle = await startKeydir(
    { nc: env.nc, redis: env.redis, log: quiet },
    { ...keydirConfig({}), ...base, streamName: `MBOX_${env.prefix}`, ...opts.keydir },
  );
  handles.push(keydir);
  const presence: PresenceHandle = await startPresence(
    { nc: env.nc, redis: env.redis, log: quiet },
    { ...presenceConfig({}), ...base, ...opts.presence },
  );
  handles.push(presence);

  const gateways: GatewayApp[] = [];
  const addGateway = async (over: Partial<GatewayConfig> = {}): Promise<Gateway> => {
    const logs: string[] = [];
    const config = testConfig({
      subjectPrefix: env.prefix,
      streamName: `MBOX_${env.prefix}`,
      gatewayId: `gw${gateways.length}_${env.prefix}`,
      webRoot: '/nonexistent',
      ...opts.gateway,
      ...over,
    });
    const logger = createLogger(opts.gatewayLogLevel ?? 'debug', {}, { write: (line: string) => void logs.push(line) });
    const app = await buildApp({ nc: env.nc, logger }, config);
    gateways.push(app);
    const url = await app.listen({ port: 0, host: '127.0.0.1' });
    return { app, url, wsUrl: `${url.replace('http', 'ws')}/ws`, logs };
  };
  const gw = await addGateway();
  return {
    env,
    gw,
    addGateway,
    stop: async () => {
      for (const g of gateways) await g.close();
      for (const h of handles.reverse()) await h.stop();
      const jsm = await jetstreamManager(env.nc);
      await jsm.streams.delete(`MBOX_${env.prefix}`).catch(() => undefined);
      await env.cleanup();
    },
  };
}

let seq = 0;
/** A username unique to this run. */
export const uname = (tag: string) => `${tag}_${Date.now().toString(36)}${(++seq).toString(36)}`.slice(0, 32);
export const PASSWORD = 'correct horse battery staple';

export interface Answer<T = Record<string, unknown>> {
  status: number;
  body: T;
  headers: Headers;
}

/** One HTTP call to a gateway; JSON in and out. */
export async function http<T = Record<string, unknown>>(
  gw: Gateway,
  method: string,
  path: string,
  o: { token?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Answer<T>> {
  const headers: Record<string, string> = { ...o.headers };
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  let payload: string | undefined;
  if (o.raw !== undefined || o.body !== undefined) {
    headers['content-type'] ??= 'application/json';
    payload = o.raw ?? JSON.stringify(o.body);
  }
  const r = await fetch(`${gw.url}${path}`, { method, headers, body: payload });
  const text = await r.text();
  return { status: r.status, body: (text ? JSON.parse(text) : {}) as T, headers: r.headers };
}

const rnd = (n: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(n))).toString('base64');

/** Public keys of the right shapes (keydir checks shapes; trust is the client's, libs/crypto). */
export function keysFor(deviceId: string, prekeys = 10): PublishKeysBody {
  return {
    identityKey: rnd(32),
    deviceKey: { publicKey: rnd(32), signature: rnd(64) },
    signedPrekey: { keyId: 1, publicKey: rnd(32), createdAt: Date.now(), signature: rnd(64) },
    oneTimePrekeys: Array.from({ length: prekeys }, (_, i) => ({
      keyId: i + 1,
      publicKey: rnd(32),
      signature: rnd(64),
    })),
    deviceList: { version: 1, devices: [deviceId], issuedAt: Date.now(), signature: rnd(64) },
  };
}

/** Registers a user through the gateway and (by default) publishes its device's keys. */
export async function register(gw: Gateway, tag: string, o: { keys?: boolean; prekeys?: number } = {}) {
  const username = uname(tag);
  const r = await http<Session>(gw, 'POST', '/v1/register', {
    body: { username, password: PASSWORD, deviceName: `${tag} device` },
  });
  if (r.status !== 201) throw new Error(`register ${username}: ${r.status} ${JSON.stringify(r.body)}`);
  const session = r.body;
  if (o.keys !== false) {
    const k = await http(gw, 'PUT', '/v1/keys', {
      token: session.accessToken,
      body: keysFor(session.deviceId, o.prekeys ?? 10),
    });
    if (k.status !== 204) throw new Error(`publish keys: ${k.status} ${JSON.stringify(k.body)}`);
  }
  return { username, session, addr: { user: session.userId, device: session.deviceId } };
}
export type User = Awaited<ReturnType<typeof register>>;

/** The gateway's own raw WebSocket test client (queues frames, records the close code). */
export { WsProbe as Ws };

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const b64 = (s: string) => Buffer.from(s).toString('base64');

/**
 * Test support for the gateway's own tests (not shipped): a private or shared NATS (testkit), a
 * unique subject prefix and stream, the stand-ins for auth/keydir (stand-in-auth.ts) and presence
 * (stand-in-presence.ts) on the real broker, each contract-tested against the real service in
 * tests/contracts, plus an Ed25519 key to mint access tokens the way auth does.
 * Cross-service tests in tests/backbone use the real services instead.
 */
import { JWT_AUDIENCE, JWT_ISSUER, subjects } from '@hush/protocol';
import { startNats, uniquePrefix } from '@hush/testkit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import WebSocket from 'ws';
import { buildApp, createLogger, type GatewayApp } from './app.js';
import { type GatewayConfig, testConfig } from './config.js';
import { standInAuth } from './stand-in-auth.js';
import { standInPresence } from './stand-in-presence.js';

export interface Harness {
  app: GatewayApp;
  nc: NatsConnection;
  prefix: string;
  url: string;
  wsUrl: string;
  s: ReturnType<typeof subjects>;
  devices: Map<string, string[]>;
  /** Requests the fake services received, by subject suffix. */
  seen: { subject: string; body: unknown }[];
  token(userId: string, deviceId: string, o?: TokenOpts): Promise<string>;
  /** Responders that can be switched off to test "service down". */
  fake: { presence: boolean; auth: boolean; keydir: boolean };
  close(): Promise<void>;
}

export interface TokenOpts {
  expSeconds?: number;
  iatOffset?: number;
  audience?: string;
  issuer?: string;
  key?: CryptoKey;
  kid?: string;
}

let keyN = 0;

export async function harness(over: Partial<GatewayConfig> = {}, opts: { logs?: string[] } = {}): Promise<Harness> {
  const nats = await startNats({ jetstream: true });
  const nc = await connect({ servers: nats.url });
  const prefix = uniquePrefix('gw');
  const s = subjects(prefix);
  const { publicKey, privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const kid = `k${++keyN}`;
  const jwk: JWK = { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' };
  const auth = standInAuth(nc, s, jwk);
  const { devices, seen } = auth;
  const presence = standInPresence(nc, s);
  const fake = {
    get auth() {
      return auth.answering.auth;
    },
    set auth(on: boolean) {
      auth.answering.auth = on;
    },
    get keydir() {
      return auth.answering.keydir;
    },
    set keydir(on: boolean) {
      auth.answering.keydir = on;
    },
    get presence() {
      return presence.answering;
    },
    set presence(on: boolean) {
      presence.answering = on;
    },
  };
  await nc.flush();

  const config = testConfig({
    subjectPrefix: prefix,
    streamName: `MBOX_${prefix}`,
    gatewayId: `gw_${prefix}`,
    webRoot: '/nonexistent',
    heartbeatMs: 60_000,
    ...over,
  });
  const logs = opts.logs;
  const logger = logs ? createLogger('debug', {}, { write: (line: string) => void logs.push(line) }) : false;
  const app = await buildApp({ nc, logger }, config);
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const token = async (userId: string, deviceId: string, o: TokenOpts = {}) => {
    auth.signIn(userId, deviceId); // a token is what a sign-in hands out: auth.check knows the device
    const now = Math.floor(Date.now() / 1000) + (o.iatOffset ?? 0);
    return new SignJWT({ dev: deviceId, usr: `name_${userId}` })
      .setProtectedHeader({ alg: 'EdDSA', kid: o.kid ?? kid })
      .setSubject(userId)
      .setIssuer(o.issuer ?? JWT_ISSUER)
      .setAudience(o.audience ?? JWT_AUDIENCE)
      .setJti(crypto.randomUUID())
      .setIssuedAt(now)
      .setExpirationTime(now + (o.expSeconds ?? 600))
      .sign(o.key ?? privateKey);
  };
  return {
    app,
    nc,
    prefix,
    s,
    url: address,
    wsUrl: `${address.replace('http', 'ws')}/ws`,
    devices,
    seen,
    fake,
    token,
    close: async () => {
      await app.close();
      presence.stop();
      auth.stop();
      const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(nc);
      await jsm.streams.delete(config.streamName).catch(() => undefined);
      await jsm.streams.delete(`${config.streamName}_LINK`).catch(() => undefined);
      await jsm.streams.delete(`${config.streamName}_BACKUP`).catch(() => undefined);
      await nc.drain();
      await nats.stop();
    },
  };
}

/** A raw WebSocket test client that queues server frames and records the close code. */
export class WsProbe {
  readonly ws: WebSocket;
  readonly frames: Record<string, unknown>[] = [];
  private waiters: (() => void)[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  readonly opened: Promise<void>;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
    this.ws.on('message', (d) => {
      this.frames.push(JSON.parse(d.toString()));
      for (const w of this.waiters.splice(0)) w();
    });
    this.closed = new Promise((resolve) => {
      this.ws.on('close', (code, reason) => {
        resolve({ code, reason: reason.toString() });
        for (const w of this.waiters.splice(0)) w();
      });
    });
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** Waits for (and removes) the first frame matching `pred`. */
  async next<T = Record<string, unknown>>(
    pred: (f: Record<string, unknown>) => boolean = () => true,
    timeoutMs = 5_000,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.frames.findIndex(pred);
      if (i >= 0) return this.frames.splice(i, 1)[0] as T;
      if (Date.now() > deadline)
        throw new Error(`no matching frame; have ${JSON.stringify(this.frames).slice(0, 500)}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 100);
      });
    }
  }

  nextType<T = Record<string, unknown>>(type: string, timeoutMs?: number): Promise<T> {
    return this.next<T>((f) => f.type === type, timeoutMs);
  }

  /** Opens, says hello and waits for ready. */
  static async connect(url: string, token: string): Promise<WsProbe> {
    const p = new WsProbe(url);
    await p.opened;
    p.send({ type: 'hello', token });
    await p.nextType('ready');
    return p;
  }

  close(): void {
    this.ws.close();
  }
}

export const b64 = (s: string) => Buffer.from(s).toString('base64');

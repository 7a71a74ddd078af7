import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { subjects } from '@hush/protocol';
import { startNats, testCertificates } from '@hush/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig, parseTrustProxy } from './config.js';
import { ensureStream } from './stream.js';
import { b64, type Harness, harness, WsProbe } from './test-support.js';

// What an operator configures, against the real gateway on a real broker: trusted proxies, TLS
// terminated by the gateway, probe logging, the bounded mailbox stream, the per-device byte quota
// and STREAM_REPLICAS drift (docs/OPERATIONS.md).
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const register = (x: Harness, headers: Record<string, string> = {}) =>
  x.app.inject({
    method: 'POST',
    url: '/v1/register',
    headers,
    payload: { username: 'alice', password: 'correct horse battery', deviceName: 'laptop' },
  });
const lastClientAddr = (x: Harness) =>
  (x.seen.filter((r) => r.subject === 'auth.register').at(-1)?.body as { clientAddr?: string } | undefined)?.clientAddr;

describe('TRUST_PROXY', () => {
  it('reads a hop count or an address list, and refuses "trust everything"', () => {
    expect(parseTrustProxy('')).toBe(false);
    expect(parseTrustProxy('2')).toBe(2);
    expect(parseTrustProxy('10.0.0.0/8, 127.0.0.1')).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(() => parseTrustProxy('true')).toThrow(/forge its address/);
    expect(() => parseTrustProxy('*')).toThrow(/forge its address/);
  });

  it('takes the client address from X-Forwarded-For only when the peer is a trusted proxy', async () => {
    const forwarded = { 'x-forwarded-for': '203.0.113.7' };
    for (const [trustProxy, want] of [
      [false, '127.0.0.1'],
      [1, '203.0.113.7'],
      [['127.0.0.1'], '203.0.113.7'],
      [['10.0.0.1'], '127.0.0.1'],
    ] as const) {
      h = await harness({ trustProxy: trustProxy as false | number | string[] });
      expect((await register(h, forwarded)).statusCode).toBe(201);
      expect(lastClientAddr(h), JSON.stringify(trustProxy)).toBe(want);
      await h.close();
      h = undefined;
    }
  });
});

describe('TLS_CERT / TLS_KEY', () => {
  it('serves HTTPS itself with the given certificate and sends HSTS there', async () => {
    const { caCert, serverCert: cert, serverKey: key } = testCertificates();
    expect(() => loadConfig({ TLS_CERT: cert })).toThrow(/TLS_CERT and TLS_KEY go together/);
    const tls = loadConfig({ TLS_CERT: cert, TLS_KEY: key }).tls!;
    expect(tls.cert).toBe(readFileSync(cert, 'utf8'));
    h = await harness({ tls });
    expect(h.url).toMatch(/^https:/);
    const res = await new Promise<{ status: number; hsts: unknown; body: string }>((resolve, reject) => {
      const req = request(`${h!.url}/healthz`, { ca: readFileSync(caCert) }, (r) => {
        let body = '';
        r.on('data', (d) => {
          body += d;
        });
        r.on('end', () => resolve({ status: r.statusCode!, hsts: r.headers['strict-transport-security'], body }));
      });
      req.on('error', reject);
      req.end();
    });
    expect(res.status).toBe(200);
    expect(res.hsts).toBe('max-age=31536000; includeSubDomains');
    // Plain HTTP (no TLS anywhere) carries no HSTS.
    const plain = await harness();
    expect((await plain.app.inject({ method: 'GET', url: '/healthz' })).headers['strict-transport-security']).toBe(
      undefined,
    );
    await plain.close();
  });
});

describe('probe logging', () => {
  it('logs /healthz and /readyz at debug and other requests at info', async () => {
    const logs: string[] = [];
    h = await harness({}, { logs });
    await h.app.inject({ method: 'GET', url: '/healthz' });
    await h.app.inject({ method: 'GET', url: '/readyz' });
    await register(h);
    const lines = logs.map((l) => JSON.parse(l) as { level: number; req?: { url: string }; msg: string });
    const probeLines = lines.filter((l) => /\/(healthz|readyz)/.test(l.req?.url ?? ''));
    expect(probeLines.length).toBeGreaterThan(0);
    expect(probeLines.every((l) => l.level === 20)).toBe(true);
    expect(lines.some((l) => l.req?.url === '/v1/register' && l.level === 30)).toBe(true);
  });
});

describe('bounded storage', () => {
  it('creates the mailbox stream with max_bytes, a per-device message limit and discard-old', async () => {
    h = await harness({ mailboxMaxBytes: 50 * 1024 * 1024, mailboxMaxPerDevice: 500 });
    const jsm = await jetstreamManager(h.nc);
    const { config } = await jsm.streams.info(`MBOX_${h.prefix}`);
    expect(config).toMatchObject({ max_bytes: 50 * 1024 * 1024, max_msgs_per_subject: 500, discard: 'old' });
  });

  it('charges a device the bytes it sends: a frame past its byte quota is refused with GW_RATE_LIMITED', async () => {
    h = await harness({ sendBytesBurst: 4096, sendBytesRate: 1 });
    h.devices.set('bob0000000001', ['bdev01']);
    const a = await WsProbe.connect(h.wsUrl, await h.token('alice00000001', 'adev01'));
    const to = { user: 'bob0000000001', device: 'bdev01' };
    a.send({ type: 'send', id: 'quota00001', envelopes: [{ to, body: b64('x'.repeat(2000)) }] });
    expect(await a.nextType('accepted')).toMatchObject({ id: 'quota00001' });
    a.send({ type: 'send', id: 'quota00002', envelopes: [{ to, body: b64('x'.repeat(2000)) }] });
    expect(await a.nextType('error')).toMatchObject({ code: 'GW_RATE_LIMITED', retryAfter: expect.any(Number) });
    a.close();
  });
});

describe('STREAM_REPLICAS drift', () => {
  it('brings an existing stream to STREAM_REPLICAS and the other bounds, and says so in the log', async () => {
    const nats = await startNats({ jetstream: true, isolated: true });
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const base = { name: 'DRIFT', subjects: subjects('drift'), maxAgeMs: 10 * 60_000 };
      await ensureStream(jsm, { ...base, replicas: 1 });
      const warned: { o: object; msg: string }[] = [];
      const log = { warn: (o: object, msg: string) => void warned.push({ o, msg }), error: () => {} };
      await ensureStream(jsm, { ...base, replicas: 3, maxBytes: 1 << 20, log });
      expect(warned).toEqual([{ o: { stream: 'DRIFT', has: 1, want: 3 }, msg: 'stream replicas differ: updating' }]);
      // A single server takes the new count; in a cluster a refusal is logged as an error instead.
      expect((await jsm.streams.info('DRIFT')).config).toMatchObject({ num_replicas: 3, max_bytes: 1 << 20 });
    } finally {
      await nc.close();
      await nats.stop();
    }
  });
});

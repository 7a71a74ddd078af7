import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { http, keysFor, register, type SecurityStack, securityStack, webRootWithSourceMap } from './stack.js';

// The gateway's HTTP edge against the real auth/keydir/presence: strict schemas, one error
// envelope, CSP and Origin, revocation on HTTP, slow bodies, source maps.
const REQUEST_TIMEOUT_MS = 1_000;
let st: SecurityStack;
beforeAll(async () => {
  st = await securityStack('sechttp', {
    gateway: {
      webRoot: webRootWithSourceMap(),
      corsOrigins: ['https://app.example'],
      httpRequestTimeoutMs: REQUEST_TIMEOUT_MS,
    },
  });
});
afterAll(async () => {
  await st?.stop();
});

const errCode = (r: { body: unknown }) => (r.body as { error?: { code?: string } }).error?.code;

describe('strict HTTP validation', () => {
  it('refuses a number where the schema says string instead of coercing it', async () => {
    const r = await http(st.gw, 'POST', '/v1/register', {
      body: { username: 123456, password: 'correct horse battery', deviceName: 'x' },
    });
    expect(r.status).toBe(400);
    expect(errCode(r)).toBe('VALIDATION_FAILED');
  });

  it('refuses a string where the schema says integer, and stores nothing', async () => {
    const u = await register(st.gw, 'strict', { keys: false });
    const keys = keysFor(u.session.deviceId, 1) as unknown as { oneTimePrekeys: { keyId: unknown }[] };
    keys.oneTimePrekeys[0]!.keyId = '77';
    const r = await http(st.gw, 'PUT', '/v1/keys', { token: u.session.accessToken, body: keys });
    expect(r.status).toBe(400);
    expect(errCode(r)).toBe('VALIDATION_FAILED');
    const stored = await http(st.gw, 'GET', `/v1/keys/${u.session.userId}`, { token: u.session.accessToken });
    expect(errCode(stored)).toBe('KEYS_NOT_FOUND');
  });

  it('answers a malformed URL escape with the error envelope, the request id and the security headers', async () => {
    const r = await http(st.gw, 'GET', '/v1/users/%E0%A4%A');
    expect(r.status).toBe(400);
    expect(r.body).toEqual({ error: { code: 'VALIDATION_FAILED', message: expect.any(String) } });
    expect(r.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(r.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('answers a wrong content type and a body that is not JSON with the error envelope', async () => {
    const wrongType = await http(st.gw, 'POST', '/v1/login', {
      raw: 'username=a',
      headers: { 'content-type': 'text/plain' },
    });
    expect(wrongType.status).toBeGreaterThanOrEqual(400);
    expect(wrongType.status).toBeLessThan(500);
    expect(errCode(wrongType)).toBe('VALIDATION_FAILED');
    const badJson = await http(st.gw, 'POST', '/v1/login', { raw: '{"username":' });
    expect(badJson.status).toBe(400);
    expect(errCode(badJson)).toBe('VALIDATION_FAILED');
  });
});

describe('origins', () => {
  it('lets script on the page connect to its own origin only (CSP connect-src)', async () => {
    const r = await fetch(`${st.gw.url}/`);
    const csp = r.headers.get('content-security-policy') ?? '';
    expect(csp).toMatch(/connect-src 'self'(;|$)/);
    expect(csp).not.toMatch(/connect-src[^;]*\bwss?:/);
  });

  const upgrade = (origin?: string) =>
    new Promise<number>((resolve) => {
      const ws = new WebSocket(st.gw.wsUrl, origin ? { origin } : {});
      ws.once('open', () => {
        ws.close();
        resolve(101);
      });
      ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.once('error', () => resolve(-1));
    });

  it('refuses WebSocket upgrades from a foreign Origin and accepts its own, configured and absent ones', async () => {
    expect(await upgrade('https://evil.example')).toBe(403);
    expect(await upgrade('null')).toBe(403);
    expect(await upgrade(st.gw.url)).toBe(101);
    expect(await upgrade('https://app.example')).toBe(101);
    expect(await upgrade()).toBe(101); // not a browser: no cross-site request to forge
  });
});

describe('revocation on HTTP', () => {
  it('refuses a signed-out device on a gateway that never saw the revocation event', async () => {
    const u = await register(st.gw, 'revoked', { keys: false });
    const out = await http(st.gw, 'POST', '/v1/logout', { token: u.session.accessToken });
    expect(out.status).toBe(204);
    const late = await st.addGateway();
    const r = await http(late, 'GET', '/v1/keys/count', { token: u.session.accessToken });
    expect(r.status).toBe(401);
    expect(errCode(r)).toBe('AUTH_DEVICE_REVOKED');
  });
});

describe('slow requests', () => {
  it('ends a request whose body trickles in slower than the request timeout', async () => {
    const { port } = new URL(st.gw.url);
    const answer = await new Promise<string>((resolve) => {
      const sock = connect(Number(port), '127.0.0.1');
      let got = '';
      const trickle = setInterval(() => sock.write('a'), 200);
      const giveUp = setTimeout(() => finish('(no answer)'), REQUEST_TIMEOUT_MS * 8);
      const finish = (s: string) => {
        clearInterval(trickle);
        clearTimeout(giveUp);
        sock.destroy();
        resolve(s);
      };
      sock.on('data', (d) => {
        got += d.toString();
      });
      sock.on('close', () => finish(got || '(closed)'));
      sock.write(
        'POST /v1/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000\r\n\r\n',
      );
    });
    expect(answer).toMatch(/^HTTP\/1\.1 408|^\(closed\)$/);
  });
});

describe('source maps', () => {
  it('serves the web client but not its source maps', async () => {
    expect((await fetch(`${st.gw.url}/app.js`)).status).toBe(200);
    const map = await http(st.gw, 'GET', '/app.js.map');
    expect(map.status).toBe(404);
    expect(JSON.stringify(map.body)).not.toContain('secret-source');
  });
});

import { generateKeyPair } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness } from '../test-support.js';

let h: Harness;
const alice = { user: 'alice00000001', device: 'adev01' };

beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h?.close();
});

const bearer = async (o?: Parameters<Harness['token']>[2]) => ({
  authorization: `Bearer ${await h.token(alice.user, alice.device, o)}`,
});

describe('health and readiness', () => {
  it('answers /healthz while the process lives', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/healthz' });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ status: 'ok' });
  });

  it('is ready on its own NATS and JetStream; ?full=1 also asks the services and names the one that does not answer', async () => {
    expect((await h.app.inject({ method: 'GET', url: '/readyz' })).json()).toMatchObject({
      ready: true,
      checks: { nats: 'ok', jetstream: 'ok' },
    });
    h.fake.presence = false;
    try {
      // A service being down does not take the gateway out of the load balancer.
      expect((await h.app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(200);
      const r = await h.app.inject({ method: 'GET', url: '/readyz?full=1' });
      expect(r.statusCode).toBe(503);
      expect(r.json()).toMatchObject({ ready: false, checks: { auth: 'ok', keydir: 'ok', presence: 'no answer' } });
    } finally {
      h.fake.presence = true;
    }
  });
});

describe('the HTTP API', () => {
  it('forwards register with the client address and drops fields the schema does not declare', async () => {
    const r = await h.app.inject({
      method: 'POST',
      url: '/v1/register',
      payload: { username: 'alice', password: 'correct horse battery', deviceName: 'laptop' },
    });
    expect(r.statusCode).toBe(201);
    expect(r.json()).not.toHaveProperty('passwordHash');
    expect(r.json()).toMatchObject({ userId: expect.stringMatching(/^[a-z0-9]{20}$/), username: 'alice' });
    const req = h.seen.find((x) => x.subject === 'auth.register')?.body as Record<string, unknown>;
    expect(req).toMatchObject({ username: 'alice', deviceName: 'laptop', clientAddr: '127.0.0.1' });
    expect(r.headers['x-request-id']).toBeTruthy();
  });

  it('answers schema failures with VALIDATION_FAILED', async () => {
    const r = await h.app.inject({ method: 'POST', url: '/v1/login', payload: { username: 'alice', extra: 1 } });
    expect(r.statusCode).toBe(400);
    expect(r.json().error.code).toBe('VALIDATION_FAILED');
    const bad = await h.app.inject({
      method: 'POST',
      url: '/v1/login',
      headers: { 'content-type': 'application/json' },
      payload: '{nope',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('VALIDATION_FAILED');
  });

  it('requires a bearer token on protected routes', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/v1/keys/count' });
    expect(r.statusCode).toBe(401);
    expect(r.json().error.code).toBe('AUTH_TOKEN_MISSING');
  });

  it('refuses expired, forged, alg-none, wrong-audience and wrong-key tokens', async () => {
    const other = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: alice.user, dev: alice.device, iss: 'hush-auth', aud: 'hush', iat: 1, exp: 9e9, jti: 'j' }),
    ).toString('base64url')}.`;
    const good = await h.token(alice.user, alice.device);
    const [head, body] = good.split('.');
    const tampered = `${head}.${Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(body!, 'base64url').toString()), sub: 'mallory000001' }),
    ).toString('base64url')}.${good.split('.')[2]}`;
    const cases: [Record<string, string>, string][] = [
      [await bearer({ iatOffset: -1000 }), 'AUTH_TOKEN_EXPIRED'],
      [{ authorization: `Bearer ${tampered}` }, 'AUTH_TOKEN_INVALID'],
      [{ authorization: `Bearer ${none}` }, 'AUTH_TOKEN_INVALID'],
      [await bearer({ audience: 'other' }), 'AUTH_TOKEN_INVALID'],
      [await bearer({ key: other.privateKey }), 'AUTH_TOKEN_INVALID'],
      [await bearer({ expSeconds: 3600 }), 'AUTH_TOKEN_INVALID'],
    ];
    for (const [headers, code] of cases) {
      const r = await h.app.inject({ method: 'GET', url: '/v1/keys/count', headers });
      expect(r.statusCode, code).toBe(401);
      expect(r.json().error.code).toBe(code);
    }
  });

  it('answers UPSTREAM_UNAVAILABLE when a service does not answer', async () => {
    h.fake.keydir = false;
    try {
      const r = await h.app.inject({ method: 'GET', url: '/v1/keys/count', headers: await bearer() });
      expect(r.statusCode).toBe(503);
      expect(r.json().error.code).toBe('UPSTREAM_UNAVAILABLE');
    } finally {
      h.fake.keydir = true;
    }
  });

  it('passes the verified caller, never a client-supplied one, to the services', async () => {
    let got: unknown;
    h.nc.subscribe(h.s.keydir.count, {
      max: 1,
      callback: (_e, m) => {
        got = JSON.parse(new TextDecoder().decode(m.data));
        m.respond(new TextEncoder().encode(JSON.stringify({ ok: true, result: { remaining: 7 } })));
      },
    });
    const c = await h.app.inject({
      method: 'GET',
      url: '/v1/keys/count?caller=mallory',
      headers: { ...(await bearer()), 'x-caller': 'mallory000001' },
    });
    expect(c.json()).toEqual({ remaining: 7 });
    expect(got).toEqual({ caller: { userId: alice.user, deviceId: alice.device } });
  });

  it('validates the presence query', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/v1/presence?users=NOT_AN_ID', headers: await bearer() });
    expect(r.statusCode).toBe(400);
    const ok = await h.app.inject({ method: 'GET', url: `/v1/presence?users=${alice.user}`, headers: await bearer() });
    // Alice sees herself; she has no socket open, so she is offline and was never seen.
    expect(ok.json()).toEqual({ users: [{ userId: alice.user, online: false, lastSeen: null }] });
  });

  it('serves only public JWK fields', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/.well-known/jwks.json' });
    expect(r.statusCode).toBe(200);
    const key = r.json().keys[0];
    expect(key).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' });
    expect(key).not.toHaveProperty('d');
  });

  it('publishes an OpenAPI document generated from the route schemas', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/docs/json' });
    const doc = r.json();
    expect(doc.openapi).toMatch(/^3\./);
    for (const p of ['/v1/register', '/v1/login', '/v1/refresh', '/v1/logout', '/v1/keys', '/v1/keys/{userId}']) {
      expect(doc.paths).toHaveProperty([p]);
    }
  });

  it('sends a strict Content-Security-Policy and refuses cross-origin requests by default', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/', headers: { origin: 'https://evil.example' } });
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-security-policy']).toContain("script-src 'self'");
    expect(r.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(r.headers['content-security-policy']).toContain("media-src 'self' blob:");
    expect(r.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('allows a service worker and a web app manifest from its own origin only', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/' });
    const csp = String(r.headers['content-security-policy']);
    expect(csp).toContain("worker-src 'self'");
    expect(csp).toContain("manifest-src 'self'");
    expect(csp).not.toMatch(/worker-src[^;]*(blob:|data:|\*)/);
  });

  it('answers unknown routes with NOT_FOUND', async () => {
    const r = await h.app.inject({ method: 'GET', url: '/v1/nothing' });
    expect(r.statusCode).toBe(404);
    expect(r.json().error.code).toBe('NOT_FOUND');
  });
});

import { randomBytes } from 'node:crypto';
import { type JwksResult, subjects } from '@hush/protocol';
import { type TestEnv, testEnv } from '@hush/service-kit/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { type AuthHandle, redisKeys, startAuth } from './service.js';

// The token-signing key at rest: with SIGNING_KEY_SECRET_FILE set, Redis holds it sealed
// (AES-256-GCM under a key derived from the secret), never as a private JWK.
let env: TestEnv;
const secret = randomBytes(32).toString('base64');
const handles: AuthHandle[] = [];
const start = (signingKeySecret: string) =>
  startAuth(
    { nc: env.nc, redis: env.redis, log: pino({ level: 'silent' }) },
    {
      ...loadConfig({}),
      subjectPrefix: env.prefix,
      redisPrefix: env.redisPrefix,
      argon2MemoryKib: 1024,
      argon2Iterations: 1,
      signingKeySecret,
    },
  ).then((h) => {
    handles.push(h);
    return h;
  });

beforeAll(async () => {
  env = await testEnv('authkey');
});
afterAll(async () => {
  for (const h of handles) await h.stop();
  await env?.cleanup();
});

describe('signing keys at rest', () => {
  it('stores the key sealed under SIGNING_KEY_SECRET_FILE, serves only public keys, and keeps the old one after rotation', async () => {
    const auth = await start(secret);
    const raw = (await env.redis.get(redisKeys(env.redisPrefix).signing))!;
    const stored = JSON.parse(raw) as Record<string, unknown>;
    expect(Object.keys(stored).sort()).toEqual(['box', 'sealed']);
    expect(raw).not.toMatch(/privateJwk|"d":/);
    const jwks = async () => {
      const r = await env.call<JwksResult>(subjects(env.prefix).auth.jwks, {});
      if (!r.ok) throw new Error(r.error.code);
      return r.result.keys as { kid: string; d?: string }[];
    };
    const before = await jwks();
    expect(before).toHaveLength(1);
    expect(before[0]!.d).toBeUndefined();
    const kid = await auth.rotateSigningKey();
    const after = (await jwks()).map((k) => k.kid);
    expect(after).toEqual([kid, before[0]!.kid]);
    expect((await env.redis.get(redisKeys(env.redisPrefix).signing))!).not.toMatch(/privateJwk|"d":/);
  });

  it('refuses to start with a secret that does not open the stored keys', async () => {
    await expect(start(randomBytes(32).toString('base64'))).rejects.toThrow(/do not open with SIGNING_KEY_SECRET_FILE/);
  });
});

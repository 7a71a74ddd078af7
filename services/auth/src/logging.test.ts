import { Writable } from 'node:stream';
import { type Session, subjects } from '@hush/protocol';
import { type TestEnv, testEnv } from '@hush/service-kit/testing';
import { pino } from 'pino';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { type AuthHandle, redisKeys, startAuth } from './service.js';

let env: TestEnv;
let auth: AuthHandle;
const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(String(chunk));
    done();
  },
});

beforeAll(async () => {
  env = await testEnv('authlog');
  const cfg = {
    ...loadConfig({}),
    subjectPrefix: env.prefix,
    redisPrefix: env.redisPrefix,
    argon2MemoryKib: 1024,
    argon2Iterations: 1,
  };
  auth = await startAuth({ nc: env.nc, redis: env.redis, log: pino({ level: 'trace' }, sink) }, cfg);
});

afterAll(async () => {
  await auth?.stop();
  await env?.cleanup();
});

it('never writes a password, a token or the signing key to its logs, even at trace level', async () => {
  const s = subjects(env.prefix);
  const password = 'CANARY-password-4f1c2a';
  const username = `logger_${Date.now().toString(36)}`;
  const r1 = await env.call<Session>(s.auth.register, { username, password, deviceName: 'x', clientAddr: '10.1.1.1' });
  if (!r1.ok) throw new Error(r1.error.message);
  const r2 = await env.call<Session>(s.auth.refresh, { refreshToken: r1.result.refreshToken, clientAddr: '10.1.1.1' });
  if (!r2.ok) throw new Error(r2.error.message);
  await env.call(s.auth.refresh, { refreshToken: r1.result.refreshToken, clientAddr: '10.1.1.1' }); // reuse
  await env.call(s.auth.login, { username, password: `${password}-wrong`, deviceName: 'x', clientAddr: '10.1.1.1' });
  await env.call(s.auth.login, 'not json');
  const signing = JSON.parse((await env.redis.get(redisKeys(env.redisPrefix).signing)) ?? '{}') as {
    current: { privateJwk: { d: string } };
  };
  const log = lines.join('');
  expect(log).toContain('registered'); // the sink really captured the service's logs
  for (const secret of [
    password,
    r1.result.accessToken,
    r1.result.refreshToken,
    r2.result.accessToken,
    r2.result.refreshToken,
    signing.current.privateJwk.d,
  ]) {
    expect(log).not.toContain(secret);
  }
});

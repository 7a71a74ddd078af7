import { describe, expect, it } from 'vitest';
import { loadConfig, MAX_ACCESS_TTL_MS } from './config.js';

describe('auth config', () => {
  it('has safe local defaults with the OWASP minimum Argon2id cost', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      natsUrl: 'nats://127.0.0.1:4222',
      redisUrl: 'redis://127.0.0.1:6379',
      subjectPrefix: '',
      redisPrefix: 'hush:',
      argon2MemoryKib: 19_456,
      argon2Iterations: 2,
      argon2Parallelism: 1,
      accessTtlMs: MAX_ACCESS_TTL_MS,
    });
  });

  it('never lets an access token live longer than 15 minutes', () => {
    expect(loadConfig({ ACCESS_TTL_MS: String(60 * 60_000) }).accessTtlMs).toBe(15 * 60_000);
    expect(loadConfig({ ACCESS_TTL_MS: '60000' }).accessTtlMs).toBe(60_000);
  });

  it('refuses a setting that is not a whole number in range', () => {
    expect(() => loadConfig({ ARGON2_ITERATIONS: 'two' })).toThrow(/ARGON2_ITERATIONS/);
    expect(() => loadConfig({ ARGON2_MEMORY_KIB: '4' })).toThrow(/ARGON2_MEMORY_KIB/);
  });
});

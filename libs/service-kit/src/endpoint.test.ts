import { decodeJson, HushError, type ServiceReply } from '@hush/protocol';
import { Type as T } from '@sinclair/typebox';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addJsonEndpoint, svcm } from './endpoint.js';
import { type TestEnv, testEnv } from './testing.js';

interface EndpointStatsReply {
  endpoints: { name: string; num_requests: number; num_errors: number; processing_time: number; last_error: string }[];
}

let env: TestEnv;
let name: string;
const log = pino({ level: 'silent' });

beforeAll(async () => {
  env = await testEnv('skit');
  name = `stats_${env.prefix.replace(/[^A-Za-z0-9]/g, '')}`;
  const svc = await svcm(env.nc).add({ name, version: '0.0.1' });
  const subject = (s: string) => `${env.prefix}.${s}`;
  addJsonEndpoint(svc, log, {
    name: 'slow',
    subject: subject('slow'),
    schema: T.Object({}),
    handler: () => new Promise((r) => setTimeout(() => r({ done: true }), 30)),
  });
  addJsonEndpoint(svc, log, {
    name: 'broken',
    subject: subject('broken'),
    schema: T.Object({}),
    handler: async () => {
      throw new Error('database exploded with a secret value');
    },
  });
  addJsonEndpoint(svc, log, {
    name: 'picky',
    subject: subject('picky'),
    schema: T.Object({ n: T.Integer() }),
    handler: async ({ n }) => {
      if (n < 0) throw new HushError('UPSTREAM_UNAVAILABLE');
      return { n };
    },
  });
});
afterAll(async () => {
  await env?.cleanup();
});

async function stats() {
  const m = await env.nc.request(`$SRV.STATS.${name}`, undefined, { timeout: 5_000 });
  const r = decodeJson<EndpointStatsReply>(m.data);
  return Object.fromEntries(r.endpoints.map((e) => [e.name, e]));
}

describe('addJsonEndpoint and $SRV.STATS', () => {
  it('counts a handler that throws as an error, without its message', async () => {
    const r = await env.call<unknown>(`${env.prefix}.broken`, {});
    expect(r).toMatchObject({ ok: false, error: { code: 'INTERNAL' } });
    const s = (await stats()).broken!;
    expect(s.num_requests).toBe(1);
    expect(s.num_errors).toBe(1);
    expect(s.last_error).toBe('INTERNAL');
  });

  it('times a request until its async handler finished', async () => {
    const r = await env.call<{ done: boolean }>(`${env.prefix}.slow`, {});
    expect(r).toMatchObject({ ok: true, result: { done: true } });
    const s = (await stats()).slow!;
    expect(s.num_requests).toBe(1);
    expect(s.num_errors).toBe(0);
    expect(s.processing_time).toBeGreaterThanOrEqual(29 * 1_000_000); // nanoseconds
  });

  it('counts service-side failures (5xx codes) but not refusals of bad input', async () => {
    const replies: ServiceReply<unknown>[] = [
      await env.call(`${env.prefix}.picky`, { n: 'not a number' }),
      await env.call(`${env.prefix}.picky`, { n: 1 }),
      await env.call(`${env.prefix}.picky`, { n: -1 }),
    ];
    expect(replies.map((r) => (r.ok ? 'ok' : r.error.code))).toEqual([
      'VALIDATION_FAILED',
      'ok',
      'UPSTREAM_UNAVAILABLE',
    ]);
    const s = (await stats()).picky!;
    expect(s.num_requests).toBe(3);
    expect(s.num_errors).toBe(1);
    expect(s.last_error).toBe('UPSTREAM_UNAVAILABLE');
  });
});

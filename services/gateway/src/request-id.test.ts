import { HushError } from '@hush/protocol';
import { addJsonEndpoint, REQUEST_ID_HEADER, svcm } from '@hush/service-kit';
import { Type as T } from '@sinclair/typebox';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, harness } from './test-support.js';

// One request id follows an HTTP request from the gateway's log, over the NATS request's headers,
// into the log lines of the service that answers it (libs/service-kit/src/endpoint.ts).
let h: Harness;
beforeAll(async () => {
  h = await harness();
});
afterAll(async () => {
  await h?.close();
});

describe('request ids over NATS', () => {
  it('sends the HTTP request id as a NATS header, and the answering endpoint logs under it', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'debug' }, { write: (l: string) => void lines.push(l) });
    // A second responder on the register subject, as a real auth would be: it refuses the request.
    h.fake.auth = false;
    const svc = await svcm(h.nc).add({ name: `rid_${h.prefix.replace(/[^A-Za-z0-9]/g, '')}`, version: '0.0.1' });
    const heard: (string | undefined)[] = [];
    addJsonEndpoint(svc, log, {
      name: 'register',
      subject: h.s.auth.register,
      schema: T.Object({}, { additionalProperties: true }),
      handler: async () => {
        throw new HushError('AUTH_USERNAME_TAKEN');
      },
    });
    const spy = h.nc.subscribe(h.s.auth.register, {
      callback: (_e, m) => void heard.push(m.headers?.get(REQUEST_ID_HEADER)),
    });
    await h.nc.flush();

    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/register',
      headers: { 'x-request-id': 'rid-test-0001' },
      payload: { username: 'alice', password: 'correct horse battery', deviceName: 'laptop' },
    });
    expect(res.statusCode).toBe(409);
    expect(res.headers['x-request-id']).toBe('rid-test-0001');
    await h.nc.flush();
    expect(heard).toEqual(['rid-test-0001']);
    const refused = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'request refused');
    expect(refused).toMatchObject({ reqId: 'rid-test-0001', endpoint: 'register', code: 'AUTH_USERNAME_TAKEN' });
    spy.unsubscribe();
    await svc.stop();
  });
});

import { CloseCodes, decodeJson, encodeJson, type ServiceReply, type Session } from '@hush/protocol';
import { natsOptions, type ServiceProcess, type Stack, spawnService } from '@hush/testkit';
import { connect } from '@nats-io/transport-node';
import { generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { backbone, type Device, newUser, sleep, uname } from './support.js';

// Tokens against the real auth service. Access tokens live 3 s here (ACCESS_TTL_MS) so that an
// expired token can be shown without waiting 15 minutes.
const TTL_MS = 3_000;
let stack: Stack;
let gw: string;
let otherAudienceAuth: ServiceProcess;
let dev: Device;

beforeAll(async () => {
  stack = await backbone(1, { ACCESS_TTL_MS: String(TTL_MS) }, ['otheraud']);
  gw = stack.gatewayUrls[0]!;
  dev = await newUser(gw, 'tok');
  // A second auth sharing the signing key (same Redis) but issuing for another audience, on its
  // own subjects so that the gateway never talks to it.
  otherAudienceAuth = spawnService('auth', {
    env: { ...stack.env, SUBJECT_PREFIX: 'otheraud', JWT_AUDIENCE: 'not-hush' },
  });
}, 180_000);
afterAll(async () => {
  await otherAudienceAuth?.kill();
  await stack?.stop();
});

async function httpCode(token: string): Promise<[number, string]> {
  const r = await fetch(`${gw}/v1/keys/count`, { headers: { authorization: `Bearer ${token}` } });
  return [r.status, ((await r.json()) as { error?: { code: string } }).error?.code ?? 'ok'];
}

async function wsClose(token: string): Promise<number> {
  const ws = new WebSocket(`${gw.replace('http', 'ws')}/ws`);
  await new Promise((r) => ws.once('open', r));
  ws.send(JSON.stringify({ type: 'hello', token }));
  return new Promise((r) => ws.once('close', (c) => r(c)));
}

const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('access tokens at the gateway', () => {
  it('accepts a fresh token from auth', async () => {
    const fresh = await dev.client.refresh();
    expect(await httpCode(fresh.accessToken)).toEqual([200, 'ok']);
  });

  it('refuses a token whose claims were altered after signing', async () => {
    const t = (await dev.client.refresh()).accessToken;
    const [h, p, s] = t.split('.') as [string, string, string];
    const forged = `${h}.${part({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'someoneelse0001' })}.${s}`;
    expect(await httpCode(forged)).toEqual([401, 'AUTH_TOKEN_INVALID']);
    expect(await wsClose(forged)).toBe(4401);
  });

  it('refuses alg none', async () => {
    const t = (await dev.client.refresh()).accessToken;
    const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
    const none = `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
    expect(await httpCode(none)).toEqual([401, 'AUTH_TOKEN_INVALID']);
    expect(await wsClose(none)).toBe(4401);
  });

  it('refuses a token signed by another key, even one that claims auth\u2019s kid', async () => {
    const t = (await dev.client.refresh()).accessToken;
    const header = JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString());
    const claims = JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString());
    const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const wrongKey = await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid: header.kid }).sign(privateKey);
    expect(await httpCode(wrongKey)).toEqual([401, 'AUTH_TOKEN_INVALID']);
    expect(await wsClose(wrongKey)).toBe(4401);
  });

  it('refuses a token auth signed for another audience', async () => {
    const nc = await connect(natsOptions(stack.nats, 'gateway'));
    try {
      let reply: ServiceReply<Session> | undefined;
      for (let i = 0; i < 50 && !reply; i++) {
        try {
          const m = await nc.request(
            'otheraud.auth.register',
            encodeJson({
              username: uname('aud'),
              password: 'correct horse battery staple',
              deviceName: 'x',
              clientAddr: '10.9.8.7',
            }),
            { timeout: 3_000 },
          );
          reply = decodeJson<ServiceReply<Session>>(m.data);
        } catch {
          await sleep(200); // that auth copy is still starting
        }
      }
      expect(reply?.ok).toBe(true);
      const token = reply?.ok ? reply.result.accessToken : '';
      expect(JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).aud).toBe('not-hush');
      expect(await httpCode(token)).toEqual([401, 'AUTH_TOKEN_INVALID']);
      expect(await wsClose(token)).toBe(4401);
    } finally {
      await nc.close();
    }
  });

  it('answers an expired token with AUTH_TOKEN_EXPIRED (HTTP 401, WebSocket 4100), and the client refreshes by itself', async () => {
    const old = (await dev.client.refresh()).accessToken;
    await sleep(TTL_MS + 1_200);
    expect(await httpCode(old)).toEqual([401, 'AUTH_TOKEN_EXPIRED']);
    expect(await wsClose(old)).toBe(CloseCodes.TOKEN_EXPIRED);
    expect((await dev.client.prekeyCount()).remaining).toBeGreaterThanOrEqual(0);
    expect(dev.client.session!.accessToken).not.toBe(old);
  });
});

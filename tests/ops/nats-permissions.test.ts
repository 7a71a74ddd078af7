import { decodeJson, encodeJson, subjects } from '@hush/protocol';
import { natsOptions, type Stack, startStack } from '@hush/testkit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The internal bus as deployed: a stack from the testkit runs nats-server with one nkey user per
// role and subject permissions (libs/service-kit/src/nats-auth.ts), Redis with an ACL.
let stack: Stack;
const s = subjects('');
const open: NatsConnection[] = [];

async function as(role: Parameters<typeof natsOptions>[1]): Promise<NatsConnection> {
  const nc = await connect({ ...natsOptions(stack.nats, role), name: `perm-test-${role}` });
  open.push(nc);
  return nc;
}

/** The next async error the server reports on this connection (permission violations). */
function nextError(nc: NatsConnection, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no error reported')), timeoutMs);
    void (async () => {
      for await (const st of nc.status()) {
        if (st.type === 'error') {
          clearTimeout(t);
          resolve(String((st as { error?: unknown }).error));
          return;
        }
      }
    })();
  });
}

beforeAll(async () => {
  stack = await startStack({ gateways: 1 });
}, 120_000);

afterAll(async () => {
  for (const nc of open) await nc.close().catch(() => undefined);
  await stack?.stop();
});

describe('the NATS bus of a stack', () => {
  it('refuses an anonymous client', async () => {
    await expect(connect({ servers: stack.nats.url, reconnect: false })).rejects.toThrow(/authorization/i);
  });

  it('refuses a client with a key it does not know', async () => {
    const { createUser } = await import('@nats-io/nkeys');
    const { nkeyAuthenticator } = await import('@nats-io/transport-node');
    const stranger = createUser().getSeed();
    await expect(
      connect({ servers: stack.nats.url, reconnect: false, authenticator: nkeyAuthenticator(stranger) }),
    ).rejects.toThrow(/authorization/i);
  });

  it('lets a service publish inside its permissions but not outside them', async () => {
    const presence = await as('presence');
    const err = nextError(presence);
    // presence may announce presence changes, but not revoke a device or send a user request.
    presence.publish(s.events.presenceChanged('u1'), encodeJson({ userId: 'u1', online: true, lastSeen: null }));
    presence.publish(s.events.deviceRevoked, encodeJson({ userId: 'u1', deviceId: 'd1', reason: 'logout' }));
    expect(await err).toMatch(/permissions violation for publish to "events\.device\.revoked"/i);
    const err2 = nextError(presence);
    presence.publish(s.keydir.publish, encodeJson({}));
    expect(await err2).toMatch(/permissions violation for publish to "keydir\.publish"/i);
  });

  it('lets only the gateway send user requests to auth', async () => {
    const keydir = await as('keydir');
    await expect(keydir.request(s.auth.lookup, encodeJson({ username: 'x' }), { timeout: 2000 })).rejects.toThrow();
    const gateway = await as('gateway');
    const r = decodeJson<{ ok: boolean }>(
      (await gateway.request(s.auth.jwks, new Uint8Array(), { timeout: 5000 })).data,
    );
    expect(r.ok).toBe(true);
  });

  it('cannot inject a forged auth.jwks reply: only auth may subscribe to auth subjects or answer the gateway', async () => {
    for (const role of ['keydir', 'presence', 'admin'] as const) {
      const nc = await as(role);
      const err = nextError(nc);
      // A forger would have to hear the request (subscribe to auth.jwks) ...
      nc.subscribe(s.auth.jwks, { callback: () => undefined });
      expect(await err).toMatch(/permissions violation for subscription to "auth\.jwks"/i);
      // ... or write into the gateway's inbox directly.
      const err2 = nextError(nc);
      nc.publish('_INBOX_gateway.forged.1', encodeJson({ ok: true, result: { keys: [] } }));
      expect(await err2).toMatch(/permissions violation for publish to "_INBOX_gateway/i);
      // Nor can it read another role's inbox to learn reply subjects.
      const err3 = nextError(nc);
      nc.subscribe('_INBOX_gateway.>', { callback: () => undefined });
      expect(await err3).toMatch(/permissions violation for subscription to "_INBOX_gateway/i);
    }
    // The gateway still gets exactly auth's key set.
    const gateway = await as('gateway');
    const reply = decodeJson<{ ok: true; result: { keys: Array<{ kid: string; kty: string }> } }>(
      (await gateway.request(s.auth.jwks, new Uint8Array(), { timeout: 5000 })).data,
    );
    expect(reply.result.keys.length).toBeGreaterThan(0);
    expect(reply.result.keys.every((k) => k.kty === 'OKP')).toBe(true);
    const viaHttp = (await (await fetch(`${stack.gatewayUrls[0]}/.well-known/jwks.json`)).json()) as {
      keys: Array<{ kid: string }>;
    };
    expect(viaHttp.keys.map((k) => k.kid)).toEqual(reply.result.keys.map((k) => k.kid));
  });

  it('lets only the admin role send admin commands', async () => {
    const gateway = await as('gateway');
    const err = nextError(gateway);
    gateway.publish(`${s.prefix}admin.auth.users`, encodeJson({}));
    expect(await err).toMatch(/permissions violation for publish to "admin\.auth\.users"/i);
  });
});

describe('the Redis of a stack', () => {
  it('refuses a client without the password and serves the hush user', async () => {
    const u = new URL(stack.redis.url);
    const anon = new Redis({ host: u.hostname, port: Number(u.port), lazyConnect: true, maxRetriesPerRequest: 0 });
    anon.on('error', () => undefined);
    await anon.connect().catch(() => undefined);
    await expect(anon.get('x')).rejects.toThrow(/NOAUTH|NOPERM|auth/i);
    anon.disconnect();
    const hush = new Redis(stack.redis.url);
    expect(await hush.ping()).toBe('PONG');
    await expect(hush.flushall()).rejects.toThrow(/NOPERM/);
    await hush.quit();
  });
});

import type { Session, UserBundle } from '@hush/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, PASSWORD, register, type SecurityStack, securityStack } from './stack.js';

// Login, device, prekey-claim and lookup limits of the real auth and keydir, through the gateway.
// The gateway trusts X-Forwarded-For here, so one test can speak from many client addresses.
const LIMITS = {
  loginFailuresPerUserAddr: 10,
  loginFailuresPerUser: 20,
  maxDevicesPerAccount: 4,
  lookupsPerUser: 15,
  bundleFetchesPerWindow: 5,
  bundleFetchesPerTarget: 5,
  prekeyClaimsPerTarget: 8,
};
let st: SecurityStack;
beforeAll(async () => {
  st = await securityStack('secacct', {
    auth: {
      loginFailuresPerUserAddr: LIMITS.loginFailuresPerUserAddr,
      loginFailuresPerUser: LIMITS.loginFailuresPerUser,
      maxDevicesPerAccount: LIMITS.maxDevicesPerAccount,
      lookupsPerUser: LIMITS.lookupsPerUser,
      registrationsPerAddr: 1000,
    },
    keydir: {
      bundleFetchesPerWindow: LIMITS.bundleFetchesPerWindow,
      bundleFetchesPerTarget: LIMITS.bundleFetchesPerTarget,
      prekeyClaimsPerTarget: LIMITS.prekeyClaimsPerTarget,
    },
    gateway: { trustProxy: 1 },
  });
});
afterAll(async () => {
  await st?.stop();
});

const login = (username: string, password: string, from: string) =>
  http<Session & { error?: { code: string } }>(st.gw, 'POST', '/v1/login', {
    body: { username, password, deviceName: 'guess' },
    headers: { 'x-forwarded-for': from },
  });
const codeOf = (r: { status: number; body: { error?: { code: string } } }) => r.body.error?.code ?? r.status;

describe('password guessing', () => {
  it('checks at most the per-user limit of 30 concurrent wrong passwords against the hash', async () => {
    const victim = await register(st.gw, 'conc', { keys: false });
    const answers = await Promise.all(
      Array.from({ length: 30 }, (_, i) => login(victim.username, `wrong-${i}-password`, '10.1.0.1')),
    );
    const codes = answers.map(codeOf);
    expect(codes.filter((c) => c === 'AUTH_BAD_CREDENTIALS')).toHaveLength(LIMITS.loginFailuresPerUserAddr);
    expect(codes.filter((c) => c === 'AUTH_RATE_LIMITED')).toHaveLength(30 - LIMITS.loginFailuresPerUserAddr);
  });

  it('does not let guesses from one address lock the user out of another', async () => {
    const victim = await register(st.gw, 'lockout', { keys: false });
    for (let i = 0; i < LIMITS.loginFailuresPerUserAddr + 2; i++)
      await login(victim.username, 'not it at all', '10.2.0.1');
    expect(codeOf(await login(victim.username, PASSWORD, '10.2.0.1'))).toBe('AUTH_RATE_LIMITED');
    const elsewhere = await login(victim.username, PASSWORD, '10.2.0.2');
    expect(elsewhere.status).toBe(200);
    expect(elsewhere.body.userId).toBe(victim.session.userId);
  });

  it('stops guesses spread over many addresses, but not the right password from an address the user signed in from', async () => {
    const victim = await register(st.gw, 'spread', { keys: false });
    expect((await login(victim.username, PASSWORD, '10.3.9.9')).status).toBe(200); // a known address
    const guesses = await Promise.all(
      Array.from({ length: LIMITS.loginFailuresPerUser + 10 }, (_, i) =>
        login(victim.username, `guess-${i}-password`, `10.3.1.${i + 1}`),
      ),
    );
    const checked = guesses.map(codeOf).filter((c) => c === 'AUTH_BAD_CREDENTIALS').length;
    expect(checked).toBeLessThanOrEqual(LIMITS.loginFailuresPerUser);
    expect(codeOf(await login(victim.username, PASSWORD, '10.3.2.1'))).toBe('AUTH_RATE_LIMITED'); // a new address
    expect((await login(victim.username, PASSWORD, '10.3.9.9')).status).toBe(200);
  });
});

describe('one-time prekey draining', () => {
  it('caps the devices an account can mint by signing in again', async () => {
    const u = await register(st.gw, 'minter', { keys: false });
    for (let i = 1; i < LIMITS.maxDevicesPerAccount; i++) {
      expect((await login(u.username, PASSWORD, '10.4.0.1')).status).toBe(200);
    }
    const over = await login(u.username, PASSWORD, '10.4.0.1');
    expect(over.status).toBe(409);
    expect(codeOf(over)).toBe('AUTH_TOO_MANY_DEVICES');
  });

  it('limits claims per calling account, whatever its number of devices', async () => {
    const victim = await register(st.gw, 'victim', { prekeys: 50 });
    const attacker = await register(st.gw, 'drainer', { keys: false });
    const tokens = [attacker.session.accessToken];
    for (let i = 1; i < LIMITS.maxDevicesPerAccount; i++) {
      tokens.push((await login(attacker.username, PASSWORD, '10.5.0.1')).body.accessToken);
    }
    let prekeys = 0;
    let limited = 0;
    for (const token of tokens) {
      for (let i = 0; i < LIMITS.bundleFetchesPerWindow + 2; i++) {
        const r = await http<UserBundle>(st.gw, 'GET', `/v1/keys/${victim.addr.user}`, { token });
        if (r.status === 429) limited++;
        else prekeys += r.body.devices.filter((d) => d.oneTimePrekey !== null).length;
      }
    }
    expect(prekeys).toBe(LIMITS.bundleFetchesPerWindow);
    expect(limited).toBe(tokens.length * (LIMITS.bundleFetchesPerWindow + 2) - LIMITS.bundleFetchesPerWindow);
  });

  it('limits the one-time prekeys claimed on one target by many accounts, and still hands out bundles', async () => {
    const victim = await register(st.gw, 'victim2', { prekeys: 50 });
    const attackers = await Promise.all(Array.from({ length: 3 }, (_, i) => register(st.gw, `sybil${i}`)));
    let prekeys = 0;
    let bundles = 0;
    for (const a of attackers) {
      for (let i = 0; i < LIMITS.bundleFetchesPerTarget; i++) {
        const r = await http<UserBundle>(st.gw, 'GET', `/v1/keys/${victim.addr.user}`, {
          token: a.session.accessToken,
        });
        expect(r.status).toBe(200);
        bundles++;
        prekeys += r.body.devices.filter((d) => d.oneTimePrekey !== null).length;
      }
    }
    expect(bundles).toBe(3 * LIMITS.bundleFetchesPerTarget);
    expect(prekeys).toBe(LIMITS.prekeyClaimsPerTarget);
    const count = await http<{ remaining: number }>(st.gw, 'GET', '/v1/keys/count', {
      token: victim.session.accessToken,
    });
    expect(count.body.remaining).toBe(50 - LIMITS.prekeyClaimsPerTarget);
  });
});

describe('username enumeration', () => {
  it('rate-limits username lookups per account', async () => {
    const u = await register(st.gw, 'enum', { keys: false });
    const codes: (string | number)[] = [];
    for (let i = 0; i < LIMITS.lookupsPerUser + 3; i++) {
      const r = await http(st.gw, 'GET', `/v1/users/by-name/nobody_${i}`, { token: u.session.accessToken });
      codes.push(codeOf(r as never));
    }
    expect(codes.slice(0, LIMITS.lookupsPerUser).every((c) => c === 'USER_NOT_FOUND')).toBe(true);
    expect(codes.slice(LIMITS.lookupsPerUser)).toEqual(['AUTH_RATE_LIMITED', 'AUTH_RATE_LIMITED', 'AUTH_RATE_LIMITED']);
  });
});

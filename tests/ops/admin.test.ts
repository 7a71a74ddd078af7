import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { repoRoot, type Stack, startStack } from '@hush/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// The admin CLI against a real stack (secured NATS: the CLI connects as the admin role), and each
// process's /metrics. Every command is run as an operator would: `tsx scripts/admin.ts ...`.
const run = promisify(execFile);
let stack: Stack;
let gw: string;

async function admin(...args: string[]): Promise<{ out: string; code: number }> {
  const env = { ...process.env, ...stack.env };
  try {
    const r = await run(process.execPath, ['--import', 'tsx', join(repoRoot, 'scripts', 'admin.ts'), ...args], {
      cwd: repoRoot,
      env,
      timeout: 120_000,
    });
    return { out: r.stdout, code: 0 };
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; code?: number };
    return { out: `${x.stdout ?? ''}${x.stderr ?? ''}`, code: x.code ?? 1 };
  }
}

async function register(username: string, inviteCode?: string) {
  const r = await fetch(`${gw}/v1/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: 'correct horse battery', deviceName: 'cli test', inviteCode }),
  });
  return {
    status: r.status,
    body: (await r.json()) as { userId?: string; deviceId?: string; accessToken?: string; error?: { code: string } },
  };
}

beforeAll(async () => {
  stack = await startStack({ gateways: 1, env: { REGISTRATIONS_PER_ADDR: '1000' } });
  gw = stack.gatewayUrls[0]!;
}, 240_000);
afterAll(async () => {
  await stack?.stop();
});

// Each command is a fresh tsx process: seconds on a quiet machine, much more on a loaded one.
describe('npm run admin', { timeout: 240_000 }, () => {
  it('prints its help', async () => {
    const r = await admin('help');
    expect(r.code).toBe(0);
    for (const c of ['registration', 'invite', 'users', 'signout', 'delete', 'rotate-key', 'usage', 'config check'])
      expect(r.out).toContain(c);
  });

  it('closes registration, makes it invite-only with single-use codes, and opens it again', async () => {
    expect((await admin('registration')).out).toContain('registration: open');
    expect((await admin('registration', 'closed')).out).toContain('registration: closed');
    expect((await register('closed_one')).body.error?.code).toBe('AUTH_REGISTRATION_CLOSED');
    expect((await admin('registration', 'invite')).out).toContain('registration: invite');
    expect((await register('no_invite')).body.error?.code).toBe('AUTH_INVITE_INVALID');
    const inv = await admin('invite', '--uses', '1', '--ttl', '1h');
    const code = /invite code (\S+)/.exec(inv.out)?.[1];
    expect(code, inv.out).toBeTruthy();
    expect((await register('invited_one', code)).status).toBe(201);
    expect((await register('invited_two', code)).body.error?.code).toBe('AUTH_INVITE_INVALID');
    expect((await admin('registration', 'open')).out).toContain('registration: open');
    expect((await admin('registration', 'sideways')).code).not.toBe(0);
  });

  it('lists users and devices, signs a device out, and deletes an account with its keys and mailboxes', async () => {
    const a = (await register('cli_alice')).body;
    const b = (await register('cli_bob')).body;
    const list = await admin('users');
    expect(list.out).toContain(`cli_alice  ${a.userId}`);
    expect(list.out).toContain(a.deviceId);
    // Sign-out: the device's token is refused from then on.
    expect((await admin('signout', a.userId!, a.deviceId!)).out).toContain('signed out');
    const after = await fetch(`${gw}/v1/keys/count`, { headers: { authorization: `Bearer ${a.accessToken}` } });
    expect(after.status).toBe(401);
    // Delete: the account disappears from the list and its username is free again.
    const del = await admin('delete', b.userId!);
    expect(del.out, del.out).toContain(`account ${b.userId} deleted`);
    expect((await admin('users')).out).not.toContain('cli_bob');
    expect((await register('cli_bob')).status).toBe(201);
    expect((await admin('delete', 'nosuchuser0000000000')).code).not.toBe(0);
  });

  it('rotates the signing key and serves the old one in the JWKS', async () => {
    const before = ((await (await fetch(`${gw}/.well-known/jwks.json`)).json()) as { keys: Array<{ kid: string }> })
      .keys;
    const r = await admin('rotate-key');
    expect(r.out).toMatch(/signing key rotated: now (\S+); JWKS serves/);
    const now = /now (\S+);/.exec(r.out)![1]!;
    expect(now).not.toBe(before[0]!.kid);
    expect(r.out).toContain(before[0]!.kid);
  });

  it('shows stream usage, limits and per-device backlog', async () => {
    const r = await admin('usage');
    expect(r.code, r.out).toBe(0);
    expect(r.out).toMatch(/stream MAILBOX: \d+ envelopes, \d+ bytes/);
    expect(r.out).toMatch(/max_bytes \d+, per device \d+/);
    expect(r.out).toContain('per-device backlog');
  });

  it('checks the configuration and sees every service answer', async () => {
    const r = await admin('config', 'check');
    expect(r.out).toContain('gateway: configuration valid');
    expect(r.out).toMatch(/auth: 1 copy answering/);
    expect(r.out).toMatch(/keydir: 1 copy answering/);
    expect(r.out).toMatch(/presence: 1 copy answering/);
    expect(r.code, r.out).toBe(0);
    const bad = await run(
      process.execPath,
      ['--import', 'tsx', join(repoRoot, 'scripts', 'admin.ts'), 'config', 'check'],
      {
        cwd: repoRoot,
        env: { ...process.env, ...stack.env, SEND_RATE: 'fast', HUSH_MODE: 'x' },
      },
    ).catch((e: { stdout: string }) => e);
    expect(bad.stdout).toContain('SEND_RATE must be a number');
    expect(bad.stdout).toContain('unknown variable HUSH_MODE');
  });
});

describe('/metrics', () => {
  it('is served by the gateway and every service with their instruments', async () => {
    await fetch(`${gw}/readyz`);
    for (const p of [...stack.services, ...stack.gateways]) {
      const text = await (await fetch(`${p.metricsUrl}/metrics`)).text();
      expect(text).toContain(`hush_process_cpu_seconds_total{service="${p.name}"}`);
      if (p.name === 'gateway') {
        for (const m of ['hush_ws_open_sockets', 'hush_mailbox_stream_messages', 'hush_rpc_request_seconds_bucket'])
          expect(text).toContain(m);
      } else expect(text).toContain('hush_rpc_handle_seconds');
    }
  });
});

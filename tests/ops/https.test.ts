import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  chromiumAvailable,
  ensureWebBuild,
  freePort,
  hasBinary,
  launchChromium,
  repoRoot,
  type Stack,
  startStack,
  waitForPort,
} from '@hush/testkit';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bubbles,
  DESKTOP,
  openChat,
  type Person,
  register,
  screenshotDir,
  send,
  shootThemes,
  startChat,
  waitFor,
} from '../e2e/browser.js';

// The compose HTTPS path without Docker: deploy/Caddyfile run by /usr/bin/caddy (its internal
// CA, as for `docker compose up` on localhost) in front of a started stack, and Chromium opening
// the app over https:// — a secure context — registering two people and sending a message.
const canRun = hasBinary('caddy') && chromiumAvailable;
let stack: Stack;
let caddy: ChildProcess | undefined;
let browser: Browser;
let url = '';
const dataDir = mkdtempSync(join(tmpdir(), 'hush-caddy-'));

beforeAll(async () => {
  if (!canRun) return;
  stack = await startStack({ webRoot: ensureWebBuild(repoRoot), env: { TRUST_PROXY: '1' } });
  const httpsPort = await freePort();
  const gw = new URL(stack.gatewayUrls[0]!);
  caddy = spawn('caddy', ['run', '--config', join(repoRoot, 'deploy', 'Caddyfile'), '--adapter', 'caddyfile'], {
    env: {
      ...process.env,
      HUSH_DOMAIN: `localhost:${httpsPort}`,
      HUSH_UPSTREAM: gw.host,
      HUSH_HTTP_PORT: String(await freePort()),
      HUSH_HTTPS_PORT: String(httpsPort),
      CADDY_ADMIN: 'off',
      XDG_DATA_HOME: dataDir,
      XDG_CONFIG_HOME: dataDir,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  await waitForPort(httpsPort, 30_000);
  url = `https://localhost:${httpsPort}`;
  browser = await launchChromium();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  caddy?.kill('SIGTERM');
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

async function personOverHttps(username: string): Promise<Person> {
  // Caddy's internal CA is not in Chromium's trust store here: accept it for this test only.
  const context = await browser.newContext({ viewport: DESKTOP, ignoreHTTPSErrors: true });
  const page = await context.newPage();
  await page.goto(url);
  return { context, page, username, csp: [], dialogs: [] };
}

describe.skipIf(!canRun)('HTTPS through Caddy (the compose path)', { timeout: 240_000 }, () => {
  it('serves the gateway over HTTPS, and plain HTTP carries no HSTS', async () => {
    const r = await new Promise<{ status: number }>((resolve, reject) => {
      // Node's fetch cannot skip verification per request; use https.get with the CA unchecked.
      void import('node:https').then(({ get }) =>
        get(`${url}/healthz`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve({ status: res.statusCode ?? 0 });
        }).on('error', reject),
      );
    });
    expect(r.status).toBe(200);
    // Plain HTTP straight to the gateway: no HSTS.
    const plain = await fetch(`${stack.gatewayUrls[0]}/healthz`);
    expect(plain.headers.get('strict-transport-security')).toBeNull();
  });

  it('lets two people register in a secure context and exchange a message', async () => {
    const stamp = Date.now().toString(36);
    const alice = await personOverHttps(`tls_a_${stamp}`);
    const bob = await personOverHttps(`tls_b_${stamp}`);
    expect(await alice.page.evaluate(() => window.isSecureContext && typeof crypto.subtle === 'object')).toBe(true);
    await register(alice, 'correct horse battery staple');
    await register(bob, 'correct horse battery staple');
    await startChat(alice, bob.username);
    await send(alice, 'hello over https');
    await openChat(bob, alice.username);
    await waitFor(
      bob.page,
      async () => (await bubbles(bob.page)).includes('hello over https'),
      'message over https',
      60_000,
    );
    expect(await bubbles(bob.page)).toContain('hello over https');
  });

  it('explains what to do instead of going blank when opened over plain HTTP from another address', async () => {
    // A host name that is not localhost over http:// is not a secure context (no WebCrypto).
    const gw = new URL(stack.gatewayUrls[0]!);
    const insecure = await launchChromium([`--host-resolver-rules=MAP insecure.test ${gw.hostname}`]);
    try {
      const page = await (await insecure.newContext({ viewport: DESKTOP })).newPage();
      await page.goto(`http://insecure.test:${gw.port}/`);
      expect(await page.evaluate(() => window.isSecureContext)).toBe(false);
      await page.getByRole('heading', { name: 'Hush needs a secure connection' }).waitFor();
      expect(await page.getByRole('link').first().getAttribute('href')).toBe(`https://insecure.test:${gw.port}/`);
      // Into test-artifacts/ (git-ignored); UPDATE_DOC_SCREENSHOTS=1 refreshes docs/screenshots/ instead.
      const dir = process.env.UPDATE_DOC_SCREENSHOTS ? join(repoRoot, 'docs', 'screenshots') : screenshotDir(repoRoot);
      await shootThemes(page, dir, 'ops', 'insecure-context', { sizes: true });
    } finally {
      await insecure.close();
    }
  });
});

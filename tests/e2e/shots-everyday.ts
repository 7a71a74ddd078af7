/**
 * Screenshots of the everyday-use screens, in both themes at desktop and phone width,
 * written to docs/screenshots/everyday-<size>-<theme>-<screen>.png (small PNGs kept in the repo).
 * Run: `npx tsx tests/e2e/shots-everyday.ts` (starts its own stack; about two minutes).
 */

import { join } from 'node:path';
import { repoRoot, startStack } from '@hush/testkit';
import type { Page } from 'playwright-core';
import { DESKTOP, ensureWebBuild, launch, openSettings, PHONE, person, register, send, startChat } from './browser.js';

const PASSWORD = 'correct horse battery';
const out = join(repoRoot, 'docs', 'screenshots');

async function main() {
  const stack = await startStack({ webRoot: ensureWebBuild(repoRoot) });
  const browser = await launch();
  const url = stack.gatewayUrls[0]!;
  const suffix = Math.random().toString(36).slice(2, 7);
  try {
    const bob = await person(browser, url, `bob_${suffix}`);
    await register(bob, PASSWORD);
    for (const [size, viewport] of [
      ['desktop', DESKTOP],
      ['phone', PHONE],
    ] as const) {
      for (const theme of ['light', 'dark'] as const) {
        const ctx = await browser.newContext({ viewport, colorScheme: theme });
        const page = await ctx.newPage();
        const shot = (name: string) => page.screenshot({ path: join(out, `everyday-${size}-${theme}-${name}.png`) });
        await page.goto(url);
        await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
        await page.getByRole('button', { name: 'Create account' }).click();
        await shot('create-account');
        await page.getByRole('button', { name: 'I have an account' }).click();
        const me = { context: ctx, page, username: `${size[0]}${theme}_${suffix}`, csp: [], dialogs: [] };
        await register(me, PASSWORD);
        await startChat(me, bob.username);
        for (const t of ['Good morning!', 'Are we still on for lunch?', 'مرحبا، كيف حالك؟']) await send(me, t);
        await page.locator('[data-testid="message"][data-tick="delivered"]').last().waitFor({ timeout: 30_000 });
        await shot('chat');
        await page.getByLabel('Message', { exact: true }).fill('x'.repeat(4_050));
        await shot('composer-limit');
        await page.getByLabel('Message', { exact: true }).fill('');
        await openSettings(me);
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await shot('sign-out');
        await page.getByRole('button', { name: 'Cancel' }).click();
        await page.getByRole('button', { name: 'App lock' }).click();
        await page.getByLabel('App lock passphrase').fill('a long passphrase');
        await page.getByLabel('Confirm passphrase').fill('a long passphrase');
        await page.getByRole('button', { name: 'Set lock' }).click();
        await page.getByRole('button', { name: 'App lock (on)' }).click();
        await shot('app-lock');
        const tab = await ctx.newPage();
        await tab.goto(url);
        await tab.getByRole('heading', { name: 'Hush is open in another tab' }).waitFor();
        await tab.screenshot({ path: join(out, `everyday-${size}-${theme}-other-tab.png`) });
        await tab.close();
        await page.getByRole('button', { name: 'Lock now' }).click();
        await page.getByRole('heading', { name: 'Hush is locked' }).waitFor();
        await page.getByRole('button', { name: 'Sign out and erase this device' }).click();
        await shot('lock');
        await ctx.close();
        console.log(`${size} ${theme}: done`);
      }
    }
  } finally {
    await browser.close();
    await stack.stop();
  }
}

await main();

export type { Page };

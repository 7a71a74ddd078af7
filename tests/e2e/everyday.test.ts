/**
 * The web client in everyday use (issue 16), in Debian's Chromium against the real stack: one
 * test per item of the issue. The steps share one stack and two people (alice and bob keep their
 * browsers) and run in order; a step that needs a fresh person registers one.
 */

import { repoRoot, type Stack, startStack } from '@hush/testkit';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bubbles,
  chromiumAvailable,
  ensureWebBuild,
  launch,
  openChat,
  type Person,
  person,
  register,
  send,
  startChat,
  waitFor,
} from './browser.js';

const PASSWORD = 'correct horse battery';

describe.skipIf(!chromiumAvailable)(
  'the web client in everyday use (Chromium, real stack)',
  { timeout: 120_000 },
  () => {
    let stack: Stack;
    let browser: Browser;
    let url: string;
    let alice: Person;
    let bob: Person;
    const suffix = Math.random().toString(36).slice(2, 7);
    const aliceName = `alice_${suffix}`;
    const bobName = `bob_${suffix}`;

    beforeAll(async () => {
      const webRoot = ensureWebBuild(repoRoot);
      stack = await startStack({ webRoot });
      url = stack.gatewayUrls[0]!;
      browser = await launch();
      alice = await person(browser, url, aliceName);
      bob = await person(browser, url, bobName);
      await register(alice, PASSWORD);
      await register(bob, PASSWORD);
      await startChat(alice, bobName);
    }, 240_000);

    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
    }, 60_000);

    it('keeps every message of a burst that was on screen when the page reloaded, and delivers it once', async () => {
      // Bob reads along, so receipts flow back while alice types (the case that lost one).
      const texts = Array.from({ length: 30 }, (_, i) => `burst ${String(i + 1).padStart(2, '0')}`);
      const box = alice.page.getByLabel('Message', { exact: true });
      for (const t of texts) {
        await box.fill(t);
        await box.press('Enter');
        if (t === texts[2]) {
          await bob.page.locator(`.convs button[data-peer="${aliceName}"]`).waitFor();
          await openChat(bob, aliceName);
        }
      }
      // Reload the moment the last one is on screen.
      await alice.page.locator('[data-testid="message"]', { hasText: texts.at(-1)! }).waitFor();
      const seen = await bubbles(alice.page);
      await alice.page.reload();
      await openChat(alice, bobName);
      await waitFor(
        alice.page,
        async () => (await bubbles(alice.page)).length >= seen.length,
        'history after reload',
        20_000,
      ).catch(() => undefined);
      expect(await bubbles(alice.page)).toEqual(expect.arrayContaining(seen));
      await waitFor(
        bob.page,
        async () => (await bubbles(bob.page)).length >= texts.length,
        'all 30 at bob',
        60_000,
      ).catch(() => undefined);
      expect(await bubbles(bob.page)).toEqual(texts);
      // Every one leaves the outbox (none stays "waiting to send").
      await waitFor(
        alice.page,
        async () => (await alice.page.locator('[data-testid="message"][data-tick="pending"]').count()) === 0,
        'outbox empty',
        60_000,
      );
    });

    it('asks before the page closes while the outbox holds a message, and sends it after the reload', async () => {
      await alice.context.setOffline(true);
      await alice.page.getByTestId('offline-banner').waitFor();
      await send(alice, 'written offline, then reloaded');
      await alice.page.locator('[data-testid="message"][data-tick="pending"]').waitFor();
      const before = alice.leaveWarnings!.length;
      await alice.page.reload();
      expect(alice.leaveWarnings!.length).toBe(before + 1);
      await alice.context.setOffline(false);
      await openChat(alice, bobName);
      await waitFor(
        bob.page,
        async () => (await bubbles(bob.page)).includes('written offline, then reloaded'),
        'the queued message at bob',
      );
      // Nothing waits any more: closing now asks nothing.
      await waitFor(
        alice.page,
        async () => (await alice.page.locator('[data-testid="message"][data-tick="pending"]').count()) === 0,
        'outbox empty',
      );
      await alice.page.reload();
      expect(alice.leaveWarnings!.length).toBe(before + 1);
      await openChat(alice, bobName);
    });
  },
);

/**
 * The web client in everyday use, in Debian's Chromium against the real stack: one
 * test per everyday-use item (tests/e2e/README.md). The steps share one stack and two people (alice and bob keep their
 * browsers) and run in order; a step that needs a fresh person registers one.
 */

import { join } from 'node:path';
import { HushClient } from '@hush/client';
import { repoRoot, type Stack } from '@hush/testkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bubbles,
  chromiumAvailable,
  closeSettings,
  openChat,
  openSettings,
  type Person,
  PHONE,
  person,
  register,
  screenshotDir,
  send,
  seriousViolations,
  startChat,
  startPair,
  stopPair,
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
    const shotDir = screenshotDir(repoRoot);
    /** Screenshots of the changed screens (desktop, light unless the page says otherwise). */
    const shot = (page: Page, name: string) =>
      page.screenshot({ path: join(shotDir, `everyday-${name}.png`) }).then(() => undefined);
    const shoot = shot;
    const serious = seriousViolations;

    beforeAll(async () => {
      ({ stack, browser, url, alice, bob } = await startPair(aliceName, bobName, PASSWORD));
    }, 240_000);

    afterAll(() => stopPair({ stack, browser }), 60_000);

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

    it('asks before the page closes while the outbox holds a message, and not once it is empty', async () => {
      await alice.context.setOffline(true);
      await alice.page.getByTestId('offline-banner').waitFor();
      await send(alice, 'written offline');
      await alice.page.locator('[data-testid="message"][data-tick="pending"]').waitFor();
      // A reload offline cannot load the page again, so the prompt is asked for as a closing
      // page asks (beforeunload); a reload with a queued message is the first test's case.
      const asks = () =>
        alice.page.evaluate(() => {
          const e = new Event('beforeunload', { cancelable: true });
          dispatchEvent(e);
          return e.defaultPrevented;
        });
      expect(await asks()).toBe(true);
      await alice.context.setOffline(false);
      await waitFor(
        bob.page,
        async () => (await bubbles(bob.page)).includes('written offline'),
        'the queued message at bob',
      );
      // Nothing waits any more: closing now asks nothing.
      await waitFor(
        alice.page,
        async () => (await alice.page.locator('[data-testid="message"][data-tick="pending"]').count()) === 0,
        'outbox empty',
      );
      expect(await asks()).toBe(false);
      // And a real reload with nothing queued raises no prompt.
      const before = alice.leaveWarnings!.length;
      await alice.page.reload();
      expect(alice.leaveWarnings!.length).toBe(before);
      await openChat(alice, bobName);
    });

    it('keeps one tab in charge: the second says so, and "Use here" moves Hush there', async () => {
      const second = await alice.context.newPage();
      await second.goto(url);
      await second.getByRole('heading', { name: 'Hush is open in another tab' }).waitFor();
      await second.getByRole('button', { name: 'Use here' }).click();
      await second.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 30_000 });
      await alice.page.getByRole('heading', { name: 'Hush is open in another tab' }).waitFor({ timeout: 30_000 });
      // The new tab is connected and sends; the old one waits.
      await openChat({ ...alice, page: second }, bobName);
      await second.getByTestId('my-connection').getByText('Online').waitFor({ timeout: 30_000 });
      await second.getByLabel('Message', { exact: true }).fill('from the second tab');
      await second.keyboard.press('Enter');
      await waitFor(
        bob.page,
        async () => (await bubbles(bob.page)).includes('from the second tab'),
        'second tab message',
      );
      // And back.
      await alice.page.getByRole('button', { name: 'Use here' }).click();
      await alice.page.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 30_000 });
      await second.getByRole('heading', { name: 'Hush is open in another tab' }).waitFor({ timeout: 30_000 });
      await second.close();
      await openChat(alice, bobName);
    });

    it('tells a device signed out from elsewhere what happened, at once and in words', async () => {
      const carol = await person(browser, url, `carol_${suffix}`);
      await register(carol, PASSWORD);
      // Carol signs in somewhere else (a second device) and signs the browser out from there.
      const other = new HushClient({ baseUrl: url });
      await other.login(carol.username, PASSWORD, 'other device');
      const { devices } = await other.listDevices();
      const browserDevice = devices.find((d) => !d.current)!;
      await other.signOutDevice(browserDevice.deviceId);
      const alert = carol.page.getByRole('alert');
      await alert.getByText('This device was signed out', { exact: false }).waitFor({ timeout: 20_000 });
      expect(await alert.textContent()).toContain('erased from this browser');
      await carol.page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      await carol.context.close();
    });

    it('asks before signing out, saying what will be lost', async () => {
      const dave = await person(browser, url, `dave_${suffix}`);
      await register(dave, PASSWORD);
      await openSettings(dave);
      await dave.page.getByRole('button', { name: 'Sign out', exact: true }).click();
      const panel = dave.page.locator('#signout');
      expect(await panel.textContent()).toContain('cannot be undone');
      expect(await panel.textContent()).toContain('link another device first');
      await shoot(dave.page, 'sign-out-confirm');
      await dave.page.getByRole('button', { name: 'Cancel' }).click();
      await expect.poll(() => panel.count()).toBe(0);
      await dave.page.getByRole('button', { name: 'Sign out', exact: true }).click();
      await dave.page.getByRole('button', { name: 'Sign out and erase' }).click();
      await dave.page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      await dave.context.close();
    });

    it('app lock: the passphrase is typed twice, locks when idle, and the lock screen offers "Sign out and erase this device"', async () => {
      const erin = await person(browser, url, `erin_${suffix}`);
      await register(erin, PASSWORD);
      const p = erin.page;
      await openSettings(erin);
      await p.getByRole('button', { name: 'App lock' }).click();
      await p.getByLabel('App lock passphrase').fill('a long passphrase');
      await p.getByLabel('Confirm passphrase').fill('a long passphrasX');
      await p.getByRole('button', { name: 'Set lock' }).click();
      await p.getByRole('alert').getByText('The two passphrases are not the same.').waitFor();
      await p.getByLabel('Confirm passphrase').fill('a long passphrase');
      await p.getByRole('button', { name: 'Set lock' }).click();
      await p.getByRole('button', { name: 'App lock (on)' }).waitFor();
      await p.getByRole('button', { name: 'App lock (on)' }).click();
      await p.getByLabel('Lock when idle').selectOption('1');
      await shoot(p, 'app-lock-settings');
      // Idle: time runs fast on a fake clock from the next load on; nobody touches the page.
      await erin.context.clock.install();
      await p.reload();
      await p.getByLabel('App lock passphrase').fill('a long passphrase');
      await p.getByRole('button', { name: 'Unlock' }).click();
      await p.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 30_000 });
      await erin.context.clock.runFor(70_000);
      await p.getByRole('heading', { name: 'Hush is locked' }).waitFor({ timeout: 30_000 });
      await shoot(p, 'lock-screen');
      // Forgotten passphrase: the way out, confirmed first.
      await p.getByRole('button', { name: 'Sign out and erase this device' }).click();
      await p.getByRole('button', { name: 'Erase this device' }).click();
      await p.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
      expect(await p.getByRole('alert').textContent()).toContain('Hush was erased from this browser');
      await erin.context.close();
    });

    it('keeps the reading position while messages arrive, offers "New messages", and marks where unread ones begin', async () => {
      // Alice is elsewhere while bob writes: opening the chat shows the unread divider first.
      // On the devices screen no chat is open (the list beside it, settings closed).
      await openSettings(alice);
      await alice.page.getByRole('button', { name: 'Linked devices' }).click();
      await closeSettings(alice);
      for (let i = 1; i <= 3; i++) {
        await bob.page.getByLabel('Message', { exact: true }).fill(`unread ${i}`);
        await bob.page.keyboard.press('Enter');
      }
      await waitFor(
        alice.page,
        async () => (await alice.page.getByTestId('unread').textContent())?.startsWith('3') ?? false,
        'three unread',
      );
      await openChat(alice, bobName);
      const divider = alice.page.getByTestId('unread-divider');
      await divider.waitFor();
      const next = await alice.page.evaluate(
        () =>
          document.querySelector('[data-testid="unread-divider"]')?.nextElementSibling?.querySelector('.bubble')
            ?.textContent,
      );
      expect(next).toBe('unread 1');
      // Scrolled up, arrivals do not move the reader.
      for (let i = 1; i <= 20; i++) {
        await bob.page.getByLabel('Message', { exact: true }).fill(`filler ${i}`);
        await bob.page.keyboard.press('Enter');
      }
      await waitFor(alice.page, async () => (await bubbles(alice.page)).includes('filler 20'), 'fillers');
      const log = alice.page.locator('.log');
      await log.evaluate((el) => {
        el.scrollTop = 0;
        el.dispatchEvent(new Event('scroll'));
      });
      await bob.page.getByLabel('Message', { exact: true }).fill('while alice reads above');
      await bob.page.keyboard.press('Enter');
      await alice.page.getByTestId('new-below').waitFor();
      expect(await log.evaluate((el) => el.scrollTop)).toBe(0);
      await shoot(alice.page, 'new-messages');
      await alice.page.getByTestId('new-below').click();
      expect(await log.evaluate((el) => el.scrollHeight - el.scrollTop - el.clientHeight)).toBeLessThan(48);
      await expect.poll(() => alice.page.getByTestId('new-below').count()).toBe(0);
    });

    it('shows day separators, one time per group, and right-to-left text in its own direction', async () => {
      expect(await alice.page.getByTestId('day-separator').first().textContent()).toBe('Today');
      const shown = await alice.page.locator('[data-testid="message"] time:not(.sr-only)').count();
      const all = await alice.page.locator('[data-testid="message"]').count();
      expect(shown).toBeGreaterThan(0);
      expect(shown).toBeLessThan(all);
      await send(alice, 'مرحبا، كيف حالك؟');
      const rtl = alice.page.locator('[data-testid="message"] .bubble', { hasText: 'مرحبا' }).last();
      await rtl.waitFor();
      expect(await rtl.getAttribute('dir')).toBe('auto');
      expect(await rtl.evaluate((el) => getComputedStyle(el).direction)).toBe('rtl');
      expect(await alice.page.locator('.convs .last').first().getAttribute('dir')).toBe('auto');
    });

    it('keeps the draft and the open chat across a reload', async () => {
      await alice.page.getByLabel('Message', { exact: true }).fill('a draft that survives');
      // Saved (encrypted) 400 ms after the last key: the conversation list then says "Draft: …".
      await alice.page
        .locator(`.convs button[data-peer="${bobName}"]`, { hasText: 'Draft: a draft that survives' })
        .waitFor();
      await alice.page.reload();
      await alice.page.getByRole('heading', { level: 2, name: bobName }).waitFor({ timeout: 30_000 });
      expect(await alice.page.getByLabel('Message', { exact: true }).inputValue()).toBe('a draft that survives');
      await alice.page.getByLabel('Message', { exact: true }).fill('');
    });

    it('counts characters near the limit and never cuts a pasted text', async () => {
      const box = alice.page.getByLabel('Message', { exact: true });
      await box.fill('x'.repeat(4100));
      expect((await box.inputValue()).length).toBe(4100);
      const count = alice.page.getByTestId('composer-count');
      expect(await count.textContent()).toContain('4,100 / 4,000 characters');
      expect(await count.textContent()).toContain('100 too many');
      expect(await alice.page.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(true);
      await shoot(alice.page, 'composer-limit');
      await box.fill('');
    });

    it('shows its own connection state instead of a peer being online, and sees a new contact come online', async () => {
      await alice.context.setOffline(true);
      await alice.page.getByTestId('my-connection').getByText('Offline').waitFor();
      expect(await alice.page.getByTestId('presence').textContent()).toBe('You are offline');
      await alice.context.setOffline(false);
      await alice.page.getByTestId('my-connection').getByText('Online').waitFor({ timeout: 30_000 });
      await waitFor(
        alice.page,
        async () => (await alice.page.getByTestId('presence').textContent()) === 'online',
        'bob online',
      );
      // A brand-new contact: visible as online once they have added alice back (on her first message).
      const fay = await person(browser, url, `fay_${suffix}`);
      await register(fay, PASSWORD);
      await startChat(alice, fay.username);
      await send(alice, 'hi fay');
      await fay.page.locator(`.convs button[data-peer="${aliceName}"]`).waitFor();
      await waitFor(
        alice.page,
        async () => (await alice.page.getByTestId('presence').textContent()) === 'online',
        'fay online without a reload',
      );
      await fay.context.close();
      await openChat(alice, bobName);
    });

    it('says why it cannot encrypt and what happens next', async () => {
      const gus = await person(browser, url, `gus_${suffix}`);
      // The key directory has no keys for the contact.
      await gus.context.route(/\/v1\/keys\/[a-z0-9]{10,32}$/, (route) =>
        route.fulfill({
          status: 404,
          json: { error: { code: 'KEYS_NOT_FOUND', message: 'No keys published for that user' } },
        }),
      );
      await register(gus, PASSWORD);
      await startChat(gus, bobName);
      // No keys published is "not registered yet" (docs/ARCHITECTURE.md entry 44), looked at again
      // while the chat is open; a bundle that fails verification is "cannot encrypt" (web.test.ts).
      const banner = gus.page.getByTestId('not-registered');
      await banner.waitFor();
      const text = (await banner.textContent()) ?? '';
      expect(text).toContain('nothing can be encrypted to them yet');
      expect(text).toContain('looks again every few seconds while this chat is open');
      expect(await gus.page.getByTestId('cannot-encrypt').count()).toBe(0);
      await shoot(gus.page, 'cannot-encrypt');
      await gus.context.close();
    });

    it('keeps signing in and creating an account apart, shows the password rule, and says how long to wait', async () => {
      const hal = await person(browser, url, `hal_${suffix}`);
      const p = hal.page;
      // Waited for, not read at once: the form renders after the app boots (CI once read it too early).
      await p.getByText('At least 8 characters.').waitFor();
      expect(await p.getByText('At least 8 characters.').isVisible()).toBe(true);
      // Enter on an unknown username in the sign-in form: the way to create an account is named.
      await p.getByLabel('Username', { exact: true }).fill(hal.username);
      await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await p.getByLabel('Password', { exact: true }).press('Enter');
      await p.getByRole('alert').getByText('New here? Create an account instead.', { exact: false }).waitFor();
      await p.getByRole('button', { name: 'Create account' }).click();
      expect(await p.getByLabel('Password', { exact: true }).getAttribute('autocomplete')).toBe('new-password');
      await p.getByLabel('Confirm password').fill(`${PASSWORD}!`);
      await p.getByRole('button', { name: 'Register', exact: true }).click();
      await p.getByRole('alert').getByText('The two passwords are not the same.').waitFor();
      await shoot(p, 'create-account');
      // Rate-limited: the wait is given in words.
      await hal.context.route(/\/v1\/login$/, (route) =>
        route.fulfill({
          status: 429,
          json: { error: { code: 'AUTH_RATE_LIMITED', message: 'Too many attempts; try again later', retryAfter: 90 } },
        }),
      );
      await p.getByRole('button', { name: 'I have an account' }).click();
      await p.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await p.getByRole('button', { name: 'Sign in', exact: true }).click();
      await p.getByRole('alert').getByText('Try again in 2 minutes.', { exact: false }).waitFor();
      await hal.context.close();
    });

    it('puts focus where the user is: on "New chat" after registering, in its field at once', async () => {
      const ivy = await person(browser, url, `ivy_${suffix}`);
      await register(ivy, PASSWORD);
      await waitFor(
        ivy.page,
        async () => (await ivy.page.evaluate(() => document.activeElement?.textContent)) === 'New chat',
        'focus on New chat',
      );
      // A fast typist: Enter on "New chat" and type at once, no wait in between.
      await ivy.page.keyboard.press('Enter');
      await ivy.page.keyboard.type(bobName);
      expect(await ivy.page.getByLabel('Contact username').inputValue()).toBe(bobName);
      await ivy.context.close();
    });

    it('reads well with a screen reader: conversation names, messages as list items, ticks that end', async () => {
      const name = await alice.page.locator(`.convs button[data-peer="${bobName}"]`).getAttribute('aria-label');
      expect(name).toMatch(new RegExp(`^${bobName}, not verified`));
      expect(name).not.toContain(' ,');
      const items = alice.page.getByRole('log').getByRole('listitem');
      expect(await items.count()).toBeGreaterThan(5);
      const tick = await alice.page.locator('[data-testid="message"].out .tick .sr-only').last().textContent();
      expect(tick).toMatch(/^, (Sent|Delivered|Read)\.$/);
    });

    it('has no serious accessibility violations on the new and changed screens, in both themes, on a phone', async () => {
      const problems: Record<string, string[]> = {};
      for (const theme of ['light', 'dark'] as const) {
        const ctx = await browser.newContext({ viewport: PHONE, colorScheme: theme });
        const page = await ctx.newPage();
        await page.goto(url);
        await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
        problems[`${theme}-sign-in`] = await serious(page);
        await shot(page, `phone-${theme}-sign-in`);
        await page.getByRole('button', { name: 'Create account' }).click();
        problems[`${theme}-create-account`] = await serious(page);
        await shot(page, `phone-${theme}-create-account`);
        const jo = { context: ctx, page, username: `jo${theme}_${suffix}`, csp: [], dialogs: [] };
        await page.getByRole('button', { name: 'I have an account' }).click();
        await register(jo, PASSWORD);
        problems[`${theme}-list`] = await serious(page);
        await openSettings(jo);
        problems[`${theme}-settings`] = await serious(page);
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        problems[`${theme}-sign-out`] = await serious(page);
        await shot(page, `phone-${theme}-sign-out`);
        await page.getByRole('button', { name: 'Cancel' }).click();
        await page.getByRole('button', { name: 'App lock' }).click();
        problems[`${theme}-app-lock`] = await serious(page);
        await page.getByRole('button', { name: 'App lock' }).click();
        await startChat(jo, bobName);
        await send(jo, 'hello from a phone');
        await page.locator('[data-testid="message"]').waitFor();
        problems[`${theme}-chat`] = await serious(page);
        await shot(page, `phone-${theme}-chat`);
        const tab = await ctx.newPage();
        await tab.goto(url);
        await tab.getByRole('heading', { name: 'Hush is open in another tab' }).waitFor();
        problems[`${theme}-other-tab`] = await serious(tab);
        await shot(tab, `phone-${theme}-other-tab`);
        await tab.close();
        // The lock screen (on a phone the list is its own screen: back to it first).
        await openSettings(jo);
        await page.getByRole('button', { name: 'App lock' }).click();
        await page.getByLabel('App lock passphrase').fill('a long passphrase');
        await page.getByLabel('Confirm passphrase').fill('a long passphrase');
        await page.getByRole('button', { name: 'Set lock' }).click();
        await page.getByRole('button', { name: 'App lock (on)' }).waitFor();
        await page.getByRole('button', { name: 'App lock (on)' }).click();
        await page.getByRole('button', { name: 'Lock now' }).click();
        await page.getByRole('heading', { name: 'Hush is locked' }).waitFor();
        await page.getByRole('button', { name: 'Sign out and erase this device' }).click();
        problems[`${theme}-lock`] = await serious(page);
        await shot(page, `phone-${theme}-lock`);
        await ctx.close();
      }
      const bad = Object.fromEntries(Object.entries(problems).filter(([, v]) => v.length > 0));
      expect(bad).toEqual({});
    }, 300_000);
  },
);

/**
 * The app around the chats, in Debian's Chromium against the real stack: the settings page,
 * profiles (name and avatar seen by a contact), message search, desktop notifications and the
 * unread title, links, the growing composer, the installable app shell (service worker, offline
 * start) and a chat started before the contact's keys exist. Steps share one stack and run in order.
 */

import { join } from 'node:path';
import { repoRoot, type Stack, startStack } from '@hush/testkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bubbles,
  chromiumAvailable,
  closeSettings,
  DESKTOP,
  ensureWebBuild,
  launch,
  openChat,
  openPage,
  openSettings,
  type Person,
  person,
  register,
  screenshotDir,
  send,
  seriousViolations,
  shootThemes,
  startChat,
  waitFor,
} from './browser.js';

const PASSWORD = 'correct horse battery';
/** UPDATE_DOC_SCREENSHOTS=1 writes the pictures into docs/screenshots/ (the README shows them). */
const shotDir = process.env.UPDATE_DOC_SCREENSHOTS ? join(repoRoot, 'docs', 'screenshots') : screenshotDir(repoRoot);

type Note = { title: string; body: string };

/** Makes the page look hidden (or visible again) to the app, as a background tab does. */
const setHidden = (page: Page, hidden: boolean) =>
  page.evaluate((h) => {
    Object.defineProperty(document, 'visibilityState', { value: h ? 'hidden' : 'visible', configurable: true });
    Object.defineProperty(document, 'hidden', { value: h, configurable: true });
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);

describe.skipIf(!chromiumAvailable)(
  'settings, profiles, search, notifications and the app shell',
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
    const problems: Record<string, string[]> = {};
    const shoot = (page: Page, name: string) => shootThemes(page, shotDir, 'shell', name, { sizes: true });

    beforeAll(async () => {
      const webRoot = ensureWebBuild(repoRoot);
      stack = await startStack({ webRoot });
      url = stack.gatewayUrls[0]!;
      browser = await launch();
      // Alice may be notified: permission granted, and every Notification the page makes is recorded.
      const context = await browser.newContext({ viewport: DESKTOP, permissions: ['notifications'] });
      await context.addInitScript(() => {
        const Real = window.Notification;
        const shown: { title: string; body: string }[] = [];
        (window as unknown as { __notes: typeof shown }).__notes = shown;
        class Recorded extends Real {
          constructor(title: string, opts?: NotificationOptions) {
            super(title, opts);
            shown.push({ title, body: opts?.body ?? '' });
          }
        }
        window.Notification = Recorded;
      });
      const opened = await openPage(context, url);
      alice = { context, username: aliceName, ...opened };
      bob = await person(browser, url, bobName);
      await register(alice, PASSWORD);
      await register(bob, PASSWORD);
      await startChat(alice, bobName);
      await send(alice, 'hello bob');
      await bob.page.locator(`.convs button[data-peer="${aliceName}"]`).waitFor();
    }, 240_000);

    afterAll(async () => {
      await browser?.close();
      await stack?.stop();
    }, 60_000);

    it('reaches the settings page from the gear and walks it with the keyboard', async () => {
      const p = alice.page;
      const gear = p.getByRole('button', { name: /^Settings \(signed in as / });
      await gear.focus();
      await p.keyboard.press('Enter');
      await p.getByRole('heading', { level: 2, name: 'Settings', exact: true }).waitFor();
      expect(await p.evaluate(() => document.activeElement?.id)).toBe('settings-title');
      const names: string[] = [];
      for (let i = 0; i < 14; i++) {
        await p.keyboard.press('Tab');
        names.push(
          await p.evaluate(() => {
            const el = document.activeElement as HTMLElement | null;
            if (!el) return '';
            const label = el.id ? document.querySelector(`label[for="${el.id}"]`)?.textContent : null;
            return (el.getAttribute('aria-label') ?? label ?? el.closest('label')?.textContent ?? el.textContent ?? '')
              .replace(/\s+/g, ' ')
              .trim();
          }),
        );
      }
      const want = [
        'Choose picture',
        'Display name',
        'Dark theme',
        'What the server sees',
        'App lock',
        'Desktop notifications',
        'Linked devices',
        'Backup',
        'Sign out',
      ];
      expect(names.filter((n) => want.includes(n))).toEqual(want);
      for (const h of ['Profile', 'Appearance', 'Privacy & security', 'Notifications', 'Devices', 'Backup', 'Account'])
        await p.getByRole('heading', { level: 3, name: h, exact: true }).waitFor();
      problems.settings = await seriousViolations(p);
      // Escape closes it and gives focus back to the gear.
      await p.getByLabel('Display name').focus();
      await p.keyboard.press('Escape');
      await p.getByRole('heading', { level: 2, name: 'Settings' }).waitFor({ state: 'detached' });
      await waitFor(p, async () => gear.evaluate((el) => el === document.activeElement), 'focus back on the gear');
    });

    it('shares the display name and avatar with the contact, end to end', async () => {
      const p = alice.page;
      await openSettings(alice);
      await shoot(p, 'settings');
      // A picture made in the page (a canvas PNG), bigger than an avatar: the app resizes it.
      const png = await p.evaluate(() => {
        const c = document.createElement('canvas');
        c.width = 600;
        c.height = 400;
        const g = c.getContext('2d')!;
        g.fillStyle = '#e08a00';
        g.fillRect(0, 0, 600, 400);
        g.fillStyle = '#1b3d8f';
        g.beginPath();
        g.arc(300, 200, 150, 0, Math.PI * 2);
        g.fill();
        return c.toDataURL('image/png').split(',')[1]!;
      });
      await p.locator('#avatar-file').setInputFiles({
        name: 'me.png',
        mimeType: 'image/png',
        buffer: Buffer.from(png, 'base64'),
      });
      await p.getByLabel('Display name').fill('Alice Liddell');
      await p.getByRole('button', { name: 'Save profile' }).click();
      await p.getByRole('status').getByText('Saved and sent').waitFor();
      const own = await p
        .locator('.profile-row img.avatar')
        .evaluate((img: HTMLImageElement) => [img.naturalWidth, img.naturalHeight]);
      expect(own).toEqual([256, 256]);
      // Bob sees the name where the username was, the picture in the list and the chat header, and
      // the username still in the header.
      const row = bob.page.locator(`.convs button[data-peer="${aliceName}"]`);
      await waitFor(bob.page, async () => (await row.textContent())?.includes('Alice Liddell') ?? false, 'the name');
      await row.locator('img.avatar').waitFor();
      await row.click();
      await bob.page.getByRole('heading', { level: 2, name: 'Alice Liddell', exact: true }).waitFor();
      await bob.page.locator('.chat header img.avatar').waitFor();
      expect(await bob.page.locator('.chat .who .username').textContent()).toBe(`@${aliceName}`);
      problems.profile = await seriousViolations(bob.page);
      await shoot(bob.page, 'profile-seen');
      await closeSettings(alice);
    });

    it('makes http(s) links clickable with noopener noreferrer, and nothing else', async () => {
      await send(bob, 'docs at https://example.org/guide?x=1, not javascript:alert(1) or data:text/html,hi');
      await openChat(alice, bobName);
      const bubble = alice.page.locator('[data-testid="message"]', { hasText: 'docs at' }).locator('.bubble');
      await bubble.waitFor();
      const links = await bubble
        .locator('a')
        .evaluateAll((as) =>
          as.map((a) => [a.getAttribute('href'), a.getAttribute('target'), a.getAttribute('rel'), a.textContent]),
        );
      expect(links).toEqual([
        ['https://example.org/guide?x=1', '_blank', 'noopener noreferrer', 'https://example.org/guide?x=1'],
      ]);
      expect(await alice.page.locator('.log a[href^="javascript:"], .log a[href^="data:"]').count()).toBe(0);
      expect(await bubble.textContent()).toContain('javascript:alert(1)');
    });

    it('grows the composer up to six lines; Shift+Enter adds a line and Enter sends', async () => {
      const box = alice.page.getByLabel('Message', { exact: true });
      const height = () => box.evaluate((el) => el.getBoundingClientRect().height);
      await box.fill('');
      const one = await height();
      await box.focus();
      const lines: number[] = [];
      for (let i = 1; i <= 9; i++) {
        await alice.page.keyboard.type(`line ${i}`);
        lines.push(await height());
        if (i < 9) await alice.page.keyboard.press('Shift+Enter');
      }
      expect(lines[2]!).toBeGreaterThan(one);
      expect(lines[5]!).toBeGreaterThan(lines[2]!);
      expect(lines[8]).toBe(lines[5]);
      await shoot(alice.page, 'composer');
      await alice.page.keyboard.press('Enter');
      await waitFor(alice.page, async () => (await bubbles(alice.page)).some((b) => b.includes('line 9')), 'sent');
      expect((await bubbles(alice.page)).find((b) => b.includes('line 9'))).toContain('line 1\nline 2');
      expect(await height()).toBe(one);
    });

    it('finds an old message offline-capable from the search field and jumps to it; the list filters by name', async () => {
      await send(alice, 'the harbour is lovely at dawn');
      for (let i = 0; i < 25; i++) await send(bob, `filler ${i} 🙂 🎉`);
      await waitFor(alice.page, async () => (await bubbles(alice.page)).includes('filler 24 🙂 🎉'), 'fillers');
      // Emoji in colour (fonts-noto-color-emoji on Debian, docs/ARCHITECTURE.md entry 43), not boxes.
      await shoot(alice.page, 'emoji');
      const field = alice.page.getByLabel('Search messages');
      await field.fill('harb');
      const hit = alice.page.getByTestId('search-hit');
      await hit.first().waitFor();
      expect(await hit.count()).toBe(1);
      expect(await hit.locator('mark').textContent()).toBe('harbour');
      problems.search = await seriousViolations(alice.page);
      await shoot(alice.page, 'search');
      await hit.click();
      const found = alice.page.locator('.log .found');
      await found.waitFor();
      expect(await found.textContent()).toContain('the harbour is lovely at dawn');
      expect(
        await found.evaluate((el) => {
          const r = el.getBoundingClientRect();
          return r.top >= 0 && r.bottom <= innerHeight;
        }),
      ).toBe(true);
      await shoot(alice.page, 'search-jump');
      // The same field filters the conversation list by name as you type.
      await field.fill('zzz-nobody');
      expect(await alice.page.locator('.convs button[data-peer]').count()).toBe(0);
      await field.fill('BOB_');
      expect(await alice.page.locator(`.convs button[data-peer="${bobName}"]`).count()).toBe(1);
      await field.fill('');
    });

    it('notifies while the tab is hidden ("New message" unless previews are on) and counts unread in the title', async () => {
      const p = alice.page;
      await openSettings(alice);
      await p.getByLabel('Desktop notifications').check();
      await closeSettings(alice);
      await openChat(alice, bobName);
      await setHidden(p, true);
      await send(bob, 'psst, the plan');
      const notes = () => p.evaluate(() => (window as unknown as { __notes: Note[] }).__notes);
      await waitFor(p, async () => (await notes()).length === 1, 'a notification');
      expect(await notes()).toEqual([{ title: 'Hush', body: 'New message' }]);
      await waitFor(p, async () => (await p.title()) === '(1) Hush', 'the unread title');
      await openSettings(alice);
      await p.getByLabel('Show message previews').check();
      await shoot(p, 'notifications');
      await closeSettings(alice);
      await send(bob, 'second one');
      await waitFor(p, async () => (await notes()).length === 2, 'a second notification');
      expect((await notes())[1]).toEqual({ title: bobName, body: 'second one' });
      await waitFor(p, async () => (await p.title()) === '(2) Hush', 'two unread in the title');
      await setHidden(p, false);
      await openChat(alice, bobName);
      await waitFor(p, async () => (await p.title()) === 'Hush', 'read: no count');
    });

    it('installs as an app: the manifest, and a service worker that starts the app shell offline', async () => {
      const p = alice.page;
      const manifest = await (await fetch(new URL('/manifest.webmanifest', url))).json();
      expect(manifest).toMatchObject({
        name: expect.stringContaining('Hush'),
        short_name: 'Hush',
        display: 'standalone',
        start_url: '/',
      });
      const icons = manifest.icons as { sizes: string; purpose: string; src: string }[];
      for (const size of ['192x192', '512x512'])
        for (const purpose of ['any', 'maskable'])
          expect(icons.some((i) => i.sizes === size && i.purpose === purpose)).toBe(true);
      for (const i of icons) expect((await fetch(new URL(i.src, url))).headers.get('content-type')).toBe('image/png');
      // Registered after load; it claims the page once its shell is cached.
      await p.waitForFunction(() => navigator.serviceWorker.controller !== null, null, { timeout: 30_000 });
      await p.reload();
      await p.getByRole('button', { name: 'New chat', exact: true }).waitFor();
      expect(await p.evaluate(() => navigator.serviceWorker.controller !== null)).toBe(true);
      // Nothing but the shell is cached: no API answer, no attachment.
      const cached = await p.evaluate(async () => {
        const out: string[] = [];
        for (const name of await caches.keys())
          for (const r of await (await caches.open(name)).keys()) out.push(new URL(r.url).pathname);
        return out;
      });
      expect(cached).toContain('/');
      expect(cached.filter((u) => !/^\/(|manifest\.webmanifest|icons\/[\w-]+\.png|assets\/[\w.-]+)$/.test(u))).toEqual(
        [],
      );
      await alice.context.setOffline(true);
      await p.reload();
      await p.getByRole('button', { name: 'New chat', exact: true }).waitFor();
      await openChat(alice, bobName);
      expect(await bubbles(p)).toContain('second one');
      // Search runs on this device: offline too.
      await p.getByLabel('Search messages').fill('lovely');
      await p.getByTestId('search-hit').waitFor();
      await p.getByLabel('Search messages').fill('');
      await alice.context.setOffline(false);
      await p.getByTestId('my-connection').getByText('Online').waitFor({ timeout: 30_000 });
    });

    it('a chat started while the contact is still registering turns usable once their keys exist', async () => {
      const daveName = `dave_${suffix}`;
      const dave = await person(browser, url, daveName);
      // Dave's first device publishes its keys only when we let it.
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      await dave.page.route('**/v1/keys', async (route) => {
        if (route.request().method() === 'PUT') await gate;
        await route.continue();
      });
      const held = dave.page.waitForRequest((r) => r.url().endsWith('/v1/keys') && r.method() === 'PUT');
      await dave.page.getByRole('button', { name: 'Create account', exact: true }).click();
      await dave.page.getByLabel('Username', { exact: true }).fill(daveName);
      await dave.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
      await dave.page.getByLabel('Confirm password', { exact: true }).fill(PASSWORD);
      await dave.page.getByRole('button', { name: 'Register', exact: true }).click();
      await held;
      // The account exists, its keys do not yet: "not registered yet", not "cannot encrypt".
      await startChat(alice, daveName);
      const banner = alice.page.getByTestId('not-registered');
      await banner.waitFor();
      expect(await banner.textContent()).toContain('not registered yet');
      expect(await alice.page.getByTestId('cannot-encrypt').count()).toBe(0);
      expect(await alice.page.getByTestId('encryption-status').textContent()).toContain('Not registered yet');
      problems.waiting = await seriousViolations(alice.page);
      await shoot(alice.page, 'not-registered');
      release();
      await dave.page.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 30_000 });
      // While the chat is open the app looks again by itself (1 s, 2 s, 4 s, ... backoff).
      await waitFor(
        alice.page,
        async () => (await alice.page.getByTestId('encryption-status').getAttribute('data-status')) === 'yellow',
        'the chat turning usable',
      );
      await send(alice, 'welcome, dave');
      await dave.page.locator(`.convs button[data-peer="${aliceName}"]`).waitFor({ timeout: 30_000 });
      await dave.page.locator(`.convs button[data-peer="${aliceName}"]`).click();
      await waitFor(dave.page, async () => (await bubbles(dave.page)).includes('welcome, dave'), 'dave reads it');
      await dave.page.unrouteAll({ behavior: 'ignoreErrors' });
      await dave.context.close();
    });

    it('has no serious or critical accessibility violations on the new screens, and stays within the CSP', () => {
      expect(Object.fromEntries(Object.entries(problems).filter(([, v]) => v.length > 0))).toEqual({});
      expect(Object.keys(problems).sort()).toEqual(['profile', 'search', 'settings', 'waiting']);
      expect([...alice.csp, ...bob.csp].filter((v) => !v.startsWith('script-src wasm-eval'))).toEqual([]);
      expect([...alice.dialogs, ...bob.dialogs]).toEqual([]);
    });
  },
);

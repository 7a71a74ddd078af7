/**
 * The browser client end to end, in Debian's Chromium against the real stack (gateway, auth,
 * keydir, presence, NATS JetStream, Redis as separate processes). The steps
 * share one stack and build on each other (alice and bob keep their browsers), so they run in
 * order. Screenshots go to test-artifacts/screenshots/ (git-ignored).
 */

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { natsOptions, repoRoot, type Stack, startStack } from '@hush/testkit';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bubbles,
  chromiumAvailable,
  DESKTOP,
  ensureWebBuild,
  launch,
  openChat,
  openPage,
  openSettings,
  type Person,
  PHONE,
  person,
  register,
  screenshotDir,
  send,
  seriousViolations,
  startChat,
  waitFor,
  wsFrames,
} from './browser.js';
import { forgedBundle } from './lying.js';

const PASSWORD = 'correct horse battery';
// The promise to users: a canary typed into the client must never appear in any byte the server side
// stores, publishes or logs. It rides in the first message; the last step searches for it.
const CANARY = `canary-${Math.random().toString(36).slice(2, 12)}`;
const HELLO = `hello bob ${CANARY}`;
const XSS_IMG = '<img src=x onerror=alert(1)>';
const XSS_SCRIPT = '<script>window.__pwned = 1; alert(2)</script>';

// Generous per-step timeout: CI machines run other suites beside this one; nothing here is a speed test.
describe.skipIf(!chromiumAvailable)('web client in Chromium against the real stack', { timeout: 90_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let url: string;
  let alice: Person;
  let bob: Person;
  const suffix = Math.random().toString(36).slice(2, 7);
  const aliceName = `alice_${suffix}`;
  const bobName = `bob_${suffix}`;
  const shots: string[] = [];
  const wiretap: Buffer[] = [];
  const subjectsSeen = new Set<string>();
  let wiretapNc: NatsConnection | undefined;

  const tick = (p: Person, text: string) =>
    p.page.locator('[data-testid="message"]', { hasText: text }).last().getAttribute('data-tick');
  const status = (p: Person) => p.page.getByTestId('encryption-status').getAttribute('data-status');
  const shoot = async (page: Page, name: string) => {
    const file = join(screenshotDir(repoRoot), `${name}.png`);
    await page.screenshot({ path: file, fullPage: false });
    shots.push(file);
  };

  beforeAll(async () => {
    const webRoot = ensureWebBuild(repoRoot);
    stack = await startStack({ webRoot, env: { LOG_LEVEL: 'info' } });
    url = stack.gatewayUrls[0]!;
    // A wiretap on every subject of the broker: all that the server side publishes, JetStream
    // envelopes and API calls included.
    wiretapNc = await connect({ servers: stack.nats.url, ...natsOptions(stack.nats, 'observer') });
    wiretapNc.subscribe('>', {
      callback: (_e, m) => {
        wiretap.push(Buffer.from(m.data));
        if (m.headers) wiretap.push(Buffer.from(m.headers.toString()));
        subjectsSeen.add(m.subject.split('.')[0]!);
      },
    });
    browser = await launch();
    alice = await person(browser, url, aliceName);
    bob = await person(browser, url, bobName);
  }, 240_000);

  afterAll(async () => {
    await wiretapNc?.close();
    await browser?.close();
    await stack?.stop();
    if (shots.length > 0) console.log(`screenshots:\n${shots.join('\n')}`);
  }, 60_000);

  it('registers two people who start a chat and talk both ways, with ticks up to read and typing shown', async () => {
    await register(alice, PASSWORD);
    await register(bob, PASSWORD);
    await startChat(alice, bobName);
    expect(await status(alice)).toBe('yellow');
    await send(alice, HELLO);
    // Bob sees a new conversation with one unread message.
    await bob.page.locator(`.convs button[data-peer="${aliceName}"]`).waitFor();
    await waitFor(
      bob.page,
      async () => (await bob.page.getByTestId('unread').textContent())?.startsWith('1') ?? false,
      'unread 1',
    );
    await waitFor(alice.page, async () => (await tick(alice, HELLO)) === 'delivered', 'delivered tick');
    await openChat(bob, aliceName);
    expect(await bubbles(bob.page)).toEqual([HELLO]);
    await waitFor(alice.page, async () => (await tick(alice, HELLO)) === 'read', 'read tick');
    // Typing travels encrypted like any message.
    await bob.page.getByLabel('Message', { exact: true }).pressSequentially('hi al', { delay: 20 });
    await alice.page.getByTestId('typing').getByText(`${bobName} is typing`).waitFor();
    await bob.page.getByLabel('Message', { exact: true }).fill('hi alice');
    await bob.page.keyboard.press('Enter');
    await waitFor(alice.page, async () => (await bubbles(alice.page)).includes('hi alice'), 'reply');
    expect(await bubbles(alice.page)).toEqual([HELLO, 'hi alice']);
    await waitFor(
      alice.page,
      async () => (await alice.page.getByTestId('typing').textContent()) === '',
      'typing cleared',
    );
    // Presence: they share it once they have talked (contacts).
    await waitFor(
      alice.page,
      async () => (await alice.page.getByTestId('presence').textContent()) === 'online',
      'presence online',
    );
  });

  it('shows markup in a message as text and runs none of it', async () => {
    await send(alice, XSS_IMG);
    await send(alice, XSS_SCRIPT);
    await waitFor(bob.page, async () => (await bubbles(bob.page)).includes(XSS_SCRIPT), 'xss messages');
    const texts = await bubbles(bob.page);
    expect(texts).toContain(XSS_IMG);
    expect(texts).toContain(XSS_SCRIPT);
    expect(await bob.page.locator('.log img, .log script').count()).toBe(0);
    expect(await bob.page.evaluate(() => (window as { __pwned?: number }).__pwned)).toBeUndefined();
    expect(bob.dialogs).toEqual([]);
    expect(alice.dialogs).toEqual([]);
  });

  it('shows what the server sees: routing fields and base64 ciphertext, never the text', async () => {
    await openSettings(alice);
    await alice.page.getByLabel('What the server sees').check();
    const wire = alice.page.locator('[data-testid="message"]', { hasText: HELLO }).getByTestId('wire');
    await wire.waitFor();
    const w = (await wire.textContent()) ?? '';
    expect(w).toMatch(/"type": "send"/);
    expect(w).toMatch(/"body": "[A-Za-z0-9+/=]{40,}"/);
    expect(w).toMatch(/bytes of ciphertext/);
    expect(w.replace(/^.*?\n/, '')).not.toContain(HELLO);
    await shoot(alice.page, 'desktop-light-chat-server-view');
    await alice.page.getByLabel('What the server sees').uncheck();
  });

  it('verifies safety numbers both ways by pasting the QR payload, and the conversation turns green', async () => {
    await alice.page.getByTestId('encryption-status').click();
    await bob.page.getByTestId('encryption-status').click();
    const aDigits = (await alice.page.getByTestId('safety-number').locator('li').allTextContents()).join('');
    const bDigits = (await bob.page.getByTestId('safety-number').locator('li').allTextContents()).join('');
    expect(aDigits).toMatch(/^\d{60}$/);
    expect(aDigits).toBe(bDigits);
    expect(await alice.page.getByTestId('safety-number').locator('li').count()).toBe(12);
    expect(await alice.page.getByRole('img', { name: /QR code/ }).getAttribute('src')).toMatch(
      /^data:image\/gif;base64,/,
    );
    await shoot(alice.page, 'desktop-light-verify');
    // A wrong code is refused.
    await bob.page.getByLabel('Their code’s text').fill('SFVTSFFSAQ==');
    await bob.page.getByRole('button', { name: 'Compare' }).click();
    await bob.page.getByTestId('verify-result').getByText('do not match').waitFor();
    // Each pastes the other's payload (what the camera would read from the other screen).
    const aPayload = (await alice.page.getByTestId('qr-payload').textContent())!;
    const bPayload = (await bob.page.getByTestId('qr-payload').textContent())!;
    await bob.page.getByLabel('Their code’s text').fill(aPayload);
    await bob.page.getByRole('button', { name: 'Compare' }).click();
    await bob.page.getByTestId('verify-result').getByText('The codes match').waitFor();
    await alice.page.getByLabel('Their code’s text').fill(bPayload);
    await alice.page.getByRole('button', { name: 'Compare' }).click();
    await alice.page.getByTestId('verify-result').getByText('The codes match').waitFor();
    for (const p of [alice, bob]) {
      await p.page.getByRole('button', { name: 'Back to chat' }).click();
      expect(await status(p)).toBe('green');
    }
  });

  it('keeps history and verification across a reload', async () => {
    await alice.page.reload();
    await openChat(alice, bobName);
    expect(await bubbles(alice.page)).toEqual([HELLO, 'hi alice', XSS_IMG, XSS_SCRIPT]);
    expect(await status(alice)).toBe('green');
  });

  it('locks the local store with an app-lock passphrase and opens it again only with that passphrase', async () => {
    const before = await bubbles(alice.page);
    await openSettings(alice);
    await alice.page.getByRole('button', { name: 'App lock' }).click();
    await alice.page.getByLabel('App lock passphrase').fill('a long passphrase');
    await alice.page.getByLabel('Confirm passphrase').fill('a long passphrase');
    await alice.page.getByRole('button', { name: 'Set lock' }).click();
    await alice.page.getByRole('button', { name: 'App lock (on)' }).waitFor();
    await alice.page.reload();
    await alice.page.getByRole('heading', { name: 'Hush is locked' }).waitFor();
    await alice.page.getByLabel('App lock passphrase').fill('not the passphrase');
    await alice.page.getByRole('button', { name: 'Unlock' }).click();
    await alice.page.getByRole('alert').getByText('Wrong passphrase').waitFor();
    await alice.page.getByLabel('App lock passphrase').fill('a long passphrase');
    await alice.page.getByRole('button', { name: 'Unlock' }).click();
    await openChat(alice, bobName);
    expect(await bubbles(alice.page)).toEqual(before);
    expect(await status(alice)).toBe('green');
    // Remove it again; the store goes back to the stored non-extractable key.
    await openSettings(alice);
    await alice.page.getByRole('button', { name: 'App lock (on)' }).click();
    await alice.page.getByRole('button', { name: 'Remove app lock' }).click();
    await alice.page.getByRole('button', { name: 'App lock', exact: true }).waitFor();
    await alice.page.reload();
    await openChat(alice, bobName);
    expect(await bubbles(alice.page)).toEqual(before);
  });

  it('delivers everything, in order, to a peer that was offline, when it returns', async () => {
    await bob.page.close();
    const sent = ['while you were out 1', 'while you were out 2', 'while you were out 3'];
    for (const t of sent) await send(alice, t);
    for (const t of sent) await waitFor(alice.page, async () => (await tick(alice, t)) === 'sent', `sent: ${t}`);
    const again = await openPage(bob.context, url, bob);
    bob.page = again.page;
    await openChat(bob, aliceName);
    await waitFor(bob.page, async () => (await bubbles(bob.page)).length === 7, 'backlog');
    expect((await bubbles(bob.page)).slice(-3)).toEqual(sent);
    await waitFor(alice.page, async () => (await tick(alice, sent[2]!)) === 'read', 'read after return');
  });

  it('holds a message typed offline in the outbox and delivers it exactly once on reconnect', async () => {
    await alice.context.setOffline(true);
    await alice.page.getByTestId('offline-banner').waitFor();
    await send(alice, 'typed while offline');
    expect(await tick(alice, 'typed while offline')).toBe('pending');
    await alice.context.setOffline(false);
    await waitFor(
      alice.page,
      async () => (await tick(alice, 'typed while offline')) === 'read',
      'offline message read',
      25_000,
    );
    await alice.page.getByTestId('offline-banner').waitFor({ state: 'detached' });
    const copies = (await bubbles(bob.page)).filter((t) => t === 'typed while offline');
    expect(copies).toHaveLength(1);
    // Still exactly one after bob reloads (nothing redelivered from the mailbox).
    await bob.page.reload();
    await openChat(bob, aliceName);
    expect((await bubbles(bob.page)).filter((t) => t === 'typed while offline')).toHaveLength(1);
  });

  it('holds everything for a verified contact who comes back with a new identity until the user accepts it', async () => {
    // A fresh socket, so every frame alice's browser sends from here on is seen.
    const aliceFrames = wsFrames(alice.page);
    await alice.page.reload();
    await openChat(alice, bobName);
    const bobNew = await person(browser, url, bobName);
    // A fresh profile signs in pending ("Link this device"); bob chooses the warned reset.
    await bobNew.page.getByLabel('Username', { exact: true }).fill(bobName);
    await bobNew.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await bobNew.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await bobNew.page.getByText('No other device?').click();
    await bobNew.page.getByRole('checkbox').check();
    await bobNew.page.getByRole('button', { name: 'Reset identity' }).click();
    await bobNew.page.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 20_000 });
    await startChat(bobNew, aliceName);
    await send(bobNew, 'new browser, who dis');
    await waitFor(
      alice.page,
      async () => (await bubbles(alice.page)).includes('new browser, who dis'),
      'message from new profile',
    );
    // Never silent: a notice in the timeline, yellow, and a banner with the two choices.
    await alice.page.getByTestId('timeline-notice').getByText(`${bobName}’s safety number changed`).waitFor();
    expect(await status(alice)).toBe('yellow');
    const banner = alice.page.getByTestId('key-change-banner');
    expect(await banner.textContent()).toMatch(/safety number has changed since you verified it/);
    expect(await banner.textContent()).toMatch(/Nothing is sent/);
    const accept = banner.getByRole('button', { name: 'Accept new safety number' });
    expect(await banner.getByRole('button', { name: 'Verify again' }).isVisible()).toBe(true);
    // Alice answers: it waits in the outbox. She looks at the new safety number first.
    await send(alice, 'welcome back');
    expect(await tick(alice, 'welcome back')).toBe('pending');
    await banner.getByRole('button', { name: 'Verify again' }).click();
    await alice.page.getByTestId('new-safety-number').waitFor();
    await shoot(alice.page, 'desktop-light-verify-changed');
    await alice.page.getByRole('button', { name: 'Back to chat' }).click();
    await shoot(alice.page, 'desktop-light-key-changed');
    // Nothing left her browser for bob while the change was unanswered: no message, no receipt.
    const before = aliceFrames.sends();
    expect(before).toEqual([]);
    expect(await tick(alice, 'welcome back')).toBe('pending');
    await accept.click();
    await waitFor(
      bobNew.page,
      async () => (await bubbles(bobNew.page)).includes('welcome back'),
      'reply to new profile after accepting',
    );
    expect(await status(alice)).toBe('yellow');
    await alice.page.getByTestId('key-change-banner').waitFor({ state: 'detached' });
    expect(aliceFrames.sends().length).toBeGreaterThan(0);
    await bobNew.context.close();
  });

  it('catches a key directory that swaps a verified contact’s identity: nothing is sent, an unverified one shows the notice', async () => {
    const frank = await person(browser, url, `frank_${suffix}`);
    const frames = wsFrames(frank.page);
    const grace = await person(browser, url, `grace_${suffix}`);
    const ivy = await person(browser, url, `ivy_${suffix}`);
    for (const p of [frank, grace, ivy]) await register(p, PASSWORD);
    for (const peer of [grace, ivy]) {
      await startChat(frank, peer.username);
      await send(frank, `hello ${peer.username}`);
      await waitFor(frank.page, async () => (await tick(frank, `hello ${peer.username}`)) !== 'pending', 'sent');
    }
    await openChat(frank, grace.username);
    await frank.page.getByTestId('encryption-status').click();
    const realDigits = (await frank.page.getByTestId('safety-number').locator('li').allTextContents()).join('');
    await frank.page.getByRole('button', { name: 'Mark as verified' }).click();
    await frank.page.getByRole('button', { name: 'Back to chat' }).click();
    expect(await status(frank)).toBe('green');
    // From now on the directory answers every key request with a forged identity it holds.
    await frank.context.route(/\/v1\/keys\/[a-z0-9]{10,32}$/, async (route) => {
      const userId = new URL(route.request().url()).pathname.split('/').pop()!;
      await route.fulfill({ json: await forgedBundle(userId) });
    });
    frames.mark();
    // Starting the chat again re-checks the contact's keys.
    await startChat(frank, grace.username);
    await frank.page.getByTestId('timeline-notice').getByText(`${grace.username}’s safety number changed`).waitFor();
    expect(await status(frank)).toBe('yellow');
    await frank.page.getByRole('button', { name: 'Accept new safety number' }).waitFor();
    await send(frank, 'this must never reach the forged device');
    expect(await tick(frank, 'this must never reach the forged device')).toBe('pending');
    await frank.page.getByTestId('encryption-status').click();
    await frank.page.getByTestId('new-safety-number').waitFor();
    const forgedDigits = (await frank.page.getByTestId('safety-number').locator('li').allTextContents()).join('');
    expect(forgedDigits).not.toBe(realDigits);
    await frank.page.getByRole('button', { name: 'Back to chat' }).click();
    // The unverified contact: the same lie shows as a notice, the chat stays yellow, no choice forced.
    await startChat(frank, ivy.username);
    await frank.page.getByTestId('timeline-notice').getByText(`${ivy.username}’s safety number changed`).waitFor();
    expect(await status(frank)).toBe('yellow');
    await frank.page.getByTestId('key-change-banner').getByRole('button', { name: 'Dismiss' }).waitFor();
    // On the wire: not one send frame left frank's browser after the swap (no message, receipt or
    // typing), and grace's real browser got nothing new.
    expect(frames.sends()).toEqual([]);
    await openChat(grace, frank.username);
    expect(await bubbles(grace.page)).toEqual([`hello ${grace.username}`]);
    await shoot(frank.page, 'desktop-light-key-swapped-unverified');
    // The held chat and its new safety number in both themes, phone and desktop.
    await openChat(frank, grace.username);
    for (const theme of ['light', 'dark'] as const)
      for (const [size, viewport] of [
        ['phone', PHONE],
        ['desktop', DESKTOP],
      ] as const) {
        await frank.page.setViewportSize(viewport);
        await frank.page.emulateMedia({ colorScheme: theme });
        await frank.page.getByTestId('key-change-banner').waitFor();
        await shoot(frank.page, `${size}-${theme}-key-changed-held`);
        await frank.page.getByTestId('encryption-status').click();
        await frank.page.getByTestId('new-safety-number').waitFor();
        await shoot(frank.page, `${size}-${theme}-verify-new-number`);
        await frank.page.getByRole('button', { name: 'Back to chat' }).click();
      }
    // A lie may still be in flight (the page re-asks for keys): drop the route without failing the run.
    await frank.context.unrouteAll({ behavior: 'ignoreErrors' });
    for (const p of [frank, grace, ivy]) await p.context.close();
  });

  it('catches a server that lies about keys: the chat turns red, Send is disabled and nothing is sent', async () => {
    const carol = await person(browser, url, `carol_${suffix}`);
    await register(carol, PASSWORD);
    await carol.context.close();
    const dave = await person(browser, url, `dave_${suffix}`);
    // Every key bundle dave fetches comes back with one signature byte changed.
    await dave.context.route(/\/v1\/keys\/[a-z0-9]{10,32}$/, async (route) => {
      const res = await route.fetch();
      const body = (await res.json()) as { devices: { signedPrekey: { signature: string } }[] };
      for (const d of body.devices) {
        const sig = d.signedPrekey.signature;
        d.signedPrekey.signature = (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1);
      }
      await route.fulfill({ response: res, json: body });
    });
    const framesSent: string[] = [];
    dave.page.on('websocket', (ws) => ws.on('framesent', (f) => framesSent.push(String(f.payload))));
    await register(dave, PASSWORD);
    await startChat(dave, `carol_${suffix}`);
    expect(await status(dave)).toBe('red');
    await dave.page.getByRole('alert').getByText('Cannot encrypt').waitFor();
    await dave.page.getByLabel('Message', { exact: true }).fill('this must never leave');
    expect(await dave.page.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(true);
    await dave.page.keyboard.press('Enter');
    // The composer refused it (a sent message clears the field), and the socket carried nothing.
    expect(await dave.page.getByLabel('Message', { exact: true }).inputValue()).toBe('this must never leave');
    expect(framesSent.filter((f) => f.includes('"type":"send"'))).toEqual([]);
    expect(await bubbles(dave.page)).toEqual([]);
    await shoot(dave.page, 'desktop-light-cannot-encrypt');
    await dave.context.unrouteAll({ behavior: 'ignoreErrors' });
    await dave.context.close();
  });

  it('can be used with the keyboard alone, with a visible focus ring', async () => {
    const erin = await person(browser, url, `kbd_${suffix}`);
    const k = erin.page.keyboard;
    await erin.page.getByLabel('Username', { exact: true }).waitFor();
    const focused = () =>
      erin.page.evaluate(() => document.activeElement?.getAttribute('id') ?? document.activeElement?.textContent ?? '');
    // Creating an account is its own form: reach "Create account" (after the sign-in fields and
    // button), then username, password twice, "Register".
    for (let i = 0; i < 4; i++) await k.press('Tab');
    expect(await focused()).toBe('Create account');
    await k.press('Enter');
    await waitFor(erin.page, async () => (await focused()) === 'username', 'focus in the username field');
    await k.type(erin.username);
    await k.press('Tab');
    await k.type(PASSWORD);
    await k.press('Tab');
    await k.type(PASSWORD);
    await k.press('Tab');
    expect(await focused()).toBe('Register');
    expect(await erin.page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).toBe('solid');
    await k.press('Enter');
    await erin.page.getByRole('button', { name: 'New chat', exact: true }).waitFor();
    await erin.page.getByRole('button', { name: 'New chat', exact: true }).focus();
    await k.press('Enter');
    await waitFor(erin.page, async () => (await focused()) === 'newchat-user', 'focus in the new-chat field');
    await k.type(aliceName);
    await k.press('Enter');
    await erin.page.getByRole('heading', { level: 2, name: aliceName }).waitFor();
    await waitFor(erin.page, async () => (await focused()) === 'composer', 'focus in the composer');
    await k.type('typed without a mouse');
    await k.press('Enter');
    await alice.page.locator(`.convs button[data-peer="kbd_${suffix}"]`).waitFor();
    await erin.context.close();
  });

  it('has no serious accessibility violations on the main screens, and the page stays within its CSP', async () => {
    const fresh = await person(browser, url, `erin_${suffix}`);
    const problems: Record<string, string[]> = {};
    problems.signIn = await seriousViolations(fresh.page);
    await fresh.context.close();
    problems.chat = await seriousViolations(alice.page);
    await alice.page.getByTestId('encryption-status').click();
    problems.verify = await seriousViolations(alice.page);
    await alice.page.getByRole('button', { name: 'Back to chat' }).click();
    await openSettings(alice);
    problems.settings = await seriousViolations(alice.page);
    await alice.page.getByRole('button', { name: 'Dark theme' }).click();
    problems.chatDark = await seriousViolations(alice.page);
    await alice.page.getByRole('button', { name: 'Dark theme' }).click();
    expect(problems).toEqual({ signIn: [], chat: [], verify: [], settings: [], chatDark: [] });
    // @hush/crypto compiles a small WebAssembly SHA-512 for safety numbers and falls back to plain
    // JavaScript if a CSP without 'wasm-unsafe-eval' refuses it: such a refusal would be expected
    // and handled. Anything else is a real violation.
    const unexpected = [...alice.csp, ...bob.csp].filter((v) => !v.startsWith('script-src wasm-eval'));
    expect(unexpected).toEqual([]);
    const csp = (await fetch(url)).headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    // 'wasm-unsafe-eval' (WebAssembly compilation only) is allowed; JS eval and inline code are not.
    expect(csp).not.toMatch(/'unsafe-(inline|eval)'/);
  }, 240_000);

  it('remembers the theme toggle and saves screenshots of the main screens in both themes at phone and desktop width', async () => {
    // Back to "follow the system" so emulated light/dark apply.
    await alice.page.evaluate(() => {
      localStorage.removeItem('hush.theme');
      delete document.documentElement.dataset.theme;
    });
    for (const theme of ['light', 'dark'] as const) {
      for (const [size, viewport] of [
        ['phone', PHONE],
        ['desktop', DESKTOP],
      ] as const) {
        const ctx = await browser.newContext({ viewport, colorScheme: theme });
        const page = await ctx.newPage();
        await page.goto(url);
        await page.getByRole('button', { name: 'Sign in', exact: true }).waitFor();
        await shoot(page, `${size}-${theme}-sign-in`);
        await ctx.close();
        await alice.page.setViewportSize(viewport);
        await alice.page.emulateMedia({ colorScheme: theme });
        if (size === 'phone') {
          // On a phone the list and the chat are separate screens.
          const back = alice.page.getByRole('button', { name: 'Chats' });
          if (await back.isVisible()) await back.click();
          await shoot(alice.page, `${size}-${theme}-conversations`);
          await openChat(alice, bobName);
        }
        await shoot(alice.page, `${size}-${theme}-chat`);
        await alice.page.getByTestId('encryption-status').click();
        await shoot(alice.page, `${size}-${theme}-verify`);
        await alice.page.getByRole('button', { name: 'Back to chat' }).click();
      }
    }
    // Arriving messages animate, except when the system asks for reduced motion.
    const arrivalAnimation = () =>
      alice.page.evaluate(() => {
        const el = document.createElement('div');
        el.className = 'msg in fresh';
        document.querySelector('.log')!.append(el);
        const name = getComputedStyle(el).animationName;
        el.remove();
        return name;
      });
    await alice.page.emulateMedia({ reducedMotion: 'no-preference' });
    expect(await arrivalAnimation()).toBe('arrive');
    await alice.page.emulateMedia({ reducedMotion: 'reduce' });
    expect(await arrivalAnimation()).toBe('none');
    // The toggle wins over the system setting and survives a reload.
    await alice.page.emulateMedia({ colorScheme: 'light' });
    await openSettings(alice);
    await alice.page.getByRole('button', { name: 'Dark theme' }).click();
    await alice.page.reload();
    expect(await alice.page.evaluate(() => document.documentElement.dataset.theme)).toBe('dark');
    expect(shots.length).toBeGreaterThanOrEqual(16);
  }, 240_000);
  it('never lets the canary reach a byte the server side published, stored or logged', async () => {
    // The forms a leak could take: the text itself, or the text base64-encoded at any alignment.
    const needles = [CANARY, ...[0, 1, 2].map((i) => Buffer.from(CANARY.slice(i)).toString('base64').slice(4, -4))];
    const leaks = (where: string, bytes: Buffer | string) =>
      needles.filter((n) => bytes.includes(n)).map((n) => `${where}: ${n}`);
    const found: string[] = [];

    // 1. Everything published on NATS during the whole run (the wiretap is not vacuous: it saw
    //    the mailboxes and the service calls).
    expect(subjectsSeen).toContain('mbox');
    expect(subjectsSeen).toContain('keydir');
    found.push(...leaks('nats traffic', Buffer.concat(wiretap)));

    // 2. Every value in Redis.
    const redis = new Redis(stack.redis.url);
    let keys = 0;
    for await (const batch of redis.scanStream({ count: 500 })) {
      for (const key of batch as string[]) {
        keys++;
        const type = await redis.type(key);
        const value =
          type === 'string'
            ? await redis.getBuffer(key)
            : type === 'hash'
              ? JSON.stringify(await redis.hgetall(key))
              : type === 'list'
                ? JSON.stringify(await redis.lrange(key, 0, -1))
                : type === 'set'
                  ? JSON.stringify(await redis.smembers(key))
                  : type === 'zset'
                    ? JSON.stringify(await redis.zrange(key, '0', '-1'))
                    : '';
        found.push(...leaks(`redis ${key}`, value ?? ''));
      }
    }
    redis.disconnect();
    expect(keys).toBeGreaterThan(0);

    // 3. Every file of the broker's JetStream store.
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir)) {
        const p = join(dir, e);
        if (statSync(p).isDirectory()) walk(p);
        else files.push(p);
      }
    };
    walk(stack.nats.dataDir!);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(f);
      } catch (e) {
        // The broker deletes files as it works (a consumer of a closed socket); gone is fine.
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
        throw e;
      }
      found.push(...leaks(`nats store ${f}`, bytes));
    }

    // 4. Every log line of every service and gateway.
    for (const p of [...stack.services, ...stack.gateways]) found.push(...leaks(`${p.name} log`, p.output()));

    expect(found).toEqual([]);
  });
});

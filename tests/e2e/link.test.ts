/**
 * Device linking in Chromium against the real stack: one account links a second browser by the
 * pasted code (no identity reset), both of its devices receive a conversation and see each other's
 * sent messages, the contact is told a device was added, and the second browser is signed out
 * remotely and stops receiving. Screenshots of the new screens go to test-artifacts/screenshots/.
 */
import { repoRoot, type Stack, startStack } from '@hush/testkit';
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bubbles,
  chromiumAvailable,
  DESKTOP,
  ensureWebBuild,
  launch,
  openChat,
  openSettings,
  type Person,
  person,
  register,
  screenshotDir,
  send,
  shootThemes,
  startChat,
  waitFor,
} from './browser.js';

const PASSWORD = 'correct horse battery';
/** A current phone size (iPhone 12-15). */
const PHONE_390 = { width: 390, height: 844 };

describe.skipIf(!chromiumAvailable)('linking a second browser by pasted code', { timeout: 120_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let url: string;
  let alice: Person;
  let alicePhone: Person;
  let bob: Person;
  const suffix = Math.random().toString(36).slice(2, 7);
  /**
   * The lying server's tools. The phone's socket passes through a route that can hold back its
   * "send" frames (a server that keeps a removed device's message to deliver later); bob's page
   * records every key bundle it is served (what a server could replay later).
   */
  let holdPhoneSends = false;
  const phoneHeld: string[] = [];
  let phoneReady: { user: string; device: string } | null = null;
  /** What bob's page sends on its socket once it is routed (the last two tests). */
  const bobSent: string[] = [];
  const bobSawBundles: { userId: string; deviceList: { version: number; devices: string[] } }[] = [];
  const aliceName = `alice_${suffix}`;
  const bobName = `bob_${suffix}`;

  const shoot = (page: Page, name: string) => shootThemes(page, screenshotDir(repoRoot), 'link', name);
  const signInPending = async (p: Person) => {
    await p.page.getByLabel('Username', { exact: true }).fill(p.username);
    await p.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await p.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await p.page.getByRole('heading', { name: 'Link this device' }).waitFor({ timeout: 20_000 });
  };

  beforeAll(async () => {
    const webRoot = ensureWebBuild(repoRoot);
    stack = await startStack({ webRoot });
    url = stack.gatewayUrls[0]!;
    browser = await launch();
    alice = await person(browser, url, aliceName);
    bob = await person(browser, url, bobName);
    bob.page.on('response', async (r) => {
      if (!/\/v1\/keys\/[a-z0-9]{10,32}$/.test(r.url()) || !r.ok()) return;
      bobSawBundles.push(await r.json().catch(() => null));
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  it('signs a second browser in without resetting anything: it waits to be linked', async () => {
    await register(alice, PASSWORD);
    await register(bob, PASSWORD);
    await startChat(alice, bobName);
    await send(alice, 'before linking');
    await bob.page.locator(`.convs button[data-peer="${aliceName}"]`).waitFor();
    await openChat(bob, aliceName);
    await waitFor(bob.page, async () => (await bubbles(bob.page)).includes('before linking'), 'first message');

    alicePhone = await person(browser, url, aliceName, PHONE_390);
    await alicePhone.context.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => {
        if (holdPhoneSends && String(m).includes('"type":"send"')) phoneHeld.push(String(m));
        else server.send(m);
      });
      server.onMessage((m) => {
        const f = JSON.parse(String(m));
        if (f.type === 'ready') phoneReady = { user: f.user, device: f.device };
        ws.send(m);
      });
    });
    await signInPending(alicePhone);
    const code = await alicePhone.page.getByTestId('link-code').textContent();
    expect(code).toMatch(/^hush-link:1:[a-z0-9]+:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]{43}$/);
    await alicePhone.page.getByRole('img', { name: 'QR code to link this device' }).waitFor();
    await shoot(alicePhone.page, 'this-device-phone');
    await alicePhone.page.setViewportSize(DESKTOP);
    await shoot(alicePhone.page, 'this-device-desktop');
    await alicePhone.page.getByText('No other device?').click();
    await alicePhone.page.getByRole('button', { name: 'Reset identity' }).waitFor();
    expect(await alicePhone.page.getByRole('button', { name: 'Reset identity' }).isDisabled()).toBe(true);
    await shoot(alicePhone.page, 'reset-warning-desktop');
    await alicePhone.page.getByText('No other device?').click();
    await alicePhone.page.setViewportSize(PHONE_390);
    // The first device is untouched: still green-lit to send, same conversation.
    await send(alice, 'still here');
    await waitFor(bob.page, async () => (await bubbles(bob.page)).includes('still here'), 'message after sign-in');
  });

  it('links it from the first browser by the pasted code, after comparing the short code', async () => {
    const code = (await alicePhone.page.getByTestId('link-code').textContent())!;
    await openSettings(alice);
    await alice.page.getByRole('button', { name: 'Linked devices', exact: true }).click();
    await alice.page.getByRole('heading', { name: 'Linked devices' }).waitFor();
    await alice.page.getByTestId('device-row').first().waitFor();
    expect(await alice.page.getByTestId('device-row').count()).toBe(2);
    await alice.page.getByRole('button', { name: 'Link a new device' }).click();
    await alice.page.getByLabel('Link code', { exact: true }).fill(code);
    await shoot(alice.page, 'paste-desktop');
    await alice.page.getByRole('button', { name: 'Continue' }).click();
    await alice.page.getByRole('button', { name: 'Approve', exact: true }).waitFor();
    const onOld = await alice.page.getByTestId('link-compare').textContent();
    await alicePhone.page.getByTestId('link-compare').waitFor();
    const onNew = await alicePhone.page.getByTestId('link-compare').textContent();
    expect(onOld).toMatch(/^\d{3} \d{3}$/);
    expect(onNew).toBe(onOld);
    await shoot(alice.page, 'approve-desktop');
    await shoot(alicePhone.page, 'compare-phone');
    await alice.page.getByRole('button', { name: 'Approve', exact: true }).click();
    await alice.page.getByTestId('link-result').waitFor({ timeout: 30_000 });
    expect(await alice.page.getByTestId('link-result').textContent()).toMatch(/is linked/);
    // The new browser now has the conversation and its recent history.
    await alicePhone.page.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 30_000 });
    await openChat(alicePhone, bobName);
    await waitFor(
      alicePhone.page,
      async () => {
        const b = await bubbles(alicePhone.page);
        return b.includes('before linking') && b.includes('still here');
      },
      'moved history',
    );
    await alice.page.getByRole('button', { name: 'Done' }).click();
    await waitFor(
      alice.page,
      async () => (await alice.page.getByTestId('device-row').count()) === 2,
      'two linked devices',
    );
    expect(await alice.page.locator('.tag.warn').count()).toBe(0);
    await shoot(alice.page, 'devices-desktop');
  });

  it('tells the contact, and both of alice’s browsers receive the conversation and each other’s sent copies', async () => {
    await bob.page.getByTestId('device-banner').waitFor({ timeout: 30_000 });
    expect(await bob.page.getByTestId('device-banner').textContent()).toContain(`${aliceName} added a device`);
    await shoot(bob.page, 'contact-notice-desktop');
    await send(bob, 'to both of you');
    await openChat(alice, bobName);
    for (const p of [alice, alicePhone]) {
      await waitFor(p.page, async () => (await bubbles(p.page)).includes('to both of you'), 'message on both');
    }
    await send(alicePhone, 'sent from the phone');
    await waitFor(bob.page, async () => (await bubbles(bob.page)).includes('sent from the phone'), 'bob gets it');
    await waitFor(alice.page, async () => (await bubbles(alice.page)).includes('sent from the phone'), 'sent copy');
    await send(alice, 'sent from the laptop');
    await waitFor(
      alicePhone.page,
      async () => (await bubbles(alicePhone.page)).includes('sent from the laptop'),
      'sent copy on phone',
    );
  });

  it('(a lying server) holds back a message the phone sends, to deliver it after the phone is removed', async () => {
    holdPhoneSends = true;
    await send(alicePhone, 'kept by a lying server');
    await waitFor(alicePhone.page, async () => phoneHeld.length > 0, 'held frame');
    // Held for good: the phone's outbox would send it again, and the server keeps that copy too.
    expect(await bubbles(bob.page)).not.toContain('kept by a lying server');
  });

  it('signs the second browser out remotely: it leaves at once and stops receiving', async () => {
    await openSettings(alice);
    await alice.page.getByRole('button', { name: 'Linked devices', exact: true }).click();
    await alice.page.getByTestId('device-row').nth(1).waitFor();
    await shoot(alice.page, 'devices-two-desktop');
    await alice.page.setViewportSize(PHONE_390);
    await shoot(alice.page, 'devices-phone');
    await alice.page.setViewportSize(DESKTOP);
    await alice.page.getByRole('button', { name: /^Sign out device / }).click();
    await alicePhone.page.getByRole('button', { name: 'Sign in', exact: true }).waitFor({ timeout: 30_000 });
    await waitFor(
      alice.page,
      async () => (await alice.page.getByTestId('device-row').count()) === 1,
      'one device left',
    );
    // Bob's next message reaches alice's remaining browser only.
    await openChat(bob, aliceName);
    await send(bob, 'after the sign-out');
    await alice.page.getByRole('button', { name: 'Back to chats' }).click();
    await openChat(alice, bobName);
    await waitFor(
      alice.page,
      async () => (await bubbles(alice.page)).includes('after the sign-out'),
      'still delivered',
    );
    // The signed-out browser wiped its keys and history and says why.
    expect(await alicePhone.page.getByRole('alert').textContent()).toContain('This device was signed out');
    expect(await alicePhone.page.locator('[data-testid="message"]').count()).toBe(0);
  });

  it('never encrypts to a ghost device the server adds outside the signed device list', async () => {
    const carol = await person(browser, url, `carol_${suffix}`);
    await register(carol, PASSWORD);
    // The key directory, as bob sees it, lies: carol's bundle gains a device her identity never listed.
    await bob.context.route(/\/v1\/keys\/[a-z0-9]{10,32}$/, async (route) => {
      const res = await route.fetch();
      const bundle = await res.json();
      if (bundle.devices?.length > 0) {
        bundle.devices.push({ ...bundle.devices[0], deviceId: 'ghostdevice1' });
      }
      await route.fulfill({ response: res, json: bundle });
    });
    const sent: string[] = [];
    bob.page.on('websocket', (ws) => ws.on('framesent', (f) => sent.push(String(f.payload))));
    // A fresh page, so its socket (and every frame on it) is the one recorded above.
    await bob.page.reload();
    await bob.page.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 30_000 });
    await startChat(bob, carol.username);
    await waitFor(
      bob.page,
      async () => (await bob.page.getByTestId('encryption-status').getAttribute('data-status')) === 'red',
      'red status',
    );
    await bob.page.getByLabel('Message', { exact: true }).fill('for carol only');
    expect(await bob.page.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(true);
    await bob.page.getByLabel('Message', { exact: true }).press('Enter');
    expect(sent.some((f) => f.includes('ghostdevice1'))).toBe(false);
    expect(sent.some((f) => f.includes(`"type":"send"`))).toBe(false);
    // The page keeps asking for carol's keys while her chat is red (engine/key-wait.ts): a lie still
    // being told when the route goes must not fail the run (Playwright: "Route is already handled").
    await bob.context.unrouteAll({ behavior: 'ignoreErrors' });
    await carol.context.close();
  });

  it('refuses a message the removed device sent, delivered late by a lying server, and says so', async () => {
    // Bob's socket now passes through a route that lets the test deliver what the server kept.
    let bobWs: WebSocketRoute | null = null;
    await bob.context.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => {
        bobSent.push(String(m));
        server.send(m);
      });
      bobWs = ws;
    });
    await bob.page.reload();
    await bob.page.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 30_000 });
    await waitFor(bob.page, async () => bobWs !== null, 'routed socket');
    await openChat(bob, aliceName);
    const frame = JSON.parse(phoneHeld[0]!) as { id: string; envelopes: { to: { user: string }; body: string }[] };
    const phone = phoneReady!;
    const forBob = frame.envelopes.find((e) => e.to.user !== phone.user)!;
    const deliver = { type: 'deliver', seq: 9_000_001, id: frame.id, from: phone, ts: Date.now(), body: forBob.body };
    (bobWs as unknown as WebSocketRoute).send(JSON.stringify(deliver));
    await bob.page.getByTestId('device-banner').filter({ hasText: 'was refused' }).waitFor({ timeout: 30_000 });
    expect(await bob.page.getByTestId('device-banner').textContent()).toContain(
      `A message from a device ${aliceName} removed was refused`,
    );
    expect(await bubbles(bob.page)).not.toContain('kept by a lying server');
    await shoot(bob.page, 'removed-device-refused-desktop');
  });

  it('refuses a stale device list the key directory replays (the removed phone back in it): red, nothing sent', async () => {
    const phone = phoneReady!;
    const stale = bobSawBundles.filter((b) => b?.userId === phone.user && b.deviceList.devices.includes(phone.device));
    expect(stale.length).toBeGreaterThan(0);
    const replay = stale.at(-1)!;
    await bob.context.route(new RegExp(`/v1/keys/${phone.user}$`), (route) => route.fulfill({ json: replay }));
    const from = bobSent.length;
    await bob.page
      .getByRole('button', { name: 'Back to chats' })
      .click()
      .catch(() => undefined);
    // Starting the chat again makes the client fetch alice's keys: it gets the old list.
    await startChat(bob, aliceName);
    await waitFor(
      bob.page,
      async () => (await bob.page.getByTestId('encryption-status').getAttribute('data-status')) === 'red',
      'red status',
    );
    expect(await bob.page.getByTestId('encryption-status').textContent()).toBeTruthy();
    await bob.page.getByLabel('Message', { exact: true }).fill('to the phone?');
    expect(await bob.page.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(true);
    await bob.page.getByLabel('Message', { exact: true }).press('Enter');
    const sent = bobSent.slice(from);
    expect(sent.some((f) => f.includes(phone.device))).toBe(false);
    expect(sent.some((f) => f.includes('"type":"send"') && f.includes(phone.user))).toBe(false);
    await shoot(bob.page, 'stale-list-red-desktop');
    await bob.context.unrouteAll({ behavior: 'ignoreErrors' });
  });
});

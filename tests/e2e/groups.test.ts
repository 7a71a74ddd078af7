/**
 * MLS group chats in Chromium against the real stack: alice creates a group with bob
 * and carol, bob links a second browser later and it is added as its own leaf, everyone chats
 * (sender names, typing, receipts), alice removes carol, and carol's browser reads nothing sent
 * after that: the gateway delivers her no group message any more, her client shows nothing new,
 * and what she sends is refused by the gateway (GROUP_NOT_MEMBER) and never reaches anyone.
 *
 * Carol's socket goes through a Playwright WebSocket route that can hold what the gateway pushes
 * to her page: while held, her client has not yet seen the commit that removed her, so it still
 * believes it is a member and really tries to send, which is what the gateway must refuse.
 * Screenshots of the group screens go to test-artifacts/screenshots/ (UPDATE_DOC_SCREENSHOTS=1:
 * docs/screenshots/groups-*.png, the ones kept in the repository).
 */
import { join } from 'node:path';
import { repoRoot, type Stack, startStack } from '@hush/testkit';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chromiumAvailable,
  DESKTOP,
  ensureWebBuild,
  launch,
  openPage,
  openSettings,
  type Person,
  PHONE,
  person,
  register,
  screenshotDir,
  seriousViolations,
  shootThemes,
  waitFor,
} from './browser.js';

const PASSWORD = 'correct horse battery';
const GROUP = 'Weekend trip';

describe.skipIf(!chromiumAvailable)('group chats on MLS', { timeout: 240_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let url: string;
  let alice: Person;
  let bob: Person;
  let bob2: Person;
  let carol: Person;
  const suffix = Math.random().toString(36).slice(2, 7);
  const names = { alice: `alice_${suffix}`, bob: `bob_${suffix}`, carol: `carol_${suffix}` };
  /** What the gateway pushed to carol's page, and whether it is held back for now. */
  const carolWs = { hold: false, held: [] as (() => void)[], pushed: [] as string[] };

  /** Into test-artifacts/ (git-ignored); UPDATE_DOC_SCREENSHOTS=1 refreshes docs/screenshots/ instead. */
  const shotDir = process.env.UPDATE_DOC_SCREENSHOTS ? join(repoRoot, 'docs', 'screenshots') : screenshotDir(repoRoot);
  const shot = (page: Page, name: string) => shootThemes(page, shotDir, 'groups', name);
  /** GROUPS_DEBUG=1 prints the pages' warnings and errors (diagnosis only). */
  const watch = (p: Person) => {
    if (process.env.GROUPS_DEBUG)
      p.page.on('console', (m) => {
        if (m.type() === 'warning' || m.type() === 'error') console.log(`[${p.username}] ${m.text()}`);
      });
    if (process.env.GROUPS_DEBUG)
      p.page.on('response', async (r) => {
        if (r.status() >= 400)
          console.log(
            `[${p.username}] ${r.request().method()} ${r.url()} ${r.status()} ${await r.text().catch(() => '')}`,
          );
      });
    return p;
  };
  const groupBubbles = (page: Page) => page.locator('[data-testid="message"] .bubble').allTextContents();
  const openGroup = async (p: Person) => {
    const row = p.page.locator(`.group-list button[data-group="${GROUP}"]`);
    await row.waitFor({ timeout: 60_000 });
    if (!(await p.page.getByRole('heading', { level: 2, name: GROUP }).isVisible())) await row.click();
    await p.page.getByRole('heading', { level: 2, name: GROUP }).waitFor();
  };
  const sendText = async (p: Person, text: string) => {
    await p.page.getByLabel('Message', { exact: true }).fill(text);
    await p.page.getByRole('button', { name: 'Send', exact: true }).click();
  };
  const sees = (p: Person, text: string, what = text) =>
    waitFor(p.page, async () => (await groupBubbles(p.page)).includes(text), `${p.username} sees "${what}"`, 60_000);

  beforeAll(async () => {
    const webRoot = ensureWebBuild(repoRoot);
    stack = await startStack({ webRoot });
    url = stack.gatewayUrls[0]!;
    browser = await launch();
    alice = watch(await person(browser, url, names.alice));
    bob = watch(await person(browser, url, names.bob));
    // Carol's page: every frame passes through, unless held (see the file comment).
    const context = await browser.newContext({ viewport: PHONE });
    await context.routeWebSocket(/\/ws$/, (ws) => {
      const server = ws.connectToServer();
      ws.onMessage((m) => server.send(m));
      server.onMessage((m) => {
        const deliver = () => {
          carolWs.pushed.push(String(m));
          ws.send(m);
        };
        if (carolWs.hold) carolWs.held.push(deliver);
        else deliver();
      });
      ws.onClose((code, reason) => server.close({ code, reason }));
      server.onClose((code, reason) => ws.close({ code, reason }));
    });
    const { page, csp, dialogs } = await openPage(context, url);
    carol = watch({ context, page, username: names.carol, csp, dialogs });
  }, 180_000);

  afterAll(async () => {
    if (process.env.GROUPS_DEBUG)
      for (const sv of stack?.services ?? []) if (sv.name === 'gateway') console.log(sv.output().slice(-6000));
    await browser?.close();
    await stack?.stop();
  }, 60_000);

  it('creates a group by name and usernames; every member sees it with its name and members', async () => {
    for (const p of [alice, bob, carol]) await register(p, PASSWORD);
    await alice.page.getByRole('button', { name: 'New group', exact: true }).click();
    await alice.page.getByLabel('Group name').fill(GROUP);
    await alice.page.getByLabel('Members’ usernames').fill(`${names.bob}, ${names.carol}`);
    await shot(alice.page, 'new-desktop');
    await alice.page.setViewportSize(PHONE);
    await shot(alice.page, 'new-phone');
    await alice.page.setViewportSize(DESKTOP);
    expect(await seriousViolations(alice.page)).toEqual([]);
    await alice.page.getByRole('button', { name: 'Create group' }).click();
    await alice.page.getByRole('heading', { level: 2, name: GROUP }).waitFor({ timeout: 60_000 });
    for (const p of [bob, carol]) await openGroup(p);
    // Nobody is verified yet: encrypted, but yellow.
    for (const p of [alice, bob, carol])
      expect(await p.page.getByTestId('group-encryption-status').getAttribute('data-status')).toBe('yellow');
    await waitFor(
      carol.page,
      async () => (await carol.page.getByTestId('group-members-line').textContent())?.includes(names.alice) ?? false,
      'members line',
    );
  });

  it('adds a browser bob links later as its own leaf', async () => {
    bob2 = watch(await person(browser, url, names.bob, PHONE));
    await bob2.page.getByLabel('Username', { exact: true }).fill(names.bob);
    await bob2.page.getByLabel('Password', { exact: true }).fill(PASSWORD);
    await bob2.page.getByRole('button', { name: 'Sign in', exact: true }).click();
    const code = (await bob2.page.getByTestId('link-code').textContent({ timeout: 30_000 }))!;
    await openSettings(bob);
    await bob.page.getByRole('button', { name: 'Linked devices', exact: true }).click();
    await bob.page.getByRole('button', { name: 'Link a new device' }).click();
    await bob.page.getByLabel('Link code', { exact: true }).fill(code);
    await bob.page.getByRole('button', { name: 'Continue' }).click();
    await bob.page.getByRole('button', { name: 'Approve', exact: true }).click({ timeout: 30_000 });
    await bob.page.getByTestId('link-result').waitFor({ timeout: 60_000 });
    await bob.page.getByRole('button', { name: 'Done' }).click();
    // Bob's first browser adds the new one to the group (it publishes key packages on start).
    await openGroup(bob2);
    await alice.page.getByRole('button', { name: 'Group info', exact: true }).click();
    await waitFor(
      alice.page,
      async () =>
        (await alice.page.locator(`[data-member="${names.bob}"] .meta`).textContent())?.includes('2 devices') ?? false,
      "bob's two devices in the roster",
    );
    await shot(alice.page, 'info-desktop');
    await alice.page.setViewportSize(PHONE);
    await shot(alice.page, 'info-phone');
    await alice.page.setViewportSize(DESKTOP);
    expect(await seriousViolations(alice.page)).toEqual([]);
    await alice.page.getByRole('button', { name: 'Back to the group' }).click();
  });

  it('chats: one ciphertext fanned out, sender names, typing and receipts', async () => {
    await openGroup(bob);
    await sendText(alice, 'hello everyone');
    for (const p of [bob, bob2, carol]) await sees(p, 'hello everyone');
    expect(await carol.page.getByTestId('sender').last().textContent()).toBe(names.alice);
    await sendText(carol, 'hi from carol');
    for (const p of [alice, bob, bob2]) await sees(p, 'hi from carol');
    expect(await alice.page.getByTestId('sender').last().textContent()).toBe(names.carol);
    // Bob's second browser shows what his first one sent as his own.
    await sendText(bob, 'bob here');
    await sees(bob2, 'bob here');
    expect(await bob2.page.locator('[data-testid="message"].out .bubble').allTextContents()).toContain('bob here');
    // Typing, from bob, on alice's screen.
    await bob.page.getByLabel('Message', { exact: true }).fill('typing…');
    await waitFor(
      alice.page,
      async () => (await alice.page.getByTestId('typing').textContent())?.includes(names.bob) ?? false,
      'typing shown',
    );
    await bob.page.getByLabel('Message', { exact: true }).fill('');
    // Every member has the group open: alice's first message reaches "read".
    await waitFor(
      alice.page,
      async () =>
        (await alice.page.locator('[data-testid="message"].out').first().getAttribute('data-tick')) === 'read',
      'read by everyone',
      60_000,
    );
    await shot(alice.page, 'chat-desktop');
    await shot(bob2.page, 'chat-phone');
    expect(await seriousViolations(alice.page)).toEqual([]);
  });

  it('turns green only once alice has verified every member', async () => {
    const status = () => alice.page.getByTestId('group-encryption-status').getAttribute('data-status');
    for (const [i, who] of [names.bob, names.carol].entries()) {
      expect(await status()).toBe('yellow');
      await alice.page.getByRole('button', { name: 'Group info', exact: true }).click();
      await alice.page.locator(`[data-member="${who}"]`).getByRole('button', { name: 'Open chat' }).click();
      await alice.page.getByTestId('encryption-status').click();
      await alice.page.getByRole('button', { name: 'Mark as verified' }).click();
      await alice.page.getByRole('button', { name: 'Back to chat' }).click();
      await waitFor(
        alice.page,
        async () => (await alice.page.getByTestId('encryption-status').getAttribute('data-status')) === 'green',
        `${who} verified`,
      );
      await openGroup(alice);
      if (i === 0) expect(await status()).toBe('yellow');
    }
    await waitFor(alice.page, async () => (await status()) === 'green', 'group green');
    await shot(alice.page, 'verified-desktop');
  });

  it('removes carol: she reads nothing sent after, and what she sends is refused', async () => {
    carolWs.hold = true;
    await alice.page.getByRole('button', { name: 'Group info', exact: true }).click();
    await alice.page.getByRole('button', { name: `Remove ${names.carol}` }).click();
    await waitFor(
      alice.page,
      async () => (await alice.page.getByTestId('member-row').count()) === 2,
      'carol gone from the roster',
    );
    await alice.page.getByRole('button', { name: 'Back to the group' }).click();
    const removedAt = Date.now();
    await sendText(alice, 'after carol left');
    for (const p of [bob, bob2]) await sees(p, 'after carol left');

    // Carol's client has not seen the commit yet: it still tries, and the gateway refuses.
    await sendText(carol, 'carol after removal');
    await waitFor(
      carol.page,
      async () =>
        (await carol.page.locator('[data-testid="message"].out').last().getAttribute('data-tick')) === 'failed',
      "carol's send refused",
    );
    expect(await carol.page.locator('.send-error').last().textContent()).toContain('not a member');

    carolWs.hold = false;
    for (const deliver of carolWs.held.splice(0)) deliver();
    await carol.page.getByTestId('group-ended').waitFor({ timeout: 60_000 });
    expect(await carol.page.getByRole('button', { name: 'Send', exact: true }).isDisabled()).toBe(true);
    // Give a straggler time to arrive, measured by bob receiving a later message.
    await sendText(alice, 'second after removal');
    for (const p of [bob, bob2]) await sees(p, 'second after removal');
    const carolSees = await groupBubbles(carol.page);
    expect(carolSees).not.toContain('after carol left');
    expect(carolSees).not.toContain('second after removal');
    // Ciphertext-or-nothing: the gateway pushed her no group message at all after the removal.
    const afterRemoval = carolWs.pushed
      .map((f) => JSON.parse(f) as { type: string; ts?: number; group?: { kind: string } })
      .filter((f) => f.type === 'deliver' && f.group?.kind === 'message' && (f.ts ?? 0) >= removedAt);
    expect(afterRemoval).toEqual([]);
    // Nobody got what she tried to send.
    for (const p of [alice, bob, bob2]) expect(await groupBubbles(p.page)).not.toContain('carol after removal');
    await shot(carol.page, 'removed-phone');
    await carol.page.setViewportSize(DESKTOP);
    await shot(carol.page, 'removed-desktop');
    expect(await seriousViolations(carol.page)).toEqual([]);
    for (const p of [alice, bob, bob2, carol]) expect(p.csp).toEqual([]);
  });

  it('bob leaves: both his browsers stop, and alice, the admin, commits his removal', async () => {
    await bob.page.getByRole('button', { name: 'Group info', exact: true }).click();
    await bob.page.getByRole('button', { name: 'Leave group' }).click();
    await bob.page.getByRole('button', { name: 'Leave', exact: true }).click();
    await bob.page.getByRole('button', { name: 'Back to the group' }).click();
    await bob.page.getByTestId('group-ended').waitFor({ timeout: 30_000 });
    // His other browser got his "leave" through the group and deleted its keys too.
    await bob2.page.getByTestId('group-ended').waitFor({ timeout: 60_000 });
    await waitFor(
      alice.page,
      async () => (await alice.page.getByTestId('group-members-line').textContent())?.trim() === 'You',
      "alice's device removed bob's two leaves",
      60_000,
    );
    await sendText(alice, 'just me now');
    await sees(alice, 'just me now');
    for (const p of [bob, bob2]) expect(await groupBubbles(p.page)).not.toContain('just me now');
  });
});

/**
 * Replies, reactions, edits, delete for everyone and disappearing messages in Chromium against the
 * real stack (libs/crypto/PROTOCOL.md §13): what one browser does, the other sees, in a 1:1 chat
 * and in a group; a 5-second disappearing message leaves both browsers (page, and the encrypted
 * store after a reload) and the mailbox stream. Screenshots: docs/screenshots/messages-*.png
 * (UPDATE_DOC_SCREENSHOTS=1; else test-artifacts/screenshots).
 */

import { join } from 'node:path';
import { natsOptions, repoRoot, type Stack } from '@hush/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  bubbles,
  chromiumAvailable,
  openChat,
  type Person,
  person,
  register,
  screenshotDir,
  send,
  seriousViolations,
  shootThemes,
  startChat,
  startPair,
  stopPair,
  waitFor,
} from './browser.js';

const PASSWORD = 'correct horse battery';

const exactly = (text: string) => new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
/** The bubble (list item) whose own text (not a quote in it) is exactly `text`. */
const bubble = (page: Page, text: string) =>
  page.locator('[data-testid="message"]').filter({ has: page.locator('.bubble > .text', { hasText: exactly(text) }) });

/** Opens a bubble's "Message actions" menu and picks `item`. */
async function act(page: Page, text: string, item: string) {
  const b = bubble(page, text);
  await b.hover();
  await b.getByRole('button', { name: 'Message actions' }).click();
  await page.getByRole('menuitem', { name: item, exact: true }).click();
}

/** The record names of the page's encrypted store (names are ids, never content: store/records.ts). */
const storedNames = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<string[]>((resolve, reject) => {
        const open = indexedDB.open('hush');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const req = db.transaction('data').objectStore('data').getAllKeys();
          req.onsuccess = () => {
            resolve(req.result.map(String));
            db.close();
          };
          req.onerror = () => reject(req.error);
        };
      }),
  );

describe.skipIf(!chromiumAvailable)('message actions (Chromium, real stack)', { timeout: 180_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let alice: Person;
  let bob: Person;
  const suffix = Math.random().toString(36).slice(2, 7);
  const aliceName = `alice_${suffix}`;
  const bobName = `bob_${suffix}`;
  const GROUP = `Lunch ${suffix}`;
  const shotDir = process.env.UPDATE_DOC_SCREENSHOTS ? join(repoRoot, 'docs', 'screenshots') : screenshotDir(repoRoot);
  const shoot = (page: Page, name: string) => shootThemes(page, shotDir, 'messages', name, { sizes: true });
  const sees = (p: Person, text: string) =>
    waitFor(p.page, async () => (await bubbles(p.page)).some((b) => b.includes(text)), `${p.username} sees "${text}"`);

  const seesNotice = (p: Person, text: string) =>
    waitFor(
      p.page,
      async () => (await p.page.getByTestId('timeline-notice').allTextContents()).some((n) => n.includes(text)),
      `${p.username} sees the notice "${text}"`,
    );

  /** Envelopes of message `id` still in the mailbox stream, read with operator credentials. */
  const envelopesOf = async (id: string) => {
    const admin = await connect({ servers: stack.nats.url, ...natsOptions(stack.nats, 'admin') });
    try {
      const jsm = await jetstreamManager(admin);
      const name = await jsm.streams.find('mbox.x.y');
      const info = await jsm.streams.info(name);
      const left: string[] = [];
      for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
        const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
        if (m?.header.get('Nats-Msg-Id').includes(id)) left.push(`${m.subject}#${seq}`);
      }
      return left;
    } finally {
      await admin.close();
    }
  };

  beforeAll(async () => {
    ({ stack, browser, alice, bob } = await startPair(aliceName, bobName, PASSWORD));
  }, 240_000);

  afterAll(() => stopPair({ stack, browser }), 60_000);

  it('reply, react, edit and delete for everyone in a 1:1 chat are seen on the other side', async () => {
    await send(alice, 'Lunch at noon?');
    await bob.page.locator(`.convs button[data-peer="${aliceName}"]`).waitFor();
    await openChat(bob, aliceName);
    await sees(bob, 'Lunch at noon?');

    // Bob replies: the quote names alice and shows the start of her message on both sides.
    await act(bob.page, 'Lunch at noon?', 'Reply');
    await bob.page.getByTestId('reply-bar').waitFor();
    await send(bob, 'Yes, see you there');
    await sees(alice, 'Yes, see you there');
    const quote = bubble(alice.page, 'Yes, see you there').getByTestId('quote');
    expect(await quote.textContent()).toContain('Lunch at noon?');
    expect(await quote.textContent()).toContain('You');
    await quote.click();

    // Bob reacts; alice sees the count, and who reacted in its title.
    await act(bob.page, 'Lunch at noon?', 'React');
    expect(await seriousViolations(bob.page)).toEqual([]);
    await shoot(bob.page, 'react-picker');
    await bob.page.getByRole('menuitem', { name: 'React with 👍' }).click();
    const reaction = bubble(alice.page, 'Lunch at noon?').getByTestId('reactions').getByRole('button');
    await reaction.waitFor();
    expect(await reaction.getAttribute('title')).toBe(bobName);

    // Alice edits her message: bob sees the new text marked "edited".
    const menuBubble = bubble(alice.page, 'Lunch at noon?');
    await menuBubble.hover();
    await menuBubble.getByRole('button', { name: 'Message actions' }).click();
    await alice.page.getByRole('menu', { name: 'Message actions' }).waitFor();
    expect(await seriousViolations(alice.page)).toEqual([]);
    await shoot(alice.page, 'menu');
    await alice.page.getByRole('menuitem', { name: 'Edit', exact: true }).click();
    await alice.page.getByLabel('Edit message').fill('Lunch at one?');
    await alice.page.getByRole('button', { name: 'Save', exact: true }).click();
    await sees(bob, 'Lunch at one?');
    await bubble(bob.page, 'Lunch at one?').getByTestId('edited').waitFor();
    expect(await bubble(bob.page, 'Lunch at one?').getByTestId('reactions').textContent()).toContain('👍');
    await shoot(bob.page, 'reply-react-edit');

    // Alice deletes another message for everyone.
    await send(alice, 'Oops, wrong chat');
    await sees(bob, 'Oops, wrong chat');
    await act(alice.page, 'Oops, wrong chat', 'Delete for everyone');
    await waitFor(bob.page, async () => !(await bubbles(bob.page)).some((b) => b.includes('Oops')), 'deleted on bob');
    await bob.page.getByTestId('deleted').waitFor();
    expect(await bob.page.getByTestId('deleted').textContent()).toBe('This message was deleted');
    expect(alice.csp.concat(bob.csp, alice.dialogs, bob.dialogs)).toEqual([]);
  });

  it('a 5-second disappearing message goes from both browsers, their stores and the mailbox stream', async () => {
    await alice.page.getByTestId('disappearing').click();
    expect(await seriousViolations(alice.page)).toEqual([]);
    await shoot(alice.page, 'disappearing-menu');
    await alice.page.getByRole('radio', { name: '5 seconds' }).click();
    await seesNotice(alice, 'You set messages to disappear after 5 seconds');
    await seesNotice(bob, `${aliceName} set messages to disappear after 5 seconds`);

    // A tap on the mailbox subjects: the envelope did reach the stream (so the check below is not vacuous).
    const tap = await connect({ servers: stack.nats.url, ...natsOptions(stack.nats, 'observer') });
    const published: string[] = [];
    tap.subscribe('mbox.>', {
      callback: (_e, m) => {
        published.push(m.headers?.get('Nats-Msg-Id') ?? '');
      },
    });
    await tap.flush();
    await send(alice, 'This vanishes');
    await sees(bob, 'This vanishes');
    const id = (await bubble(bob.page, 'This vanishes').getAttribute('data-id'))!;
    expect(await bubble(bob.page, 'This vanishes').getByTestId('ttl').count()).toBe(1);
    expect(published.filter((h) => h.includes(id)).length).toBeGreaterThan(0);
    await tap.close();
    await shoot(bob.page, 'disappearing');
    // Bob has the chat open, so he read it: 5 s from now it is gone on both sides.
    for (const p of [alice, bob])
      await waitFor(p.page, async () => (await bubble(p.page, 'This vanishes').count()) === 0, 'gone', 20_000);
    for (const p of [alice, bob]) {
      await p.page.reload();
      await p.page.getByRole('button', { name: 'New chat', exact: true }).waitFor({ timeout: 20_000 });
      await openChat(p, p === alice ? bobName : aliceName);
      await seesNotice(p, 'set messages to disappear after 5 seconds');
      expect(await bubble(p.page, 'This vanishes').count()).toBe(0);
      expect((await storedNames(p.page)).filter((n) => n.includes(id))).toEqual([]);
    }

    // The mailbox stream keeps no envelope of it (bob's device acked it; work-queue retention).
    expect(await envelopesOf(id)).toEqual([]);
    await alice.page.getByTestId('disappearing').click();
    await alice.page.getByRole('radio', { name: 'Off' }).click();
    await seesNotice(bob, `${aliceName} turned off disappearing messages`);
  });

  it('a disappearing message to a device that is away is deleted from the stream when the sender’s copy expires', async () => {
    const carol = await person(browser, stack.gatewayUrls[0]!, `carol_${suffix}`);
    await register(carol, PASSWORD);
    await carol.context.close();
    await startChat(alice, carol.username);
    await alice.page.getByTestId('disappearing').click();
    await alice.page.getByRole('radio', { name: '5 seconds' }).click();
    await seesNotice(alice, 'You set messages to disappear after 5 seconds');
    await send(alice, 'Carol is away');
    await bubble(alice.page, 'Carol is away').locator('[data-tick="sent"], [data-tick="delivered"]').first().waitFor();
    const id = (await bubble(alice.page, 'Carol is away').getAttribute('data-id'))!;
    // Stored for carol's device, which is not connected…
    expect((await envelopesOf(id)).length).toBeGreaterThan(0);
    // …and gone once alice's copy disappears (she asks the gateway to purge it).
    await waitFor(alice.page, async () => (await bubble(alice.page, 'Carol is away').count()) === 0, 'gone', 20_000);
    await waitFor(alice.page, async () => (await envelopesOf(id)).length === 0, 'purged from the stream', 20_000);
    await openChat(alice, bobName);
  });

  it('reply, react, edit and delete in a group, and forward from it', async () => {
    await alice.page.getByRole('button', { name: 'New group', exact: true }).click();
    await alice.page.getByLabel('Group name').fill(GROUP);
    await alice.page.getByLabel('Members’ usernames').fill(bobName);
    await alice.page.getByRole('button', { name: 'Create group' }).click();
    await alice.page.getByRole('heading', { level: 2, name: GROUP }).waitFor({ timeout: 60_000 });
    const row = bob.page.locator(`.group-list button[data-group="${GROUP}"]`);
    await row.waitFor({ timeout: 60_000 });
    await row.click();
    await bob.page.getByRole('heading', { level: 2, name: GROUP }).waitFor();

    await send(alice, 'Pizza or sushi?');
    await sees(bob, 'Pizza or sushi?');
    await act(bob.page, 'Pizza or sushi?', 'Reply');
    await send(bob, 'Sushi please');
    await sees(alice, 'Sushi please');
    expect(await bubble(alice.page, 'Sushi please').getByTestId('quote').textContent()).toContain('Pizza or sushi?');
    await act(bob.page, 'Pizza or sushi?', 'React');
    await bob.page.getByRole('menuitem', { name: 'React with ❤️' }).click();
    await bubble(alice.page, 'Pizza or sushi?').getByTestId('reactions').waitFor();
    await act(alice.page, 'Pizza or sushi?', 'Edit');
    await alice.page.getByLabel('Edit message').fill('Pizza or sushi tonight?');
    await alice.page.getByRole('button', { name: 'Save', exact: true }).click();
    await sees(bob, 'Pizza or sushi tonight?');
    await bubble(bob.page, 'Pizza or sushi tonight?').getByTestId('edited').waitFor();
    await shoot(bob.page, 'group');
    await act(bob.page, 'Sushi please', 'Delete for everyone');
    await waitFor(
      alice.page,
      async () => (await bubble(alice.page, 'Sushi please').count()) === 0,
      'group delete seen',
    );
    await alice.page.getByTestId('deleted').waitFor();
    expect(await seriousViolations(alice.page)).toEqual([]);

    // Forward: bob sends the group's message on to his chat with alice, marked "Forwarded".
    await act(bob.page, 'Pizza or sushi tonight?', 'Forward');
    await bob.page.getByRole('menu', { name: 'Forward to' }).waitFor();
    expect(await seriousViolations(bob.page)).toEqual([]);
    await bob.page.getByRole('menuitem', { name: aliceName, exact: true }).click();
    await openChat(alice, bobName);
    await bubble(alice.page, 'Pizza or sushi tonight?').getByTestId('forwarded').waitFor();

    // Search covers group chats: the edited text is found under the group's name and opens it.
    await alice.page.getByLabel('Search messages').fill('sushi tonight');
    const hit = alice.page.getByTestId('search-hit').filter({ hasText: GROUP });
    await hit.waitFor();
    await hit.click();
    await alice.page.getByRole('heading', { level: 2, name: GROUP }).waitFor();
    await alice.page.getByLabel('Search messages').fill('');
  });

  it('a disappearing group message is purged from the mailbox of a member who is away', async () => {
    // dave joins (his browser online until the group exists, so his key packages are published),
    // then leaves the room: his browser closes and never fetches what comes next.
    const AWAY = `Away ${suffix}`;
    const dave = await person(browser, stack.gatewayUrls[0]!, `dave_${suffix}`);
    await register(dave, PASSWORD);
    await alice.page.getByRole('button', { name: 'New group', exact: true }).click();
    await alice.page.getByLabel('Group name').fill(AWAY);
    await alice.page.getByLabel('Members’ usernames').fill(`${bobName}, ${dave.username}`);
    await alice.page.getByRole('button', { name: 'Create group' }).click();
    await alice.page.getByRole('heading', { level: 2, name: AWAY }).waitFor({ timeout: 60_000 });
    await dave.page.locator(`.group-list button[data-group="${AWAY}"]`).waitFor({ timeout: 60_000 });
    await dave.context.close();
    await alice.page.getByTestId('disappearing').click();
    await alice.page.getByRole('radio', { name: '5 seconds' }).click();
    await seesNotice(alice, 'You set messages to disappear after 5 seconds');
    await send(alice, 'Nobody keeps this');
    await bubble(alice.page, 'Nobody keeps this')
      .locator('[data-tick="sent"], [data-tick="delivered"]')
      .first()
      .waitFor();
    const id = (await bubble(alice.page, 'Nobody keeps this').getAttribute('data-id'))!;
    // The gateway's fan-out stored it for carol's device…
    expect((await envelopesOf(id)).length).toBeGreaterThan(0);
    // …and alice's device purges every member's copy when hers expires.
    await waitFor(
      alice.page,
      async () => (await bubble(alice.page, 'Nobody keeps this').count()) === 0,
      'gone',
      20_000,
    );
    await waitFor(alice.page, async () => (await envelopesOf(id)).length === 0, 'purged from the stream', 20_000);
  });
});

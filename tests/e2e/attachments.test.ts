/**
 * Encrypted attachments in Chromium against the real stack: an image and a 20 MB file go from
 * alice to bob; the image shows inline, the file downloads with the same SHA-256; the blob the
 * server stored holds neither the file nor a canary inside it, and once bob's device fetched it
 * the server copy is gone.
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import { natsOptions, repoRoot, type Stack } from '@hush/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  chromiumAvailable,
  openChat,
  type Person,
  PHONE,
  screenshotDir,
  seriousViolations,
  shootThemes,
  startPair,
  stopPair,
  waitFor,
} from './browser.js';

const PASSWORD = 'correct horse battery';
const CANARY = `attach-canary-${Math.random().toString(36).slice(2, 12)}`;
/** A 160x100 RGB PNG with a gradient, made here (zlib for the pixels, CRC-32 for the chunks). */
function gradientPng(w = 160, h = 100): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const td = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB, no interlace
  const rows = Buffer.alloc(h * (1 + w * 3));
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) rows.set([(x * 255) / w, (y * 255) / h, 180], y * (1 + w * 3) + 1 + x * 3);
  return Buffer.concat([
    Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}
const PNG = gradientPng();
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe.skipIf(!chromiumAvailable)('encrypted attachments in Chromium', { timeout: 300_000 }, () => {
  let stack: Stack;
  let browser: Browser;
  let alice: Person;
  let bob: Person;
  const dir = mkdtempSync(join(tmpdir(), 'hush-attach-'));
  const suffix = Math.random().toString(36).slice(2, 7);
  const aliceName = `alice_${suffix}`;
  const bobName = `bob_${suffix}`;
  const shoot = (page: Page, name: string) => shootThemes(page, screenshotDir(repoRoot), 'attach', name);

  beforeAll(async () => {
    // A fake microphone (a tone) that needs no permission prompt: voice messages record real audio.
    ({ stack, browser, alice, bob } = await startPair(aliceName, bobName, PASSWORD, [
      '--use-fake-ui-for-media-stream',
      '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ]));
  }, 120_000);

  afterAll(() => stopPair({ stack, browser }), 60_000);

  it('sends an image that shows inline on the other side', async () => {
    const file = join(dir, 'gradient.png');
    writeFileSync(file, PNG);
    await alice.page.getByTestId('attach-input').setInputFiles(file);
    await alice.page.getByTestId('attachment-image').waitFor({ timeout: 30_000 });
    await bob.page.locator(`.convs button[data-peer="${aliceName}"]`).waitFor({ timeout: 30_000 });
    await openChat(bob, aliceName);
    const img = bob.page.getByTestId('attachment-image');
    await img.waitFor({ timeout: 30_000 });
    expect(await img.getAttribute('alt')).toBe('gradient.png');
    await waitFor(
      bob.page,
      async () => (await img.evaluate((e) => (e as HTMLImageElement).naturalWidth)) === 160,
      'decoded',
    );
    await shoot(bob.page, 'image-desktop');
    await bob.page.setViewportSize(PHONE);
    await shoot(bob.page, 'image-phone');
    await bob.page.setViewportSize({ width: 1280, height: 800 });
  });

  it('sends a 20 MB file that downloads byte for byte; the server stored only ciphertext, and drops it once fetched', async () => {
    const bytes = Buffer.concat([Buffer.from(`${CANARY}\n`), randomBytes(20 * 1024 * 1024)]);
    const file = join(dir, 'report.bin');
    writeFileSync(file, bytes);
    // Watch what the gateway stores: every object-store chunk published on the broker.
    const nc = await connect({ servers: stack.nats.url, ...natsOptions(stack.nats, 'observer') });
    const stored: Buffer[] = [];
    nc.subscribe('$O.>', {
      callback: (_e, m) => {
        stored.push(Buffer.from(m.data));
      },
    });
    await nc.flush();
    const t0 = Date.now();
    const step = (what: string) => console.log(`[attach] ${what} after ${Date.now() - t0} ms`);
    // Progress bars: every phase a bar showed on each side, as the pages drew them.
    const phases = (p: Page) =>
      p.evaluate(() => {
        const w = window as unknown as { __phases: Set<string>; __first: Record<string, number> };
        w.__phases = new Set();
        w.__first = {};
        new MutationObserver(() => {
          for (const el of document.querySelectorAll('[data-testid="transfer"]')) {
            const phase = el.getAttribute('data-phase') ?? '';
            w.__first[phase] ??= Date.now();
            w.__phases.add(`${phase}:${el.querySelector('progress')?.getAttribute('value')}`);
          }
        }).observe(document.body, { subtree: true, childList: true, attributes: true });
      });
    const seen = (p: Page) => p.evaluate(() => [...(window as unknown as { __phases: Set<string> }).__phases]);
    await phases(alice.page);
    await phases(bob.page);
    await alice.page.getByTestId('attach-input').setInputFiles(file);
    await alice.page.getByTestId('attachment-file').filter({ hasText: 'report.bin' }).waitFor({ timeout: 90_000 });
    step('sent (encrypted, uploaded, message queued)');
    const card = bob.page.getByTestId('attachment-file').filter({ hasText: 'report.bin' });
    await card.waitFor({ timeout: 90_000 });
    step('arrived at bob');
    expect(await card.textContent()).toContain('20.0 MB');
    // Alice watched it being encrypted and uploaded, bob watched it being fetched, in steps.
    const aliceSaw = await seen(alice.page);
    const firsts = await alice.page.evaluate(() => (window as unknown as { __first: Record<string, number> }).__first);
    console.log(
      `[attach] alice's phases began (ms after the pick): ${Object.entries(firsts)
        .map(([k, t]) => `${k} ${t - t0}`)
        .join(', ')}`,
    );
    console.log(`[attach] alice's bars: ${aliceSaw.length} states; bob's: ${(await seen(bob.page)).length}`);
    expect(aliceSaw.filter((x) => x.startsWith('encrypting:')).length).toBeGreaterThan(3);
    expect(aliceSaw.some((x) => x.startsWith('uploading:'))).toBe(true);
    await waitFor(bob.page, async () => (await seen(bob.page)).some((x) => x.startsWith('downloading:')), 'bob’s bar');
    await shoot(bob.page, 'file-desktop');
    bob.page.on('console', (m) => console.log(`[attach] bob console: ${m.text()}`));
    const [download] = await Promise.all([
      bob.page.waitForEvent('download', { timeout: 120_000 }).catch(async (e: unknown) => {
        console.log(`[attach] no download; the card says: ${await card.textContent()}`);
        throw e;
      }),
      card.getByRole('button', { name: 'Download report.bin' }).click(),
    ]);
    step('downloaded from bob’s page');
    expect(download.suggestedFilename()).toBe('report.bin');
    const got = readFileSync((await download.path())!);
    expect(got.length).toBe(bytes.length);
    expect(sha(got)).toBe(sha(bytes));

    // The broker saw the blob (about 20 MB of chunks) and never the canary or a plaintext run.
    const all = Buffer.concat(stored);
    expect(all.length).toBeGreaterThan(bytes.length);
    expect(all.includes(Buffer.from(CANARY))).toBe(false);
    expect(all.includes(bytes.subarray(1000, 1064))).toBe(false);

    // Bob's device (the one recipient) fetched it when it arrived: the server copy is gone.
    const adminNc = await connect({ servers: stack.nats.url, ...natsOptions(stack.nats, 'admin') });
    const jsm = await jetstreamManager(adminNc);
    const streams = await jsm.streams.names().next();
    const obj = streams.find((n) => n.startsWith('OBJ_'))!;
    await waitFor(
      bob.page,
      async () =>
        Object.keys((await jsm.streams.info(obj, { subjects_filter: '$O.*.C.>' })).state.subjects ?? {}).length === 0,
      'server copies deleted (no chunk left in the bucket)',
      30_000,
    );
    await nc.close();
    await adminNc.close();
  });

  it('records a voice message in the browser; bob gets real audio of that length and a player', async () => {
    await openChat(alice, bobName);
    await alice.page.getByRole('button', { name: 'Record voice message' }).click();
    const timer = alice.page.getByRole('timer');
    await timer.waitFor();
    await waitFor(alice.page, async () => (await timer.textContent()) === '0:02', 'two seconds recorded');
    await shoot(alice.page, 'recording');
    await alice.page.getByRole('button', { name: 'Send voice message' }).click();
    await alice.page.getByTestId('voice-note').last().waitFor({ timeout: 30_000 });
    await bob.page.locator(`.convs button[data-peer="${aliceName}"]`).waitFor({ timeout: 30_000 });
    await openChat(bob, aliceName);
    const note = bob.page.getByTestId('voice-note').last();
    await note.waitFor({ timeout: 30_000 });
    expect(await note.textContent()).toMatch(/Voice message \(0:0[23]\)/);
    const audio = note.getByTestId('voice-audio');
    await audio.waitFor({ timeout: 30_000 });
    // The decrypted bytes are audio the browser plays to the end, about as long as the recording.
    const seconds = await audio.evaluate(
      (el) =>
        new Promise<number>((resolve, reject) => {
          const a = el as HTMLAudioElement;
          a.addEventListener('ended', () => resolve(a.currentTime));
          a.addEventListener('error', () => reject(new Error(`audio error ${a.error?.code}`)));
          a.play().catch(reject);
        }),
    );
    expect(seconds).toBeGreaterThan(1.5);
    expect(seconds).toBeLessThan(4);
    expect(await bob.page.locator(`.convs button[data-peer="${aliceName}"]`).textContent()).toMatch(/Voice message/);
    expect(await seriousViolations(bob.page)).toEqual([]);
    await shoot(bob.page, 'voice-desktop');
    await bob.page.setViewportSize(PHONE);
    await shoot(bob.page, 'voice-phone');
    await bob.page.setViewportSize({ width: 1280, height: 800 });
  });
});

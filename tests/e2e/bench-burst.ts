/**
 * Burst benchmark for the web client: alice types BURST_N messages at BURST_RATE per
 * second into the real page in Chromium while bob has the chat open (so delivered and read
 * receipts flow back during the burst), against the real stack (@hush/testkit startStack).
 *
 * Printed per message, from the moment alice's Enter is handled (in her page, Date.now()):
 * - appear: the bubble is in bob's timeline (a MutationObserver in his page),
 * - own: the bubble is in alice's own timeline,
 * - sent: alice's tick turned "sent" (the gateway accepted it).
 * Both pages run in one browser on one machine, so their clocks are the same clock.
 *
 *   npm run bench:web-burst                     # 200 messages at 50/s
 *   BURST_N=150 BURST_RATE=20 npm run bench:web-burst
 *
 * A benchmark prints figures; it does not fail on them (docs/BENCHMARKS.md records them).
 */

import { loadavg } from 'node:os';
import { repoRoot, startStack } from '@hush/testkit';
import type { Page } from 'playwright-core';
import { ensureWebBuild, launch, openChat, person, register, send, startChat, waitFor } from './browser.js';

const N = Number(process.env.BURST_N ?? 200);
const RATE = Number(process.env.BURST_RATE ?? 50);
const PASSWORD = 'correct horse battery';

type Times = Record<string, number>;

/** Records when each bubble whose text starts with `prefix` appears, and (for ours) when its tick turns "sent". */
async function watch(page: Page, prefix: string): Promise<void> {
  // tsx (esbuild keepNames) wraps named functions in __name(), which the page does not have.
  await page.evaluate('globalThis.__name = (f) => f');
  await page.evaluate((prefix) => {
    const w = window as unknown as { __appear: Record<string, number>; __sent: Record<string, number> };
    w.__appear = {};
    w.__sent = {};
    const scan = () => {
      const now = Date.now();
      for (const el of document.querySelectorAll<HTMLElement>('[data-testid="message"]')) {
        const text = el.querySelector('.bubble')?.textContent ?? '';
        if (!text.startsWith(prefix)) continue;
        w.__appear[text] ??= now;
        const tick = el.getAttribute('data-tick');
        if (tick && tick !== 'pending' && tick !== 'failed') w.__sent[text] ??= now;
      }
    };
    new MutationObserver(scan).observe(document.body, {
      subtree: true,
      childList: true,
      attributes: true,
      attributeFilter: ['data-tick'],
    });
  }, prefix);
}

const read = (page: Page, what: '__appear' | '__sent') =>
  page.evaluate((what) => (window as unknown as Record<string, Times>)[what]!, what);

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]!;
}
const row = (name: string, xs: number[]) =>
  `| ${name.padEnd(28)} | ${String(xs.length).padStart(5)} | ${[50, 95, 99].map((p) => String(pct(xs, p)).padStart(6)).join(' | ')} | ${String(Math.max(...xs)).padStart(6)} |`;

async function main() {
  const webRoot = ensureWebBuild(repoRoot, (s) => console.log(s));
  const stack = await startStack({ webRoot });
  const browser = await launch();
  try {
    const url = stack.gatewayUrls[0]!;
    const suffix = Math.random().toString(36).slice(2, 7);
    const alice = await person(browser, url, `alice_${suffix}`);
    const bob = await person(browser, url, `bob_${suffix}`);
    await register(alice, PASSWORD);
    await register(bob, PASSWORD);
    await startChat(alice, bob.username);
    await send(alice, 'warm-up');
    await bob.page.locator(`.convs button[data-peer="${alice.username}"]`).waitFor({ timeout: 30_000 });
    await openChat(bob, alice.username);
    await bob.page.locator('[data-testid="message"]', { hasText: 'warm-up' }).waitFor();
    await watch(alice.page, 'b-');
    await watch(bob.page, 'b-');
    const load = loadavg()[0]!.toFixed(1);
    console.log(`burst: ${N} messages at ${RATE}/s, load average ${load} before the start`);

    // BURST_PROFILE=1: a CPU profile of alice's page during the burst, top self times printed.
    const cdp = process.env.BURST_PROFILE ? await alice.context.newCDPSession(alice.page) : null;
    if (cdp) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    // Alice types: one message every 1000/RATE ms, each through the composer (input event, then
    // Enter once the view has taken the draft), paced by the page's own timer.
    const t0s = await alice.page.evaluate(
      async ({ n, rate }) => {
        const box = document.getElementById('composer') as HTMLTextAreaElement;
        const started: Record<string, number> = {};
        const t = performance.now();
        for (let i = 0; i < n; i++) {
          const due = t + (i * 1000) / rate;
          const wait = due - performance.now();
          if (wait > 0) await new Promise((r) => setTimeout(r, wait));
          const text = `b-${String(i).padStart(4, '0')}`;
          box.value = text;
          box.dispatchEvent(new Event('input', { bubbles: true }));
          await new Promise((r) => setTimeout(r, 0));
          started[text] = Date.now();
          box.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
        }
        return started;
      },
      { n: N, rate: RATE },
    );
    const typedMs = Math.max(...Object.values(t0s)) - Math.min(...Object.values(t0s));
    await waitFor(
      bob.page,
      async () => Object.keys(await read(bob.page, '__appear')).length >= N,
      `all ${N} at bob`,
      300_000,
    ).catch((e) => console.log(String(e)));
    if (cdp) {
      const { profile } = await cdp.send('Profiler.stop');
      const self = new Map<string, number>();
      const dt = profile.timeDeltas ?? [];
      const byId = new Map(profile.nodes.map((n) => [n.id, n]));
      (profile.samples ?? []).forEach((id, i) => {
        const n = byId.get(id)!;
        const k = `${n.callFrame.functionName || '(anon)'} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber}`;
        self.set(k, (self.get(k) ?? 0) + (dt[i] ?? 0) / 1000);
      });
      for (const [k, ms] of [...self].sort((a, b) => b[1] - a[1]).slice(0, 25))
        console.log(`${ms.toFixed(0).padStart(7)} ms  ${k}`);
    }
    const appear = await read(bob.page, '__appear');
    const own = await read(alice.page, '__appear');
    const sent = await read(alice.page, '__sent');
    const lat = (m: Times) => Object.keys(t0s).flatMap((k) => (m[k] === undefined ? [] : [m[k]! - t0s[k]!]));
    const last = Math.max(...Object.values(appear));
    console.log(`typed in ${typedMs} ms; last one at bob ${last - Math.min(...Object.values(t0s))} ms after the first`);
    console.log(`| ${'ms from Enter'.padEnd(28)} | count |    p50 |    p95 |    p99 |    max |`);
    console.log(`| ${'-'.repeat(28)} | ----- | ------ | ------ | ------ | ------ |`);
    console.log(row("on alice's own screen", lat(own)));
    console.log(row('alice\'s tick "sent"', lat(sent)));
    console.log(row("in bob's timeline", lat(appear)));
    // Order as bob sees it.
    const order = await bob.page.locator('[data-testid="message"] .bubble').allTextContents();
    const ours = order.filter((t) => t.startsWith('b-'));
    const inOrder = ours.every((t, i) => i === 0 || t > ours[i - 1]!);
    console.log(`bob's order: ${inOrder ? 'as typed' : 'OUT OF ORDER'} (${ours.length} shown)`);
  } finally {
    await browser.close();
    await stack.stop();
  }
}

await main();

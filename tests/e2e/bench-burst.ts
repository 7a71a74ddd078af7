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

import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { repoRoot, startStack } from '@hush/testkit';
import type { Page } from 'playwright-core';
import { SourceMapConsumer } from 'source-map-js';
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

/**
 * Self time per function and per source file of the profiled page, mapped back to the sources
 * through the build's source maps (the bundle is minified).
 */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number } }[];
  samples?: number[];
  timeDeltas?: number[];
}
function printProfile(profile: CpuProfile): void {
  const maps = new Map<string, SourceMapConsumer | null>();
  const mapFor = (url: string) => {
    const file = url.split('/').pop() ?? '';
    if (!maps.has(file)) {
      const path = join(repoRoot, 'clients/web/dist/assets', `${file}.map`);
      maps.set(file, existsSync(path) ? new SourceMapConsumer(JSON.parse(readFileSync(path, 'utf8'))) : null);
    }
    return maps.get(file);
  };
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  const add = (m: Map<string, number>, k: string, ms: number) => m.set(k, (m.get(k) ?? 0) + ms);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const dt = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((id, i) => {
    const { functionName, url, lineNumber, columnNumber } = byId.get(id)!.callFrame;
    const ms = (dt[i] ?? 0) / 1000;
    const pos = url ? mapFor(url)?.originalPositionFor({ line: lineNumber + 1, column: columnNumber }) : undefined;
    const src = pos?.source
      ? pos.source.replace(/^.*?(node_modules|src)\//, '$1/')
      : url.split('/').pop() || '(native)';
    add(byFn, `${pos?.name || functionName || '(anon)'} ${src}:${pos?.line ?? lineNumber}`, ms);
    add(byFile, src, ms);
  });
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, ms]) => `${ms.toFixed(0).padStart(7)} ms  ${k}`);
  console.log(['self time by function:', ...top(byFn, 25), 'self time by source file:', ...top(byFile, 15)].join('\n'));
}

interface TraceEvent {
  name: string;
  ph: string;
  pid: number;
  tid: number;
  dur?: number;
  args?: { data?: { type?: string }; name?: string };
}
/**
 * Wall time per event name on each page's renderer main thread (nested events overlap, so the
 * names do not add up). Alice's page is the one that handled the keydown events.
 */
function printTrace(trace: { traceEvents: TraceEvent[] }): void {
  const ev = trace.traceEvents;
  for (const main of ev.filter((e) => e.name === 'thread_name' && e.args?.name === 'CrRendererMain')) {
    const mine = ev.filter((e) => e.pid === main.pid && e.tid === main.tid);
    if (!mine.some((e) => e.ph === 'X')) continue;
    const who = mine.some((e) => e.name === 'EventDispatch' && JSON.stringify(e.args).includes('keydown'))
      ? 'alice'
      : 'bob';
    const by = new Map<string, number>();
    for (const e of mine) if (e.ph === 'X' && e.dur) by.set(e.name, (by.get(e.name) ?? 0) + e.dur / 1000);
    const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, 12);
    console.log(
      [`trace, ${who}'s main thread:`, ...top.map(([k, ms]) => `${ms.toFixed(0).padStart(7)} ms  ${k}`)].join('\n'),
    );
  }
}

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
    // Alice's socket, seen from outside the page: when each send frame left and when its
    // "accepted" came back (splits the client's share of the delay from the gateway's).
    const onSocket = new Map<string, number>();
    const accepted = new Map<string, number>();
    const socketFrames = (ws: import('playwright-core').WebSocket) => {
      ws.on('framesent', (f) => {
        const m = /^\{"type":"send","id":"([^"]+)"/.exec(String(f.payload));
        if (m) onSocket.set(m[1]!, Date.now());
      });
      ws.on('framereceived', (f) => {
        const m = /"type":"accepted","id":"([^"]+)"/.exec(String(f.payload));
        if (m) accepted.set(m[1]!, Date.now());
      });
    };
    alice.page.on('websocket', socketFrames);
    await alice.page.reload();
    await alice.page.locator('#composer').waitFor();
    await openChat(alice, bob.username);
    await watch(alice.page, 'b-');
    const load = loadavg()[0]!.toFixed(1);
    console.log(`burst: ${N} messages at ${RATE}/s, load average ${load} before the start`);

    // BURST_PROFILE=1 (or =bob): a CPU profile of alice's (bob's) page during the burst, top self times printed.
    const profiled = process.env.BURST_PROFILE === 'bob' ? bob : alice;
    const cdp = process.env.BURST_PROFILE ? await profiled.context.newCDPSession(profiled.page) : null;
    // BURST_TRACE=1: a Chromium trace of the run, time per event name on alice's main thread.
    if (process.env.BURST_TRACE)
      await browser.startTracing(alice.page, {
        categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline'],
      });
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
    if (cdp) printProfile((await cdp.send('Profiler.stop')).profile);
    if (process.env.BURST_TRACE) printTrace(JSON.parse((await browser.stopTracing()).toString('utf8')));
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
    const firstEnter = Math.min(...Object.values(t0s));
    const gw = [...onSocket].flatMap(([id, t]) => (accepted.has(id) ? [accepted.get(id)! - t] : []));
    const left = [...onSocket.values()].filter((t) => t >= firstEnter);
    console.log(row('alice: socket → "accepted"', gw));
    console.log(
      `alice's send frames during the burst: ${left.length} (messages, receipts, typing); last left ${Math.max(...left) - firstEnter} ms after the first Enter`,
    );
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

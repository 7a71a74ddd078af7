/**
 * npm run bench:browser -w libs/crypto: the same operations in Debian's Chromium (WebCrypto +
 * WebAssembly, a page served over http://127.0.0.1 since WebCrypto needs a secure context), next to
 * libsignal-client measured in Node in the same run (libsignal has no browser build).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { libsignalOps } from './libsignal.js';
import { measure, type Result } from './measure.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const batchMs = Number(process.env.BENCH_BATCH_MS ?? 250);

const bundled = await build({
  entryPoints: [path.join(here, 'browser-entry.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'chrome120',
  write: false,
});
const js = bundled.outputFiles[0]!.text;
const html = '<!doctype html><meta charset="utf-8"><title>hush crypto bench</title><script type="module" src="/bench.js"></script>';
const server = createServer((req, res) => {
  if (req.url?.startsWith('/bench.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
  else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/?batchMs=${batchMs}`);
  await page.waitForFunction(() => window.__bench?.done === true, undefined, { timeout: 600_000, polling: 500 });
  const out = (await page.evaluate(() => window.__bench))!;
  if (out.error) throw new Error(`in the browser: ${out.error}`);
  const lib: Result[] = [];
  for (const op of await libsignalOps()) {
    await op.prepare?.();
    lib.push(await measure(op.op, op.run, { batchMs, warmup: op.warmup ?? 20 }));
  }
  console.log(`# @hush/crypto in ${browser.version()} (headless) — ${new Date().toISOString()}`);
  console.log(`# primitives: ${out.primitives}, SHA-512: ${out.sha512}; libsignal: Node ${process.version}, same run`);
  console.log('# median of 7 batches; ratio = libsignal ops/s ÷ ours (lower is better; target ≤ 3)\n');
  console.log('| operation | ours (Chromium) ops/s | ours µs | libsignal (Node) ops/s | libsignal µs | ratio |');
  console.log('|---|---|---|---|---|---|');
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  out.results.forEach((o, i) => {
    const l = lib[i]!;
    console.log(
      `| ${o.op} | ${fmt(o.opsPerSec)} | ${fmt(o.usPerOp)} | ${fmt(l.opsPerSec)} | ${fmt(l.usPerOp)} | ${(l.opsPerSec / o.opsPerSec).toFixed(2)} |`,
    );
  });
} finally {
  await browser.close();
  server.close();
}

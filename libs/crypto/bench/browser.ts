/**
 * npm run bench:browser -w libs/crypto: the same operations in Debian's Chromium (WebCrypto +
 * WebAssembly, a page served over http://127.0.0.1 since WebCrypto needs a secure context), next to
 * libsignal-client measured in Node in the same run (libsignal has no browser build).
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '@hush/testkit';
import { build } from 'esbuild';
import type {} from './browser-entry.js';
import { libsignalOps } from './libsignal.js';
import { batch } from './measure.js';

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
const html =
  '<!doctype html><meta charset="utf-8"><title>hush crypto bench</title><script type="module" src="/bench.js"></script>';
const server = createServer((req, res) => {
  if (req.url?.startsWith('/bench.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
  else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const port = (server.address() as AddressInfo).port;

const browser = await launchChromium();
try {
  const page = await browser.newPage();
  await page.goto(`http://127.0.0.1:${port}/`);
  await page.waitForFunction(() => window.__hushBench !== undefined);
  const info = await page.evaluate(() => window.__hushBench!.init());
  const lib = await libsignalOps();
  console.log(`# @hush/crypto in Chromium ${browser.version()} (headless) — ${new Date().toISOString()}`);
  console.log(
    `# ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load average ${os.loadavg()[0]!.toFixed(1)}; primitives: ${info.primitives}, SHA-512: ${info.sha512}; libsignal: Node ${process.version}, same run`,
  );
  console.log(
    '# median of 7 batches, browser and Node batches interleaved; ratio = libsignal ops/s ÷ ours (target ≤ 3)\n',
  );
  console.log('| operation | ours (Chromium) ops/s | ours µs | libsignal (Node) ops/s | libsignal µs | ratio |');
  console.log('|---|---|---|---|---|---|');
  const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
  const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
  for (let i = 0; i < info.ops.length; i++) {
    const l = lib[i]!;
    await page.evaluate((k) => window.__hushBench!.prepare(k), i);
    await l.prepare?.();
    for (let k = 0; k < (l.warmup ?? 20); k++) await l.run();
    const ours: number[] = [];
    const theirs: number[] = [];
    for (let b = 0; b < 7; b++) {
      ours.push(await page.evaluate(([k, ms]) => window.__hushBench!.batch(k, ms), [i, batchMs] as const));
      theirs.push(await batch(l.run, batchMs));
    }
    const o = median(ours);
    const t = median(theirs);
    console.log(
      `| ${info.ops[i]} | ${fmt(o)} | ${fmt(1e6 / o)} | ${fmt(t)} | ${fmt(1e6 / t)} | ${(t / o).toFixed(2)} |`,
    );
  }
} finally {
  await browser.close();
  server.close();
}

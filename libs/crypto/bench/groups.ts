/**
 * npm run bench:groups: MLS group costs for 10, 100 and 1 000 member devices, in Node and in
 * Debian's Chromium (page served over http://127.0.0.1: WebCrypto needs a secure context).
 * BENCH_GROUP_SIZES=10,100 picks other sizes; BENCH_GROUPS_BROWSER=0 skips Chromium.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { launchChromium } from '@hush/testkit';
import { build } from 'esbuild';
import type {} from './groups-browser-entry.js';
import { formatRows, type GroupRow, groupRow } from './groups-core.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const sizes = (process.env.BENCH_GROUP_SIZES ?? '10,100,1000').split(',').map(Number);

console.log(`# MLS groups (ts-mls, MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519) — ${new Date().toISOString()}`);
console.log(
  `# ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load average ${os.loadavg()[0]?.toFixed(1)}; Node ${process.version}`,
);
console.log(
  '# ms per operation (add/remove/send: median of 3/3/20); "commit / process" = committer / one receiving member\n',
);
console.log(
  '| where | devices | build (1 commit adding all) ms | join from welcome ms | add 1: commit / process ms | remove 1: commit / process ms | send: encrypt / decrypt ms | add commit / welcome bytes |',
);
console.log('|---|---|---|---|---|---|---|---|');

const node: GroupRow[] = [];
for (const n of sizes) {
  node.push(await groupRow(n));
  console.log(formatRows(`Node ${process.version}`, node.slice(-1)).join('\n'));
}

if (process.env.BENCH_GROUPS_BROWSER !== '0') {
  const bundled = await build({
    entryPoints: [path.join(here, 'groups-browser-entry.ts')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'chrome120',
    write: false,
  });
  const js = bundled.outputFiles[0]?.text ?? '';
  const html =
    '<!doctype html><meta charset="utf-8"><title>hush groups bench</title><script type="module" src="/g.js"></script>';
  const server = createServer((req, res) => {
    if (req.url?.startsWith('/g.js')) res.writeHead(200, { 'content-type': 'text/javascript' }).end(js);
    else res.writeHead(200, { 'content-type': 'text/html' }).end(html);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const browser = await launchChromium();
  try {
    const page = await browser.newPage();
    page.setDefaultTimeout(600_000);
    await page.goto(`http://127.0.0.1:${port}/`);
    await page.waitForFunction(() => window.__hushGroups !== undefined);
    for (const n of sizes) {
      const row = await page.evaluate((k) => window.__hushGroups!(k), n);
      console.log(formatRows(`Chromium ${browser.version()}`, [row]).join('\n'));
    }
  } finally {
    await browser.close();
    server.close();
  }
}

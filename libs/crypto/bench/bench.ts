/**
 * npm run bench -w libs/crypto: ops/s of @hush/crypto and of Signal's native libsignal-client in the
 * same run (batches interleaved, so background load hits both alike), with the ratio.
 * `-- --tweetnacl` adds a column for the portable tweetnacl primitives.
 */
import os from 'node:os';
import { createPrimitives, tweetnaclPrimitives } from '../src/index.js';
import { sha512Engine } from '../src/sha512.js';
import { libsignalOps } from './libsignal.js';
import { measureInterleaved } from './measure.js';
import { oursOps } from './ours.js';

const batchMs = Number(process.env.BENCH_BATCH_MS ?? 250);
const withNacl = process.argv.includes('--tweetnacl');

const prims = await createPrimitives();
console.log(`# @hush/crypto benchmark — ${new Date().toISOString()}`);
console.log(
  `# Node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? '?'}, load average ${os.loadavg()[0]!.toFixed(1)}; primitives: ${prims.name}, SHA-512: ${sha512Engine()}`,
);
console.log('# median of 7 interleaved batches; ratio = libsignal ops/s ÷ ours (lower is better; target ≤ 3)\n');

const ours = await oursOps(prims);
const lib = await libsignalOps();
const nacl = withNacl ? await oursOps(tweetnaclPrimitives(), { prekeys: 300 }) : undefined;

const fmt = (n: number) => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const head = ['operation', 'ours ops/s', 'ours µs', 'libsignal ops/s', 'libsignal µs', 'ratio'];
if (nacl) head.push('tweetnacl ops/s', 'tweetnacl ratio');
console.log(`| ${head.join(' | ')} |`);
console.log(`|${head.map(() => '---').join('|')}|`);
for (let i = 0; i < ours.length; i++) {
  const contenders = [ours[i]!, lib[i]!, ...(nacl ? [nacl[i]!] : [])];
  for (const c of contenders) await c.prepare?.();
  const [o, l, n] = await measureInterleaved(
    ours[i]!.op,
    contenders.map((c) => c.run),
    { batchMs, warmup: ours[i]!.warmup ?? 20 },
  );
  const row = [
    o!.op,
    fmt(o!.opsPerSec),
    fmt(o!.usPerOp),
    fmt(l!.opsPerSec),
    fmt(l!.usPerOp),
    (l!.opsPerSec / o!.opsPerSec).toFixed(2),
  ];
  if (n) row.push(fmt(n.opsPerSec), (l!.opsPerSec / n.opsPerSec).toFixed(2));
  console.log(`| ${row.join(' | ')} |`);
}

import { createPrimitives } from '../src/index.js';
import { oursOps } from './ours.js';

const prims = await createPrimitives();
const ops = await oursOps(prims, { prekeys: 50 });
const which = process.argv[2] ?? '1';
const op = ops[Number(which)]!;
await ops[0]!.run();
await op.prepare?.();
for (let i = 0; i < 50; i++) await op.run();
const t = performance.now();
let n = 0;
while (performance.now() - t < 3000) {
  await op.run();
  n++;
}
console.log(op.op, (((performance.now() - t) / n) * 1000).toFixed(0), 'us/op');

import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Heap snapshots of a running service and what grew between two of them, by kind of object: the
 * tool behind `npm run loadtest -- --connections N --heap-snapshot DIR` (docs/BENCHMARKS.md, "Where
 * an idle socket's heap goes"). Standalone: `npx tsx tests/load/heap-summary.ts A B N` prints what
 * snapshot B holds beyond A, per unit (N sockets).
 */

/** How long a snapshot of a large heap may take to be written. */
const SNAPSHOT_TIMEOUT_MS = 180_000;

/**
 * Sends SIGUSR2 to `pid` (started with `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=dir`) and
 * resolves with the new file's path once its size has stopped growing.
 */
export async function heapSnapshot(dir: string, pid: number): Promise<string> {
  const list = () => new Set(readdirSync(dir).filter((f) => f.endsWith('.heapsnapshot')));
  const before = list();
  process.kill(pid, 'SIGUSR2');
  const deadline = Date.now() + SNAPSHOT_TIMEOUT_MS;
  let size = -1;
  for (;;) {
    await new Promise((r) => setTimeout(r, 1_000));
    const file = [...list()].find((f) => !before.has(f));
    if (file) {
      const now = statSync(join(dir, file)).size;
      // V8 writes the snapshot in one go while the process is paused; an unchanged size a second
      // later (and the JSON's closing bracket) means it is complete.
      if (now > 0 && now === size && readTail(join(dir, file), now).trimEnd().endsWith('}')) return join(dir, file);
      size = now;
    }
    if (Date.now() > deadline) throw new Error(`no heap snapshot from pid ${pid} in ${dir}`);
  }
}

/** The last bytes of a file (a snapshot is hundreds of MB: not read whole to look at its end). */
function readTail(path: string, size: number): string {
  const buf = Buffer.alloc(Math.min(64, size));
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, buf.length, size - buf.length);
  } finally {
    closeSync(fd);
  }
  return buf.toString('utf8');
}

interface Snapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
  nodes: number[];
  strings: string[];
}

/** Self size and count per kind: constructor name for objects, the node type otherwise. */
function byKind(path: string): Map<string, { count: number; bytes: number }> {
  const s = JSON.parse(readFileSync(path, 'utf8')) as Snapshot;
  const fields = s.snapshot.meta.node_fields;
  const types = s.snapshot.meta.node_types[0];
  const [width, type, name, size] = [
    fields.length,
    fields.indexOf('type'),
    fields.indexOf('name'),
    fields.indexOf('self_size'),
  ];
  const kinds = new Map<string, { count: number; bytes: number }>();
  for (let i = 0; i < s.nodes.length; i += width) {
    const t = types[s.nodes[i + type]!]!;
    const n = s.strings[s.nodes[i + name]!]!;
    const kind =
      t === 'object' || t === 'native'
        ? n
        : t === 'array' || t === 'hidden' || t === 'synthetic'
          ? `(${t}) ${n}`.slice(0, 48)
          : `(${t})`;
    const k = kinds.get(kind) ?? { count: 0, bytes: 0 };
    k.count++;
    k.bytes += s.nodes[i + size]!;
    kinds.set(kind, k);
  }
  return kinds;
}

/** Lines naming what `after` holds beyond `before`, per unit, largest first. */
export function heapSummary(before: string, after: string, units: number, top = 16): string[] {
  const a = byKind(before);
  const b = byKind(after);
  const rows = [...b].map(([kind, v]) => {
    const o = a.get(kind) ?? { count: 0, bytes: 0 };
    return { kind, count: (v.count - o.count) / units, bytes: (v.bytes - o.bytes) / units };
  });
  const total = rows.reduce((t, r) => t + r.bytes, 0);
  rows.sort((x, y) => y.bytes - x.bytes);
  return [
    `${total.toFixed(0)} B of heap per unit in all`,
    ...rows
      .slice(0, top)
      .map((r) => `${r.bytes.toFixed(0).padStart(6)} B  ${r.count.toFixed(2).padStart(6)} x  ${r.kind}`),
  ];
}

if (process.argv[1]?.endsWith('heap-summary.ts')) {
  const [before, after, units] = process.argv.slice(2);
  if (!before || !after) {
    console.error('usage: npx tsx tests/load/heap-summary.ts BEFORE.heapsnapshot AFTER.heapsnapshot [UNITS]');
    process.exit(2);
  }
  for (const line of heapSummary(before, after, Number(units) || 1)) console.log(line);
}

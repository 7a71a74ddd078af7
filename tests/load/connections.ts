import { type ChildProcess, execFileSync, fork } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LIMITS, type LoadArgs } from './args.js';
import { type LoadDevice, registerDevices } from './devices.js';
import { heapSnapshot, heapSummary } from './heap-summary.js';
import { totalRssKb } from './proc.js';
import { err, idleSummary, out, type Summary } from './report.js';
import { startEnv, stopEnv } from './stack-env.js';

const here = dirname(fileURLToPath(import.meta.url));

/** What a holder process reports while it opens sockets. */
interface Progress {
  opened: number;
  failed: number;
  refreshed: number;
  firstError: string;
}

/**
 * Descriptors one process may hold (`ulimit -n`). On this machine the soft and hard limits are both
 * 20 000 and a container denies raising them even to root, so it bounds sockets per process on both
 * ends: the connections mode spreads sockets over as many gateways and holder processes as needed.
 */
export const FD_LIMIT = (() => {
  try {
    const v = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
    return v === 'unlimited' ? 1_000_000 : Number(v) || 1_024;
  } catch {
    return 1_024;
  }
})();
/** Sockets per connection-holder process (below `ulimit -n` with room for other descriptors). */
const CONNS_PER_WORKER = Number(process.env.LOADTEST_CONNS_PER_WORKER) || Math.max(100, FD_LIMIT - 2_000);
/** Sockets per gateway process in the connections mode (same descriptor limit on the server side). */
const CONNS_PER_GATEWAY = Math.max(100, FD_LIMIT - 1_500);
/** Connections mode: registration and opening must finish within these (it stops there), scaled by count. */
const connRegisterDeadlineMs = (n: number) => Math.max(300_000, n * 30);
const connOpenDeadlineMs = (n: number) => Math.max(420_000, n * 18);
/** Loopback source addresses the holders spread sockets over (ports per source and gateway port are ~28 000). */
const SOURCE_ADDRESSES = 8;
/**
 * Below this many sockets per gateway port, one source address has ports enough and the kernel picks
 * them at connect time. A socket bound to an explicit source address gets its port at bind time
 * instead, where Linux must find a port bound to nothing at all: in a 200 000-socket run a `perf`
 * profile of a holder showed 20 % of its CPU in `inet_bhash2_conflict` / `inet_bind2_bucket_find`,
 * and opening slowed from 330 to 46 sockets/s as the ports filled.
 */
const ONE_SOURCE_UP_TO = 25_000;
/** Let RSS settle after the last socket opened before reading it. */
const SETTLE_MS = 3_000;

/**
 * --connections N: N idle authenticated sockets on a fresh stack; memory per connection is the
 * RSS growth of the gateways plus nats-server (each device's durable consumer costs broker memory
 * too) divided by the sockets open, measured from just before the first socket opens.
 */
export async function connections(a: LoadArgs, tag: string): Promise<Summary> {
  const n = a.connections;
  const gateways = Math.max(a.gateways, Math.ceil(n / CONNS_PER_GATEWAY));
  if (gateways > a.gateways) {
    out(
      `# ${n} sockets need ${gateways} gateway processes here, not ${a.gateways}: one process may hold ${FD_LIMIT} descriptors (ulimit -n; the hard limit, not raisable in this container), so at most ${CONNS_PER_GATEWAY} sockets each`,
    );
  }
  if (gateways > LIMITS.gateways)
    throw new Error(`${n} sockets need ${gateways} gateways, above the bound ${LIMITS.gateways}`);
  const env = await startEnv({ ...a, gateways }, gateways);
  const workers: ChildProcess[] = [];
  try {
    const gwPidsFresh = env.procs.gateway ?? [];
    const natsPidsFresh = env.procs['nats-server'] ?? [];
    const fresh = totalRssKb(gwPidsFresh) + totalRssKb(natsPidsFresh);
    const t0 = performance.now();
    const devices = await registerDevices(env.gatewayUrls, n, tag, err, Date.now() + connRegisterDeadlineMs(n), false);
    err(`registered ${devices.length} devices in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    const gwPids = env.procs.gateway ?? [];
    const natsPids = env.procs['nats-server'] ?? [];
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const gw0 = totalRssKb(gwPids);
    const nats0 = totalRssKb(natsPids);
    const snapBefore = a.heapSnapshot ? await heapSnapshot(a.heapSnapshot, gwPids[0]!) : undefined;
    const chunks: LoadDevice[][] = [];
    for (let i = 0; i < devices.length; i += CONNS_PER_WORKER) chunks.push(devices.slice(i, i + CONNS_PER_WORKER));
    const t1 = performance.now();
    const progress: (() => Progress)[] = [];
    const sum = (k: 'opened' | 'failed' | 'refreshed') => progress.reduce((a, p) => a + p()[k], 0);
    const ticker = setInterval(
      () =>
        err(
          `  opened ${sum('opened')}/${devices.length}, ${sum('failed')} failed (${((performance.now() - t1) / 1000).toFixed(0)} s)`,
        ),
      30_000,
    );
    const results = await Promise.all(
      chunks.map(
        (chunk) =>
          new Promise<Progress>((resolveDone) => {
            const w = fork(join(here, 'conn-worker.ts'), [], {
              execArgv: ['--import', 'tsx'],
              stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
            });
            workers.push(w);
            let last: Progress = { opened: 0, failed: 0, refreshed: 0, firstError: 'deadline' };
            progress.push(() => last);
            const deadline = setTimeout(() => resolveDone(last), connOpenDeadlineMs(n));
            w.on('message', (m: Progress & { type: string }) => {
              last = {
                opened: m.opened,
                failed: m.failed,
                refreshed: m.refreshed ?? 0,
                firstError: m.firstError ?? '',
              };
              if (m.type === 'done') {
                clearTimeout(deadline);
                resolveDone(last);
              }
            });
            w.on('exit', () => {
              clearTimeout(deadline);
              resolveDone(last);
            });
            w.send({
              type: 'job',
              job: {
                urls: env.gatewayUrls,
                devices: chunk.map((d, k) => ({
                  token: d.accessToken,
                  refreshToken: d.refreshToken,
                  issuedAt: d.issuedAt,
                  gateway: d.gateway,
                  ...(n / gateways > ONE_SOURCE_UP_TO ? { localAddress: `127.0.0.${1 + (k % SOURCE_ADDRESSES)}` } : {}),
                })),
              },
            });
          }),
      ),
    );
    clearInterval(ticker);
    const opened = results.reduce((s, r) => s + r.opened, 0);
    const refreshed = results.reduce((s, r) => s + r.refreshed, 0);
    const failed = results.reduce((s, r) => s + r.failed, 0);
    err(
      `opened ${opened} sockets (${failed} failed${failed ? `: ${results.find((r) => r.firstError)?.firstError}` : ''}; ${refreshed} tokens refreshed first) in ${((performance.now() - t1) / 1000).toFixed(0)} s`,
    );
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const gw1 = totalRssKb(gwPids);
    const nats1 = totalRssKb(natsPids);
    const per = (x: number) => (opened > 0 ? x / opened : Number.NaN);
    const connKb = per(gw1 - gw0 + nats1 - nats0);
    out(
      `connections: ${opened} idle authenticated sockets open (bound ${n}, ${failed} failed) over ${gateways} gateway(s)`,
    );
    out(
      `  gateway RSS ${(gw0 / 1024).toFixed(0)} -> ${(gw1 / 1024).toFixed(0)} MB: ${per(gw1 - gw0).toFixed(1)} kB per connection`,
    );
    out(
      `  nats-server RSS ${(nats0 / 1024).toFixed(0)} -> ${(nats1 / 1024).toFixed(0)} MB: ${per(nats1 - nats0).toFixed(1)} kB per connection (an idle device: its subscription; a JetStream consumer only while it has a backlog)`,
    );
    out(`  gateway + nats-server: ${connKb.toFixed(1)} kB per idle connection (target < 20 kB)`);
    out(
      `  counted from the fresh start instead (before registering, so registration's heap growth is included): ${per(gw1 + nats1 - fresh).toFixed(1)} kB per connection`,
    );
    if (snapBefore) {
      // After the RSS reading. The first snapshot was taken after gw0 and grew the gateway while
      // it was written, so a run with snapshots overstates the RSS figures above: quote the heap.
      out("  (with --heap-snapshot the RSS figures above include the first snapshot's own growth)");
      const snapAfter = await heapSnapshot(a.heapSnapshot!, gwPids[0]!);
      const perGateway = Math.round(opened / gateways);
      out(`  heap of gateway 0 (${snapBefore} -> ${snapAfter}), what ~${perGateway} sockets added:`);
      for (const line of heapSummary(snapBefore, snapAfter, perGateway)) out(`    ${line}`);
    }
    // The caller prints the last line (with ejabberd's figure added under --xmpp).
    return idleSummary(connKb);
  } finally {
    await Promise.all(
      workers.map(
        (w) =>
          new Promise<void>((r) => {
            if (w.exitCode !== null || !w.connected) return r();
            w.once('exit', () => r());
            w.send({ type: 'close' });
            setTimeout(() => {
              w.kill('SIGKILL');
              r();
            }, 5_000).unref();
          }),
      ),
    );
    await stopEnv(env);
  }
}

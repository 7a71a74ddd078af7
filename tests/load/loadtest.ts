import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  freePort,
  type RunningServer,
  repoRoot,
  type ServiceProcess,
  type Stack,
  startNats,
  startStack,
  waitReady,
} from '@hush/testkit';
import { LIMITS, type LoadArgs, parseArgs } from './args.js';
import { type LoadDevice, registerDevices } from './devices.js';
import { type PhaseOptions, type PhaseResult, runPhase } from './phase.js';
import { natsServerPid, totalRssKb } from './proc.js';
import { RawTransport } from './raw.js';
import { describePhase, lastLine } from './report.js';
import { GatewayTransport } from './ws-transport.js';

/**
 * `npm run loadtest`: the gateway under load beside the raw JetStream reference measured
 * by the same harness in the same run. Everything on loopback, bounded in count and time.
 * Progress goes to stderr; results to stdout, the machine-readable line last.
 */

const here = dirname(fileURLToPath(import.meta.url));
const out = (l: string) => process.stdout.write(`${l}\n`);
const err = (l: string) => process.stderr.write(`${l}\n`);

/**
 * Environment for the load stack. The per-device send limit (default 100/s, burst 200) and the
 * per-address registration limit (default 20 per 15 min) protect a public gateway from one abusive
 * device or address; here every device is on one loopback address and sends at load rates, so
 * both are raised. Everything else runs with its defaults.
 */
export const LOAD_STACK_ENV: Record<string, string> = {
  SEND_RATE: '100000',
  SEND_BURST: '100000',
  REGISTRATIONS_PER_ADDR: '1000000',
  LOGIN_FAILURES_PER_ADDR: '1000000',
  LOG_LEVEL: 'warn',
};

/** Between peak steps: let the previous step's stragglers drain (bounded). */
const PEAK_DRAIN_MS = 5_000;
/** The peak search stops after this many steps whatever happens (1 000 * 1.5^13 ≈ 194 000 msg/s). */
const MAX_PEAK_STEPS = 14;
/**
 * Descriptors one process may hold (`ulimit -n`). On this machine the soft and hard limits are both
 * 20 000 and a container denies raising them even to root, so it bounds sockets per process on both
 * ends: the connections mode spreads sockets over as many gateways and holder processes as needed.
 */
const FD_LIMIT = (() => {
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
/** Let RSS settle after the last socket opened before reading it. */
const SETTLE_MS = 3_000;

interface Env {
  stack?: Stack;
  nats?: RunningServer;
  natsUrl?: string;
  gatewayUrls: string[];
  streamName?: string;
  procs: Record<string, number[]>;
}

function header(a: LoadArgs): void {
  out(
    `# hush loadtest ${new Date().toISOString()} on ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
  );
  if (a.connections > 0) out(`# connections mode: up to ${a.connections} idle authenticated sockets on a fresh stack`);
  else if (a.findPeak) {
    out(
      `# peak search: ${a.devices} devices in pairs over ${a.gateways} gateway(s), body ${a.size} B, window ${a.window}; from ${a.peakStart} msg/s x${a.peakFactor} every ${a.peakStepSeconds} s until p99 > ${a.peakP99Ms} ms or messages back up`,
    );
  } else
    out(
      `# devices ${a.devices} in pairs over ${a.gateways} gateway(s), body ${a.size} B opaque random (base64 on the wire), window ${a.window} in flight, ${a.seconds} s + ${a.grace} s grace, rate ${a.rate > 0 ? a.rate : 'full load'}`,
    );
  const [l1, l5] = loadavg();
  out(
    `# load average ${l1!.toFixed(1)} (1 min), ${l5!.toFixed(1)} (5 min) before starting: the machine may be shared; compare gateway and raw from the same run, not across runs`,
  );
}

async function startEnv(a: LoadArgs, gateways: number): Promise<Env> {
  if (a.gatewayUrl) {
    const natsUrl = a.natsUrl;
    const natsPort = natsUrl ? Number(new URL(natsUrl.split(',')[0]!).port) : undefined;
    const np = natsPort ? natsServerPid(natsPort) : undefined;
    const env: Env = { gatewayUrls: a.gatewayUrl.split(','), procs: { nats: np ? [np] : [] } };
    if (natsUrl) env.natsUrl = natsUrl;
    return env;
  }
  const env: Record<string, string> = { ...LOAD_STACK_ENV };
  err(`starting stack: nats-server, redis-server, auth, keydir, presence, ${gateways} gateway(s)...`);
  // The broker is a private nats-server without nkey users: the raw reference publishes to its
  // own stream and subjects, which no Hush role may touch on a secured bus (the stack would
  // otherwise secure it). The gateway runs the same code either way; only the permission check
  // per subject differs, which the raw reference then skips as well.
  const nats = await startNats({ isolated: true, jetstream: true });
  // Node 20 refuses --cpu-prof in NODE_OPTIONS, so profiled gateways are spawned here with the flag.
  let stack: Stack;
  try {
    stack = await startStack({ gateways: a.cpuProf ? 0 : gateways, env, nats });
  } catch (e) {
    await nats.stop();
    throw e;
  }
  if (a.cpuProf) {
    for (let i = 0; i < gateways; i++) stack.gateways.push(await spawnProfiledGateway(stack, resolve(a.cpuProf), i));
  }
  const np = natsServerPid(stack.nats.port);
  return {
    stack,
    nats,
    natsUrl: stack.nats.url,
    gatewayUrls: stack.gatewayUrls,
    streamName: stack.env.STREAM_NAME!,
    procs: {
      gateway: stack.gateways.map((g) => g.proc.pid!).filter(Boolean),
      'nats-server': np ? [np] : [],
      'auth+keydir+presence': stack.services.map((s) => s.proc.pid!).filter(Boolean),
    },
  };
}

/** A gateway started like spawnService does, plus `--cpu-prof` (written when it exits on SIGTERM). */
async function spawnProfiledGateway(stack: Stack, dir: string, i: number): Promise<ServiceProcess> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const entry = join(repoRoot, 'services', 'gateway', 'src', 'main.ts');
  const proc = spawn(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', entry], {
    cwd: repoRoot,
    env: {
      ...(process.env as Record<string, string>),
      ...stack.env,
      PORT: String(port),
      GATEWAY_ID: `gwprof${i}_${port}`,
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  const sp: ServiceProcess = {
    name: 'gateway',
    proc,
    url,
    port,
    output: () => '',
    kill: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => proc.once('exit', () => r()));
      proc.kill(signal);
      const t = setTimeout(() => proc.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(t);
    },
  };
  await waitReady(url, 30_000, sp);
  err(`profiling gateway pid ${proc.pid} into ${dir}`);
  return sp;
}

async function stopEnv(env: Env): Promise<void> {
  await env.stack?.stop();
  await env.nats?.stop();
}

function phaseOpts(a: LoadArgs, env: Env, rate: number, seconds: number, tag: string): PhaseOptions {
  return {
    rate,
    seconds,
    graceSeconds: a.grace,
    window: a.window,
    size: a.size,
    procs: env.procs,
    runTag: tag,
    log: err,
  };
}

async function rawPhase(
  a: LoadArgs,
  env: Env,
  rate: number,
  seconds: number,
  tag: string,
  serial = false,
): Promise<PhaseResult | undefined> {
  if (a.noRaw || !env.natsUrl) return undefined;
  const o: { natsUrl: string; devices: number; tag: string; copyStream?: string } = {
    natsUrl: env.natsUrl,
    devices: a.devices,
    tag,
  };
  if (env.streamName) o.copyStream = env.streamName;
  const raw = await RawTransport.open(o);
  if (serial) {
    raw.serial = true;
    raw.name = 'raw, one publish in flight per sender';
  }
  err(`raw reference: ${raw.streamSettings}, ${a.devices} durable consumers`);
  try {
    const { gateway: _g, ...procs } = env.procs;
    return await runPhase(raw, { ...phaseOpts(a, env, rate, seconds, `r${tag}`), procs });
  } finally {
    await raw.close();
  }
}

function printPhase(r: PhaseResult | undefined): void {
  if (r) for (const l of describePhase(r)) out(l);
}

async function openGateway(
  a: LoadArgs,
  env: Env,
  tag: string,
): Promise<{ t: GatewayTransport; devices: LoadDevice[]; connKb: number }> {
  const t0 = performance.now();
  const devices = await registerDevices(env.gatewayUrls, a.devices, tag, err);
  err(
    `registered ${devices.length} devices in ${((performance.now() - t0) / 1000).toFixed(1)} s (before timing starts)`,
  );
  const memPids = [...(env.procs.gateway ?? []), ...(env.procs['nats-server'] ?? [])];
  const before = totalRssKb(memPids);
  const t = await GatewayTransport.open(devices, env.gatewayUrls);
  await new Promise((r) => setTimeout(r, 1_000));
  const after = totalRssKb(memPids);
  const connKb = memPids.length > 0 ? (after - before) / devices.length : Number.NaN;
  return { t, devices, connKb };
}

async function standard(a: LoadArgs, tag: string): Promise<void> {
  const env = await startEnv(a, a.gateways);
  try {
    const { t, connKb } = await openGateway(a, env, tag);
    let gw: PhaseResult;
    let closes = 0;
    try {
      err(`gateway phase: ${a.seconds} s`);
      gw = await runPhase(t, phaseOpts(a, env, a.rate, a.seconds, `g${tag}`));
      closes = t.closes;
    } finally {
      await t.close();
    }
    err(`raw phase: ${a.seconds} s`);
    const raw = await rawPhase(a, env, a.rate, a.seconds, tag);
    const rawSerial = a.rawSerial ? await rawPhase(a, env, a.rate, a.seconds, `${tag}s`, true) : undefined;
    printPhase(gw);
    out(`  sockets closed by the server during the run: ${closes}`);
    printPhase(raw);
    printPhase(rawSerial);
    const ratio = raw ? gw.rate / raw.rate : Number.NaN;
    out(`gateway/raw delivered-rate ratio: ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'} (target >= 0.6)`);
    out(
      `memory growth of gateway + nats-server per open socket (${a.devices} sockets, noisy at this count; see --connections): ${connKb.toFixed(1)} kB`,
    );
    out(
      lastLine({
        delivered: gw.delivered,
        lost: gw.lost,
        dup: gw.dup,
        rate: gw.rate,
        p50: gw.latency.p50,
        p99: gw.latency.p99,
        raw: raw?.rate ?? Number.NaN,
        connKb,
      }),
    );
  } finally {
    await stopEnv(env);
  }
}

/** --find-peak: 1 000 msg/s, x1.5 every step, until p99 passes the limit or messages back up. */
async function findPeak(a: LoadArgs, tag: string): Promise<void> {
  const env = await startEnv(a, a.gateways);
  try {
    const { t, connKb } = await openGateway(a, env, tag);
    const steps: PhaseResult[] = [];
    let peak: PhaseResult | undefined;
    let half: PhaseResult | undefined;
    try {
      let rate = a.peakStart;
      for (let i = 0; i < MAX_PEAK_STEPS; i++) {
        err(`peak step ${i + 1}: ${Math.round(rate)} msg/s for ${a.peakStepSeconds} s`);
        const r = await runPhase(t, {
          ...phaseOpts(a, env, Math.round(rate), a.peakStepSeconds, `p${i}${tag}`),
          graceSeconds: PEAK_DRAIN_MS / 1000,
        });
        steps.push(r);
        const ok = r.latency.p99 <= a.peakP99Ms && !r.backedUp && r.lost === 0;
        err(
          `  -> ${r.rate.toFixed(0)} msg/s delivered, p99 ${r.latency.p99.toFixed(1)} ms${r.backedUp ? ', backed up' : ''}${ok ? '' : ' (stop)'}`,
        );
        if (!ok) break;
        peak = r;
        rate *= a.peakFactor;
      }
      if (peak) {
        const halfRate = Math.round(peak.targetRate / 2);
        err(`half-peak check: ${halfRate} msg/s for ${a.peakStepSeconds} s`);
        half = await runPhase(t, phaseOpts(a, env, halfRate, a.peakStepSeconds, `h${tag}`));
      }
    } finally {
      await t.close();
    }
    err(`raw reference at full load: ${a.seconds} s`);
    const raw = await rawPhase(a, env, 0, a.seconds, tag);
    // The broker's own latency at the gateway's peak rate, for comparison.
    const rawAtPeak = peak ? await rawPhase(a, env, peak.targetRate, a.peakStepSeconds, `${tag}k`) : undefined;
    out('peak search (gateway):');
    for (const s of steps) {
      const gwCpu = s.usage.gateway;
      const cpu = gwCpu ? `, gateway cpu ${gwCpu.cpuPercent.toFixed(0)} %` : '';
      out(
        `  target ${s.targetRate} msg/s: delivered ${s.rate.toFixed(0)} msg/s, p50 ${s.latency.p50.toFixed(1)} ms, p99 ${s.latency.p99.toFixed(1)} ms, max ${s.latency.max.toFixed(1)} ms, lost ${s.lost}${s.backedUp ? ', backed up' : ''}${cpu}, loadgen cpu ${s.usage.loadgen?.cpuPercent.toFixed(0)} %`,
      );
    }
    if (peak) {
      out(`peak with p99 <= ${a.peakP99Ms} ms: ${peak.targetRate} msg/s (target >= 7 500)`);
      printPhase(peak);
    } else out(`no step held p99 <= ${a.peakP99Ms} ms`);
    if (half) {
      out(`half of the peak (${half.targetRate} msg/s): p99 ${half.latency.p99.toFixed(1)} ms (target < 50 ms)`);
      printPhase(half);
    }
    printPhase(raw);
    if (rawAtPeak) {
      out(
        `raw reference at the gateway's peak rate (${rawAtPeak.targetRate} msg/s): p99 ${rawAtPeak.latency.p99.toFixed(1)} ms`,
      );
      printPhase(rawAtPeak);
    }
    out(`ratio in the last line: gateway peak (p99 <= ${a.peakP99Ms} ms) / raw delivered rate at full load`);
    const lost = steps.reduce((n, s) => n + s.lost, 0) + (half?.lost ?? 0);
    const dup = steps.reduce((n, s) => n + s.dup, 0) + (half?.dup ?? 0);
    const delivered = steps.reduce((n, s) => n + s.delivered, 0) + (half?.delivered ?? 0);
    out(
      lastLine({
        delivered,
        lost,
        dup,
        rate: peak?.rate ?? 0,
        p50: peak?.latency.p50 ?? Number.NaN,
        p99: peak?.latency.p99 ?? Number.NaN,
        raw: raw?.rate ?? Number.NaN,
        connKb,
      }),
    );
  } finally {
    await stopEnv(env);
  }
}

/** --reference-only: the raw JetStream figures alone on a private nats-server. */
async function referenceOnly(a: LoadArgs, tag: string): Promise<void> {
  const nats = a.natsUrl ? undefined : await startNats({ isolated: true, jetstream: true });
  const natsUrl = a.natsUrl ?? nats!.url;
  const np = natsServerPid(Number(new URL(natsUrl.split(',')[0]!).port));
  const env: Env = { natsUrl, gatewayUrls: [], procs: { 'nats-server': np ? [np] : [] } };
  try {
    const raw = (await rawPhase(a, env, a.rate, a.seconds, tag))!;
    printPhase(raw);
    out('reference only: the gateway figures in the last line are the raw ones (ratio 1)');
    out(
      lastLine({
        delivered: raw.delivered,
        lost: raw.lost,
        dup: raw.dup,
        rate: raw.rate,
        p50: raw.latency.p50,
        p99: raw.latency.p99,
        raw: raw.rate,
        connKb: Number.NaN,
      }),
    );
  } finally {
    await nats?.stop();
  }
}

/**
 * --connections N: N idle authenticated sockets on a fresh stack; memory per connection is the
 * RSS growth of the gateways plus nats-server (each device's durable consumer costs broker memory
 * too) divided by the sockets open, measured from just before the first socket opens.
 */
async function connections(a: LoadArgs, tag: string): Promise<void> {
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
    const chunks: LoadDevice[][] = [];
    for (let i = 0; i < devices.length; i += CONNS_PER_WORKER) chunks.push(devices.slice(i, i + CONNS_PER_WORKER));
    const t1 = performance.now();
    const results = await Promise.all(
      chunks.map(
        (chunk) =>
          new Promise<{ opened: number; failed: number; firstError: string }>((resolveDone) => {
            const w = fork(join(here, 'conn-worker.ts'), [], {
              execArgv: ['--import', 'tsx'],
              stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
            });
            workers.push(w);
            let last = { opened: 0, failed: 0, firstError: 'deadline' };
            const deadline = setTimeout(() => resolveDone(last), connOpenDeadlineMs(n));
            w.on('message', (m: { type: string; opened: number; failed: number; firstError?: string }) => {
              last = { opened: m.opened, failed: m.failed, firstError: m.firstError ?? '' };
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
                  gateway: d.gateway,
                  localAddress: `127.0.0.${1 + (k % SOURCE_ADDRESSES)}`,
                })),
              },
            });
          }),
      ),
    );
    const opened = results.reduce((s, r) => s + r.opened, 0);
    const failed = results.reduce((s, r) => s + r.failed, 0);
    err(
      `opened ${opened} sockets (${failed} failed${failed ? `: ${results.find((r) => r.firstError)?.firstError}` : ''}) in ${((performance.now() - t1) / 1000).toFixed(0)} s`,
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
    out(
      lastLine({
        delivered: 0,
        lost: 0,
        dup: 0,
        rate: Number.NaN,
        p50: Number.NaN,
        p99: Number.NaN,
        raw: Number.NaN,
        connKb,
      }),
    );
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

async function main(): Promise<void> {
  let a: LoadArgs;
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (e) {
    err(e instanceof Error ? e.message : String(e));
    process.exit(2);
  }
  const tag = Date.now().toString(36);
  header(a);
  if (a.referenceOnly) await referenceOnly(a, tag);
  else if (a.connections > 0) await connections(a, tag);
  else if (a.findPeak) await findPeak(a, tag);
  else await standard(a, tag);
}

await main().then(
  () => process.exit(0),
  (e: unknown) => {
    err(`loadtest failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);

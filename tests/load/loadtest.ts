import { cpus, loadavg, totalmem } from 'node:os';
import { startNats } from '@hush/testkit';
import { type LoadArgs, parseArgs } from './args.js';
import { connections } from './connections.js';
import { type LoadDevice, registerDevices } from './devices.js';
import { type PhaseOptions, type PhaseResult, runPhase } from './phase.js';
import { natsServerPid, totalRssKb } from './proc.js';
import { RawTransport } from './raw.js';
import { describePhase, err, lastLine, out } from './report.js';
import { type Env, startEnv, stopEnv } from './stack-env.js';
import { GatewayTransport } from './ws-transport.js';

/**
 * `npm run loadtest`: the gateway under load beside the raw JetStream reference measured
 * by the same harness in the same run. Everything on loopback, bounded in count and time.
 * Progress goes to stderr; results to stdout, the machine-readable line last.
 */

/** Between peak steps: let the previous step's stragglers drain (bounded). */
const PEAK_DRAIN_MS = 5_000;
/** The peak search stops after this many steps whatever happens (1 000 * 1.5^13 ≈ 194 000 msg/s). */
const MAX_PEAK_STEPS = 14;
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

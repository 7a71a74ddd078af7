import { cpus, loadavg, totalmem } from 'node:os';
import { startNats } from '@hush/testkit';
import { type LoadArgs, parseArgs, phaseOptions } from './args.js';
import { connections } from './connections.js';
import { type LoadDevice, registerDevices } from './devices.js';
import { type PeakSearch, searchPeak } from './peak.js';
import { type PhaseOptions, type PhaseResult, runPhase } from './phase.js';
import { natsServerPid, totalRssKb } from './proc.js';
import { RawTransport } from './raw.js';
import { describePeak, describePhase, err, lastLine, out, type Summary } from './report.js';
import { type Env, startEnv, stopEnv } from './stack-env.js';
import { GatewayTransport } from './ws-transport.js';
import { xmppConnections, xmppFullLoad, xmppHeader, xmppPeak } from './xmpp-phases.js';
import { ejabberdInstalled, INSTALL_HINT } from './xmpp-server.js';

/**
 * `npm run loadtest`: the gateway under load beside the raw JetStream reference measured
 * by the same harness in the same run, and with --xmpp a private ejabberd after them. Everything
 * on loopback, bounded in count and time.
 * Progress goes to stderr; results to stdout, the machine-readable line last.
 */

/**
 * The goals printed beside the figures (docs/BENCHMARKS.md, "Issue 12 targets"): the peak at least
 * the XMPP server's in the same run (`--xmpp`), stretch 10 000 msg/s; p99 < 50 ms at half the peak;
 * the full-load rate at least 0.9 of the raw reference's.
 */
const PEAK_TARGETS = { peak: "(target: >= ejabberd's with --xmpp; stretch 10 000)", half: '(target < 50 ms)' };

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
  if (a.xmpp) out(xmppHeader());
  const [l1, l5] = loadavg();
  out(
    `# load average ${l1!.toFixed(1)} (1 min), ${l5!.toFixed(1)} (5 min) before starting: the machine may be shared; compare gateway and raw from the same run, not across runs`,
  );
}

function phaseOpts(a: LoadArgs, env: Env, rate: number, seconds: number, tag: string): PhaseOptions {
  return phaseOptions(a, env.procs, rate, seconds, tag, err);
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
  let gw: PhaseResult;
  let closes = 0;
  let connKb: number;
  let raw: PhaseResult | undefined;
  let rawSerial: PhaseResult | undefined;
  try {
    const opened = await openGateway(a, env, tag);
    connKb = opened.connKb;
    try {
      err(`gateway phase: ${a.seconds} s`);
      gw = await runPhase(opened.t, phaseOpts(a, env, a.rate, a.seconds, `g${tag}`));
      closes = opened.t.closes;
    } finally {
      await opened.t.close();
    }
    err(`raw phase: ${a.seconds} s`);
    raw = await rawPhase(a, env, a.rate, a.seconds, tag);
    rawSerial = a.rawSerial ? await rawPhase(a, env, a.rate, a.seconds, `${tag}s`, true) : undefined;
  } finally {
    await stopEnv(env);
  }
  // ejabberd runs once the stack has stopped: the two servers never share the machine.
  const x = a.xmpp ? await xmppFullLoad(a, tag) : undefined;
  printPhase(gw);
  out(`  sockets closed by the server during the run: ${closes}`);
  printPhase(raw);
  printPhase(rawSerial);
  const ratio = raw ? gw.rate / raw.rate : Number.NaN;
  out(`gateway/raw delivered-rate ratio: ${Number.isFinite(ratio) ? ratio.toFixed(2) : 'n/a'} (target >= 0.9)`);
  out(
    `memory growth of gateway + nats-server per open socket (${a.devices} sockets, noisy at this count; see --connections): ${connKb.toFixed(1)} kB`,
  );
  if (x) {
    printPhase(x.result);
    out(`  sessions closed by ejabberd during the run: ${x.closes}`);
    out(
      `gateway/ejabberd delivered-rate ratio: ${(gw.rate / x.result.rate).toFixed(2)} (ejabberd stores nothing; the target is on the peak)`,
    );
    out(
      `memory growth of ejabberd (beam.smp) per open session (${a.devices} sessions, noisy at this count): ${x.connKb.toFixed(1)} kB`,
    );
  }
  const summary: Summary = {
    delivered: gw.delivered,
    lost: gw.lost,
    dup: gw.dup,
    rate: gw.rate,
    p50: gw.latency.p50,
    p99: gw.latency.p99,
    raw: raw?.rate ?? Number.NaN,
    connKb,
  };
  if (x) summary.xmpp = { rate: x.result.rate, connKb: x.connKb };
  out(lastLine(summary));
}

/** --find-peak: the same steps on the gateway and (with --xmpp) on ejabberd; raw at full load for scale. */
async function findPeak(a: LoadArgs, tag: string): Promise<void> {
  const env = await startEnv(a, a.gateways);
  let gw: PeakSearch;
  let connKb: number;
  let raw: PhaseResult | undefined;
  let rawAtPeak: PhaseResult | undefined;
  try {
    const opened = await openGateway(a, env, tag);
    connKb = opened.connKb;
    try {
      gw = await searchPeak(opened.t, a, (rate, seconds, tg) => phaseOpts(a, env, rate, seconds, tg), tag, err);
    } finally {
      await opened.t.close();
    }
    err(`raw reference at full load: ${a.seconds} s`);
    raw = await rawPhase(a, env, 0, a.seconds, tag);
    // The broker's own latency at the gateway's peak rate, for comparison.
    rawAtPeak = gw.peak ? await rawPhase(a, env, gw.peak.targetRate, a.peakStepSeconds, `${tag}k`) : undefined;
  } finally {
    await stopEnv(env);
  }
  const x = a.xmpp ? await xmppPeak(a, tag) : undefined;
  for (const l of describePeak('gateway', 'gateway', gw, a.peakP99Ms, PEAK_TARGETS)) out(l);
  printPhase(raw);
  if (rawAtPeak) {
    out(
      `raw reference at the gateway's peak rate (${rawAtPeak.targetRate} msg/s): p99 ${rawAtPeak.latency.p99.toFixed(1)} ms`,
    );
    printPhase(rawAtPeak);
  }
  if (x) {
    for (const l of describePeak('ejabberd', 'ejabberd', x.search, a.peakP99Ms, undefined)) out(l);
    const name = (r: PeakSearch) => (r.peak ? `${r.peak.targetRate} msg/s` : 'none');
    out(
      `peak with p99 <= ${a.peakP99Ms} ms, same steps, same run: gateway ${name(gw)}, ejabberd ${name(x.search)} (target: gateway >= ejabberd)`,
    );
  }
  out(`ratio in the last line: gateway peak (p99 <= ${a.peakP99Ms} ms) / raw delivered rate at full load`);
  if (x)
    out('xmpp in the last line: ejabberd delivered rate at its peak step; xmpp_ratio: gateway peak / ejabberd peak');
  const all = [...gw.steps, ...(gw.half ? [gw.half] : [])];
  const summary: Summary = {
    delivered: all.reduce((n, s) => n + s.delivered, 0),
    lost: all.reduce((n, s) => n + s.lost, 0),
    dup: all.reduce((n, s) => n + s.dup, 0),
    rate: gw.peak?.rate ?? 0,
    p50: gw.peak?.latency.p50 ?? Number.NaN,
    p99: gw.peak?.latency.p99 ?? Number.NaN,
    raw: raw?.rate ?? Number.NaN,
    connKb,
  };
  if (x) summary.xmpp = { rate: x.search.peak?.rate ?? 0, connKb: x.connKb };
  out(lastLine(summary));
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
  if (a.xmpp && !ejabberdInstalled()) {
    err(INSTALL_HINT);
    process.exit(2);
  }
  const tag = Date.now().toString(36);
  header(a);
  if (a.referenceOnly) await referenceOnly(a, tag);
  else if (a.connections > 0) {
    const summary = await connections(a, tag);
    if (a.xmpp) summary.xmpp = { rate: Number.NaN, connKb: await xmppConnections(a.connections, tag) };
    out(lastLine(summary));
  } else if (a.findPeak) await findPeak(a, tag);
  else await standard(a, tag);
}

await main().then(
  () => process.exit(0),
  (e: unknown) => {
    err(`loadtest failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.exit(1);
  },
);

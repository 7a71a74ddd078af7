import type { PeakSearch } from './peak.js';
import type { PhaseResult } from './phase.js';
import { OTHERS } from './proc.js';

/** Human-readable lines and the machine-readable last line of `npm run loadtest`. */

const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : 'n/a');
const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : 'n/a');
const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : 'n/a');

export function describePhase(r: PhaseResult): string[] {
  const lines = [
    `${r.transport}: target ${r.targetRate > 0 ? `${r.targetRate} msg/s` : 'full load'} for ${r.seconds} s`,
    `  delivered ${r.delivered} of ${r.sent} sent (${r.accepted} accepted, ${r.rejected} rejected, ${r.unanswered} unanswered); ${f0(r.rate)} msg/s in the window`,
    `  latency send->receive: p50 ${f1(r.latency.p50)} ms, p95 ${f1(r.latency.p95)} ms, p99 ${f1(r.latency.p99)} ms, max ${f1(r.latency.max)} ms`,
    `  lost (accepted, never delivered) ${r.lost}; redelivered ids (seen twice on the wire, removed by client dedupe) ${r.dup}; unknown ids ${r.unknown}`,
  ];
  if (r.targetRate > 0)
    lines.push(
      `  largest backlog (scheduled, not sent: window full) ${r.maxBacklog}${r.backedUp ? ' — BACKED UP' : ''}`,
    );
  const delivered = Math.max(1, r.delivered);
  for (const [k, u] of Object.entries(r.usage)) {
    if (k === OTHERS) {
      lines.push(`  cpu of everything else on the machine meanwhile: ${f0(u.cpuPercent)} % of one core`);
      continue;
    }
    lines.push(
      `  cpu ${k}: ${f2(u.cpuSeconds)} s (${f0(u.cpuPercent)} % of one core), ${f1((u.cpuSeconds * 1e6) / delivered)} µs per delivered message; rss ${f0(u.rssKb / 1024)} MB`,
    );
  }
  if (Object.keys(r.rejectCodes).length > 0) lines.push(`  reject codes: ${JSON.stringify(r.rejectCodes)}`);
  if (r.lostSample.length > 0) lines.push(`  lost ids (sample): ${r.lostSample.join(' ')}`);
  return lines;
}

/**
 * The peak search of one path: each step, the peak and the half-peak check. `server` names the
 * process group whose CPU each step line shows (`gateway`, `ejabberd`); `targets` adds the
 * issue's goals to the gateway's lines.
 */
export function describePeak(
  name: string,
  server: string,
  r: PeakSearch,
  p99Ms: number,
  targets: { peak: string; half: string } | undefined,
): string[] {
  const lines = [`peak search (${name}):`];
  for (const s of r.steps) {
    const cpu = s.usage[server] ? `, ${server} cpu ${s.usage[server].cpuPercent.toFixed(0)} %` : '';
    lines.push(
      `  target ${s.targetRate} msg/s: delivered ${s.rate.toFixed(0)} msg/s, p50 ${s.latency.p50.toFixed(1)} ms, p99 ${s.latency.p99.toFixed(1)} ms, max ${s.latency.max.toFixed(1)} ms, lost ${s.lost}${s.backedUp ? ', backed up' : ''}${cpu}, loadgen cpu ${s.usage.loadgen?.cpuPercent.toFixed(0)} %`,
    );
  }
  const named = targets ? '' : ` (${name})`;
  if (r.peak) {
    lines.push(`peak with p99 <= ${p99Ms} ms${named}: ${r.peak.targetRate} msg/s${targets ? ` ${targets.peak}` : ''}`);
    lines.push(...describePhase(r.peak));
  } else lines.push(`no step held p99 <= ${p99Ms} ms${named}`);
  if (r.half) {
    lines.push(
      `half of the peak${named} (${r.half.targetRate} msg/s): p99 ${r.half.latency.p99.toFixed(1)} ms${targets ? ` ${targets.half}` : ''}`,
    );
    lines.push(...describePhase(r.half));
  }
  return lines;
}

export interface Summary {
  delivered: number;
  lost: number;
  dup: number;
  rate: number;
  p50: number;
  p99: number;
  raw: number;
  connKb: number;
  /** With `--xmpp` only: ejabberd's delivered rate (its peak with --find-peak) and memory per socket. */
  xmpp?: { rate: number; connKb: number };
}

/** The summary of a run that sent no messages (the connections mode): only memory per connection. */
export function idleSummary(connKb: number): Summary {
  const nan = Number.NaN;
  return { delivered: 0, lost: 0, dup: 0, rate: nan, p50: nan, p99: nan, raw: nan, connKb };
}

/**
 * The last line, exactly:
 * `loadtest delivered=<n> lost=<n> dup=<n> rate=<msgs/s> p50=<ms> p99=<ms> raw=<msgs/s> ratio=<x> conn_kb=<kB>`
 * and with `--xmpp`, at the end: ` xmpp=<msgs/s> xmpp_ratio=<gateway/xmpp> xmpp_conn_kb=<kB>`.
 * Unmeasured figures print as `nan` so the line keeps its shape.
 */
export function lastLine(s: Summary): string {
  const num = (n: number, d: number) => (Number.isFinite(n) ? n.toFixed(d) : 'nan');
  const over = (a: number, b: number) => (b > 0 && Number.isFinite(b) ? a / b : Number.NaN);
  const line = `loadtest delivered=${s.delivered} lost=${s.lost} dup=${s.dup} rate=${num(s.rate, 0)} p50=${num(s.p50, 1)} p99=${num(s.p99, 1)} raw=${num(s.raw, 0)} ratio=${num(over(s.rate, s.raw), 2)} conn_kb=${num(s.connKb, 1)}`;
  if (!s.xmpp) return line;
  return `${line} xmpp=${num(s.xmpp.rate, 0)} xmpp_ratio=${num(over(s.rate, s.xmpp.rate), 2)} xmpp_conn_kb=${num(s.xmpp.connKb, 1)}`;
}

export const LAST_LINE_RE =
  /^loadtest delivered=\d+ lost=\d+ dup=\d+ rate=(\d+|nan) p50=([\d.]+|nan) p99=([\d.]+|nan) raw=(\d+|nan) ratio=([\d.]+|nan) conn_kb=([\d.]+|nan)( xmpp=(\d+|nan) xmpp_ratio=([\d.]+|nan) xmpp_conn_kb=([\d.]+|nan))?$/;

/** Results and the machine-readable line go to stdout. */
export const out = (l: string) => process.stdout.write(`${l}\n`);
/** Progress goes to stderr. */
export const err = (l: string) => process.stderr.write(`${l}\n`);

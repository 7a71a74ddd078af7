import type { PhaseResult } from './phase.js';

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
    lines.push(
      `  cpu ${k}: ${f2(u.cpuSeconds)} s (${f0(u.cpuPercent)} % of one core), ${f1((u.cpuSeconds * 1e6) / delivered)} µs per delivered message; rss ${f0(u.rssKb / 1024)} MB`,
    );
  }
  if (Object.keys(r.rejectCodes).length > 0) lines.push(`  reject codes: ${JSON.stringify(r.rejectCodes)}`);
  if (r.lostSample.length > 0) lines.push(`  lost ids (sample): ${r.lostSample.join(' ')}`);
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
}

/**
 * The last line, exactly:
 * `loadtest delivered=<n> lost=<n> dup=<n> rate=<msgs/s> p50=<ms> p99=<ms> raw=<msgs/s> ratio=<x> conn_kb=<kB>`
 * Unmeasured figures print as `nan` so the line keeps its shape.
 */
export function lastLine(s: Summary): string {
  const num = (n: number, d: number) => (Number.isFinite(n) ? n.toFixed(d) : 'nan');
  const ratio = s.raw > 0 && Number.isFinite(s.raw) ? s.rate / s.raw : Number.NaN;
  return `loadtest delivered=${s.delivered} lost=${s.lost} dup=${s.dup} rate=${num(s.rate, 0)} p50=${num(s.p50, 1)} p99=${num(s.p99, 1)} raw=${num(s.raw, 0)} ratio=${num(ratio, 2)} conn_kb=${num(s.connKb, 1)}`;
}

export const LAST_LINE_RE =
  /^loadtest delivered=\d+ lost=\d+ dup=\d+ rate=(\d+|nan) p50=([\d.]+|nan) p99=([\d.]+|nan) raw=(\d+|nan) ratio=([\d.]+|nan) conn_kb=([\d.]+|nan)$/;

/** Results and the machine-readable line go to stdout. */
export const out = (l: string) => process.stdout.write(`${l}\n`);
/** Progress goes to stderr. */
export const err = (l: string) => process.stderr.write(`${l}\n`);

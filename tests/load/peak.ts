import type { LoadArgs } from './args.js';
import { type LoadTransport, type PhaseOptions, type PhaseResult, runPhase } from './phase.js';

/**
 * The peak search of `--find-peak`, the same steps for every path (gateway, ejabberd): from
 * `--peak-start` msg/s, x`--peak-factor` every `--peak-step-seconds`, until p99 passes
 * `--peak-p99`, a message is lost or the schedule backs up; then half of the peak as a check.
 */

/** Between peak steps: let the previous step's stragglers drain (bounded). */
export const PEAK_DRAIN_MS = 5_000;
/** The peak search stops after this many steps whatever happens (1 000 * 1.5^13 ≈ 194 000 msg/s). */
export const MAX_PEAK_STEPS = 14;

export interface PeakSearch {
  steps: PhaseResult[];
  /** The last step that held the limits. */
  peak?: PhaseResult;
  /** Half of the peak's rate, for as long as one step. */
  half?: PhaseResult;
}

export async function searchPeak(
  t: LoadTransport,
  a: LoadArgs,
  opts: (rate: number, seconds: number, tag: string) => PhaseOptions,
  tag: string,
  log: (l: string) => void,
): Promise<PeakSearch> {
  const steps: PhaseResult[] = [];
  let peak: PhaseResult | undefined;
  let rate = a.peakStart;
  for (let i = 0; i < MAX_PEAK_STEPS; i++) {
    log(`[${t.name}] peak step ${i + 1}: ${Math.round(rate)} msg/s for ${a.peakStepSeconds} s`);
    const r = await runPhase(t, {
      ...opts(Math.round(rate), a.peakStepSeconds, `p${i}${tag}`),
      graceSeconds: PEAK_DRAIN_MS / 1000,
    });
    steps.push(r);
    const ok = r.latency.p99 <= a.peakP99Ms && !r.backedUp && r.lost === 0;
    log(
      `  -> ${r.rate.toFixed(0)} msg/s delivered, p99 ${r.latency.p99.toFixed(1)} ms${r.backedUp ? ', backed up' : ''}${ok ? '' : ' (stop)'}`,
    );
    if (!ok) break;
    peak = r;
    rate *= a.peakFactor;
  }
  if (!peak) return { steps };
  const halfRate = Math.round(peak.targetRate / 2);
  log(`[${t.name}] half-peak check: ${halfRate} msg/s for ${a.peakStepSeconds} s`);
  const half = await runPhase(t, opts(halfRate, a.peakStepSeconds, `h${tag}`));
  return { steps, peak, half };
}
